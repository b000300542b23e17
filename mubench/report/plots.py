"""The report's figures, by name: each a function of the result rows that returns PNG bytes, or None when
its rows are absent. Each is drawn by its measurement's module (:mod:`mubench.report.measurements`) from
the same rows as its tables; none measures.
"""

from __future__ import annotations

from mubench.report.measurements.convergence import quality_vs_steps
from mubench.report.measurements.cost import cost_quality
from mubench.report.measurements.fid import fid_vs_steps, fid_vs_time
from mubench.report.measurements.flops import params_macs
from mubench.report.measurements.latency import latency_plot
from mubench.report.measurements.profile import profile_plot
from mubench.report.measurements.robustness import quality_vs_sigma
from mubench.report.measurements.training import training_loss, training_psnr_steps, training_psnr_tmacs

__all__ = [
    "PLOTS",
    "cost_quality",
    "fid_vs_steps",
    "fid_vs_time",
    "latency_plot",
    "params_macs",
    "profile_plot",
    "quality_vs_sigma",
    "quality_vs_steps",
    "training_loss",
    "training_psnr_steps",
    "training_psnr_tmacs",
]

PLOTS = {
    "params_macs": params_macs,
    "latency": latency_plot,
    "profile": profile_plot,
    "quality_vs_sigma": quality_vs_sigma,
    "quality_vs_steps": quality_vs_steps,
    "cost_quality": cost_quality,
    "fid_vs_steps": fid_vs_steps,
    "fid_vs_time": fid_vs_time,
    "training_psnr_steps": training_psnr_steps,
    "training_psnr_tmacs": training_psnr_tmacs,
    "training_loss": training_loss,
}
