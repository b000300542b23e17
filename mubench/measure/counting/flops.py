"""MACs and FLOPs per denoiser call and per trajectory, counted by fvcore and cross-checked by torch."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from mubench.errors import MeasurementError, UsageError, opt
from mubench.measure.counting.counters import TIERS, count_fvcore, count_torch
from mubench.measure.counting.live_memory import peak_live_bytes
from mubench.measure.counting.params import count_parameters
from mubench.measure.counting.traffic import OpCall, by_module, op_calls, tensor_bytes, total, weights_bytes
from mubench.measure.runtime.build import NUM_DIFFUSION_STEPS, build_model, example_inputs, load_given_weights
from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
from mubench.models.solver_config import SolverConfig
from mubench.ranges import check_numbers
from mubench.registry import get_spec
from mubench.results import environment, make_row

XCHECK_TOLERANCE = 0.01  # |torch / fvcore - 1| beyond this is flagged: both count the same ops


@dataclass(frozen=True)
class FlopConditions:
    """Conditions of a count; all models compared in one run share them."""

    resolution: int | None = None  # input side in px; None = the model's default
    batch_size: int = 1
    channels: int | None = None  # None = the model's default
    steps: int = 1  # denoiser calls per trajectory
    seed: int = 0
    tier: str = "matmul"  # "matmul" or "all" (adds norms, resampling, elementwise ops)
    solver: SolverConfig | None = None  # ODE models; None = each model's default
    nfe_samples: int = 8  # inputs/timesteps over which adaptive solvers' NFE is sampled
    depth: int = 0  # per-module breakdown down to this depth (0 = none)
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model name, path): weights to count with
    weights: str = "ema"  # a Trainer checkpoint's ema or raw weights

    def __post_init__(self) -> None:
        numbers = ("steps", "batch_size", "depth", "channels", "resolution", "seed")
        check_numbers({name: getattr(self, name) for name in numbers if getattr(self, name) is not None})
        if self.tier not in TIERS:
            raise UsageError(f"{opt('tier')} must be one of {', '.join(TIERS)}, got '{self.tier}'")


def _state_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> bool:
    state = model.state_dict()
    return state.keys() == snapshot.keys() and all(torch.equal(state[k], v) for k, v in snapshot.items())


def _nfe_of_call(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> tuple[int, dict[str, int]]:
    reset_nfe(model)
    with torch.no_grad():
        model(x, t)
    per_block = nfe_by_block(model)
    return sum(per_block.values()), per_block


def _nfe_distribution(model: nn.Module, conds: FlopConditions, channels: int, resolution: int) -> list[int]:
    """NFE of one call for ``nfe_samples`` inputs, with t spread over [0, T)."""
    counts = []
    for i in range(conds.nfe_samples):
        x, _ = example_inputs(conds.batch_size, channels, resolution, conds.seed + 1 + i)
        t = torch.full((conds.batch_size,), (2 * i + 1) * NUM_DIFFUSION_STEPS // (2 * conds.nfe_samples))
        counts.append(_nfe_of_call(model, x, t)[0])
    return counts


def measure_flops(
    model_name: str, conds: FlopConditions, run_id: str
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Count one denoiser call of ``model_name`` with fvcore and torch.

    Returns two rows (``counter`` = ``fvcore`` and ``torch``) and, when ``conds.depth`` > 0, a per-module
    breakdown (module, depth, macs, share). fvcore's figures are MACs; torch's are FLOPs; each row
    carries both, one of them derived (x2 or /2), and ``xcheck_ratio`` = torch FLOPs / (2 x fvcore MACs)
    over the ops both count.
    """
    spec = get_spec(model_name)
    resolution = conds.resolution if conds.resolution is not None else spec.resolution
    spec.check_resolution(resolution)
    channels = conds.channels if conds.channels is not None else spec.channels
    model = build_model(spec, channels, conds.solver, conds.seed)
    load_given_weights(model, model_name, conds.checkpoints, conds.weights)  # adaptive NFE depends on them
    solver_cfg = getattr(model, "solver", None) if has_ode_blocks(model) else None
    x, t = example_inputs(conds.batch_size, channels, resolution, conds.seed)
    snapshot = _state_snapshot(model)

    with torch.no_grad():
        fv = count_fvcore(model, (x, t), conds.tier)
        tc = count_torch(model, (x, t))
        traffic = _traffic(model, x, t)
    if tc.output_shape != tuple(x.shape):  # not a denoiser of these images: its count means nothing
        got = f"shape {tc.output_shape}" if tc.output_shape is not None else "no tensor"
        raise MeasurementError(f"model '{model_name}' returned {got} for an input of shape {tuple(x.shape)}")
    nfe, per_block = _nfe_of_call(model, x, t) if solver_cfg else (None, {})
    if not _same_state(model, snapshot):
        raise MeasurementError(
            f"counting changed the state of model '{model_name}'; its numbers are not trusted"
        )

    nfe_samples = (
        [nfe, *_nfe_distribution(model, conds, channels, resolution)]
        if solver_cfg and solver_cfg.adaptive
        else []
    )
    ratio = tc.flops / (2 * fv.matmul_macs) if fv.matmul_macs else float("nan")
    message = ""
    if abs(ratio - 1) > XCHECK_TOLERANCE:
        message = f"fvcore and torch disagree: torch/fvcore = {ratio:.4f} over the ops both count"
        if solver_cfg and solver_cfg.adaptive:
            message += (
                " (expected with adaptive solvers: fvcore's trace drops evaluations that only steer the"
                " step size; torch's count is of the executed ops)"
            )
    if solver_cfg and solver_cfg.adaptive:
        message = (message + "; " if message else "") + (
            "adaptive solver: NFE varies with input and t (nfe_min..nfe_max); per-trajectory figures "
            "assume the counted call's NFE at every step"
        )
    common = dict(
        model=model_name,
        batch_size=conds.batch_size,
        resolution=resolution,
        steps=conds.steps,
        solver=solver_cfg.describe() if solver_cfg else None,
        solver_default=solver_cfg is None
        or solver_cfg.describe() == SolverConfig(**(spec.solver or {})).describe(),
        seed=conds.seed,
        message=message,
        channels=channels,
        tier=conds.tier,
        nfe=nfe,
        nfe_min=min(nfe_samples) if nfe_samples else nfe,
        nfe_median=statistics.median(nfe_samples) if nfe_samples else nfe,
        nfe_max=max(nfe_samples) if nfe_samples else nfe,
        nfe_per_block=",".join(str(v) for v in per_block.values()) or None,
        nfe_per_trajectory=nfe * conds.steps if nfe is not None else None,
        params_total=count_parameters(model)["params_total"],
        **environment("cpu"),
        paper_macs=spec.paper_macs,
        xcheck_ratio=ratio,
        bytes_min=traffic.bytes_min,
        bytes_unfused=traffic.bytes_unfused,
        weights_mib=traffic.weights_bytes / 2**20,
        peak_activation_mib=traffic.peak_activation_bytes / 2**20,
    )
    # MACs are multiply-accumulates only; the 'all' tier's other ops (norms, resampling, elementwise)
    # are counted once each in elementwise_ops and added to flops, never doubled.
    other = fv.by_category["other"] if conds.tier == "all" else None
    fv_flops = 2 * fv.matmul_macs + (other or 0)
    fv_row = make_row(
        "flops",
        run_id,
        counter="fvcore",
        macs=fv.matmul_macs,
        flops=fv_flops,
        **{f"macs_{k}": fv.by_category[k] for k in ("conv", "linear", "attention")},
        elementwise_ops=other,
        macs_per_trajectory=fv.matmul_macs * conds.steps,
        flops_per_trajectory=fv_flops * conds.steps,
        coverage=fv.coverage,
        unsupported_ops="; ".join(f"{op} x{n}" for op, n in sorted(fv.unsupported.items())),
        **common,
        **traffic.intensities(fv_flops),
    )
    torch_row = make_row(
        "flops",
        run_id,
        counter="torch",
        macs=tc.flops // 2,
        flops=tc.flops,
        **{f"macs_{k}": tc.by_category[k] // 2 for k in ("conv", "linear", "attention")},
        elementwise_ops=None,
        macs_per_trajectory=tc.flops // 2 * conds.steps,
        flops_per_trajectory=tc.flops * conds.steps,
        coverage=None,
        unsupported_ops=None,
        **{**common, "tier": "matmul"},
        **traffic.intensities(tc.flops),
    )
    module_bytes = {name: cost.bytes for name, cost in by_module(traffic.calls).items()}
    return [fv_row, torch_row], _breakdown(model_name, fv.by_module, fv.macs, module_bytes, conds.depth)


@dataclass
class _Traffic:
    calls: list[OpCall]  # every aten operator of one call
    bytes_min: int
    bytes_unfused: int
    weights_bytes: int
    peak_activation_bytes: int

    def intensities(self, flops: int) -> dict[str, float]:
        unfused = flops / self.bytes_unfused if self.bytes_unfused else float("nan")
        return {"arithmetic_intensity_min": flops / self.bytes_min, "arithmetic_intensity_unfused": unfused}


def _traffic(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> _Traffic:
    """Bytes moved by one call of ``model`` (per aten operator, and at least) and its peak live tensors."""
    found: dict[str, Any] = {}

    def run() -> None:
        found["out"] = model(x, t)

    def call() -> None:
        found["calls"] = op_calls(run, model)

    peak = peak_live_bytes(call)
    weights = weights_bytes(model)
    minimum = weights + tensor_bytes(x) + tensor_bytes(t) + tensor_bytes(found["out"])
    return _Traffic(found["calls"], minimum, total(found["calls"]).bytes, weights, peak)


def _breakdown(
    model_name: str, by_module: dict[str, int], total: int, module_bytes: dict[str, int], depth: int
) -> pd.DataFrame:
    """MACs (fvcore) and unfused bytes (aten operators) per module down to ``depth``, with their shares."""
    rows = []
    all_bytes = module_bytes.get("", 0)
    for name in dict.fromkeys([*by_module, *module_bytes]):
        level = 0 if name == "" else name.count(".") + 1
        macs, moved = by_module.get(name, 0), module_bytes.get(name, 0)
        if 0 < level <= depth and (macs or moved):
            rows.append({"model": model_name, "module": name, "depth": level, "macs": macs,
                         "share": macs / total if total else None, "bytes_unfused": moved,
                         "bytes_share": moved / all_bytes if all_bytes else None})  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "module", "depth", "macs", "share", "bytes_unfused",
                                       "bytes_share"])  # fmt: skip
