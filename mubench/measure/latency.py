"""Inference latency per denoiser call and per reverse trajectory, under fixed, fair, recorded conditions.

Protocol: every model in a run shares every condition; each is built, moved, optionally compiled and
warmed up (a minimum number of calls, then until stable); per-call samples and whole trajectories are
then taken round-robin across the models so that drift of the machine hits all alike. CUDA events
time GPU work; ``perf_counter`` times CPU work (the calls are synchronous there). Inference mode
throughout; reduced precision runs under autocast.

This module holds the conditions and runs the measurement in order; the steps are in
:mod:`mubench.measure.inference` (preparing one model), :mod:`mubench.measure.round_robin` (timing)
and :mod:`mubench.measure.latency_rows` (the rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from mubench.diffusion.samplers import Sampler
from mubench.errors import UsageError, opt
from mubench.measure.compile_options import CompileOptions, describe_compile_options
from mubench.measure.device import NumericFlags, check_dtype_name, dtype_name, resolve_device, resolve_dtype
from mubench.measure.inference import prepare
from mubench.measure.latency_rows import add_ratios, latency_rows
from mubench.measure.machine_state import busy_warning, machine_state
from mubench.measure.prefault import Prefaulter
from mubench.measure.prepack import check_prepack_available
from mubench.measure.rates import device_rates
from mubench.measure.round_robin import Candidate, active, time_round_robin
from mubench.measure.runner import failure_of, failure_row
from mubench.measure.setup import NUM_DIFFUSION_STEPS
from mubench.measure.timing import Timer
from mubench.models.ode_block import SolverConfig
from mubench.ranges import check_numbers
from mubench.registry import get_spec
from mubench.results import environment

__all__ = ["LatencyConditions", "add_ratios", "default_steps", "measure_here", "measure_latency"]


def default_steps(sampler: str) -> int:
    """Denoiser calls per timed trajectory when none are given: every step for ddpm, 50 for ddim."""
    return NUM_DIFFUSION_STEPS if sampler == "ddpm" else 50


@dataclass(frozen=True)
class LatencyConditions:
    """Conditions shared by every model of a latency run."""

    device: str = "cpu"
    dtype: str = "fp32"  # fp32, or fp16 / bf16 under autocast
    batch_size: int = 1
    resolution: int | None = None  # None: the model's own (single model only)
    channels: int | None = None
    steps: int = 50  # denoiser calls per trajectory
    sampler: str = "ddim"
    eta: float = 0.0
    repeats: int = 30  # per-call samples per model
    trajectory_repeats: int = 3  # whole trajectories per model (0: skip)
    warmup_min: int = 3
    warmup_max_s: float = 30.0
    compile: bool = False  # torch.compile every model
    compile_options: CompileOptions = ()  # with compile: inductor settings, e.g. (("cpp_wrapper", True),)
    channels_last: bool = False  # channels-last memory format for every model and input
    cuda_graphs: bool = False  # capture each call in a CUDA graph and replay it (GPU only)
    prepack: bool = False  # CPU, with channels_last: convolution weights prepacked for oneDNN
    seed: int = 0
    flags: NumericFlags = field(default_factory=NumericFlags)
    solver: SolverConfig | None = None  # ODE models; None = their defaults
    prefault: bool = True  # make the loaded libraries' pages resident before warm-up and timing
    processes: int = 1  # fresh worker processes, each measuring every model; > 1 gives their spread
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model name, path): weights to time with
    weights: str = "ema"  # a Trainer checkpoint's ema or raw weights

    def __post_init__(self) -> None:
        numbers = {"batch_size": self.batch_size, "steps": self.steps, "repeats": self.repeats,
                   "warmup": self.warmup_min, "processes": self.processes, "seed": self.seed,
                   "trajectory_repeats": self.trajectory_repeats, "channels": self.channels,
                   "resolution": self.resolution}  # fmt: skip
        check_numbers({name: value for name, value in numbers.items() if value is not None})
        check_dtype_name(self.dtype)
        Sampler(self.sampler, self.steps, self.eta).timesteps(NUM_DIFFUSION_STEPS - 1)  # validates
        if self.compile_options and not self.compile:
            raise UsageError(f"{opt('compile_option')} only applies with {opt('compile')}")
        if self.cuda_graphs and not self.device.startswith("cuda"):
            raise UsageError(f"{opt('cuda_graphs')} needs a CUDA device ({opt('device')} cuda)")
        if self.prepack:
            check_prepack_available(self.device, self.dtype, self.channels_last)

    def mode(self) -> str:
        """The inference mode applied to every model, e.g. ``eager`` or ``compile+channels_last``."""
        compiled = (
            f"compile({describe_compile_options(self.compile_options)})"
            if self.compile_options
            else "compile"
        )
        flags = ((compiled, self.compile), ("channels_last", self.channels_last),
                 ("cuda_graphs", self.cuda_graphs), ("prepack", self.prepack))  # fmt: skip
        parts = [name for name, on in flags if on]
        return "+".join(parts) or "eager"


def measure_latency(
    names: list[str],
    conds: LatencyConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every model of ``names`` under ``conds``; one row per model (failures included).

    With ``conds.processes`` > 1 the whole measurement runs in that many fresh worker processes, one
    after another, and each model's row summarises them (see :mod:`mubench.measure.workers`).
    """
    if conds.processes > 1:
        from mubench.measure.workers import measure_in_workers

        return measure_in_workers(names, conds, run_id, on_progress)
    rows, _ = measure_here(names, conds, run_id, on_progress)
    return rows


def measure_here(
    names: list[str],
    conds: LatencyConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]:
    """:func:`measure_latency` in this process: the rows, and each timed model's raw samples
    (``{"call_ms": [...], "trajectory_s": [...]}`` by model name)."""
    device = resolve_device(conds.device)
    dtype = resolve_dtype(conds.dtype, device)
    specs = [get_spec(name) for name in names]
    resolution = conds.resolution if conds.resolution is not None else specs[0].resolution
    for spec in specs:
        spec.check_resolution(resolution)
    flag_record = conds.flags.apply()
    sampler = Sampler(conds.sampler, conds.steps, conds.eta)
    tick = on_progress or (lambda _: None)
    common = dict(
        device=str(device),
        dtype=dtype_name(dtype),
        batch_size=conds.batch_size,
        resolution=resolution,
        steps=conds.steps,
        sampler=sampler.describe(),
        seed=conds.seed,
        mode=conds.mode(),
        compile=conds.compile,
        compile_options=describe_compile_options(conds.compile_options),
        channels_last=conds.channels_last,
        cuda_graphs=conds.cuda_graphs,
        prepack=conds.prepack,
        processes=conds.processes,
    )
    prefaulter = Prefaulter(conds.prefault)
    prefaulter()  # before anything runs: what importing and building loaded

    def fail(name: str, exc: BaseException) -> dict[str, Any]:
        return failure_row("latency", run_id, name, exc, **common)

    candidates: list[Candidate] = []
    failures: dict[str, dict[str, Any]] = {}
    for name in names:
        tick(f"warming up {name}")

        def work(name: str = name) -> None:
            candidates.append(Candidate(prepare(name, conds, device, dtype, resolution, prefaulter)))

        failed = failure_of(work, partial(fail, name))
        if failed is not None:
            failures[name] = failed

    prefaulter()  # whatever the last model's set-up loaded
    state = machine_state()
    common.update(prefaulter.fields())
    timer = Timer(device)
    time_round_robin(
        candidates, conds.repeats, conds.trajectory_repeats, sampler, conds.seed, timer, tick, fail
    )

    rates = device_rates(device, dtype) if active(candidates) else None  # after timing: it fills memory
    env = {**environment(str(device)), **flag_record, **state}
    busy = busy_warning(state)
    rows = latency_rows(names, candidates, failures, run_id, common, env, rates, busy, prefaulter.fields())
    samples = {
        c.prepared.name: {"call_ms": c.call_ms, "trajectory_s": c.trajectory_s} for c in active(candidates)
    }
    return rows, samples
