"""The claims table: each claim of the paper, its figures, what the rows measured, and a computed verdict.

Each claim is judged by its measurement's module (:mod:`mubench.report.measurements`) from the result rows;
nothing measured is ever a constant here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd

from mubench.report.measurements.convergence import convergence_claim
from mubench.report.measurements.fid import sample_quality_claim
from mubench.report.measurements.flops import macs_claim
from mubench.report.measurements.latency import latency_claim
from mubench.report.measurements.params import params_claim
from mubench.report.measurements.robustness import robustness_claim
from mubench.report.verdicts import Claim

COLUMNS = {
    "claim": "claim",
    "paper": "paper",
    "authors_code": "authors' code",
    "measured": "measured",
    "conditions": "conditions",
    "verdict": "verdict",
    "rule": "rule",
}


def evaluate_claims(rows: pd.DataFrame) -> list[Claim]:
    """Every claim of the paper, judged from ``rows`` (all commands; only ok rows count)."""
    return [
        params_claim(rows),
        macs_claim(rows),
        latency_claim(rows),
        robustness_claim(rows),
        convergence_claim(rows),
        sample_quality_claim(rows),
    ]


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a table with readable column names (no ``key``)."""
    frame = pd.DataFrame([asdict(claim) for claim in claims])
    return frame[list(COLUMNS)].rename(columns=COLUMNS)
