"""Inference latency per denoiser call and per reverse trajectory, under fixed, fair, recorded conditions.

Protocol: every model in a run shares every condition; each is built, moved, optionally compiled and
warmed up (a minimum number of calls, then until stable); per-call samples and whole trajectories are
then taken round-robin across the models so that drift of the machine hits all alike. CUDA events
time GPU work; ``perf_counter`` times CPU work (the calls are synchronous there). Inference mode
throughout; reduced precision runs under autocast.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn

from mubench.diffusion.samplers import Sampler
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError, opt
from mubench.measure.compile_options import CompileOptions, describe_compile_options
from mubench.measure.counters import count_torch
from mubench.measure.device import (
    DTYPES,
    NumericFlags,
    check_dtype_name,
    dtype_name,
    resolve_device,
    resolve_dtype,
)
from mubench.measure.machine_state import busy_warning, machine_state
from mubench.measure.prefault import Prefaulter
from mubench.measure.prepack import check_prepack_available, prepack_convolutions
from mubench.measure.runner import failure_row
from mubench.measure.setup import NUM_DIFFUSION_STEPS, build_model, example_inputs
from mubench.measure.timing import PeakMemory, Timer, matmul_peak_gflops, summarize, warm_up
from mubench.models.ode_block import SolverConfig, has_ode_blocks, nfe_by_block, reset_nfe
from mubench.registry import ModelSpec, get_spec
from mubench.results import environment, make_row

# Largest accepted max|out - ref| / max|ref| of a mode's output against the eager float32 model.
AGREEMENT_TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}
MIN_SAMPLE_MS = {"cuda": 2.0, "cpu": 5.0}  # calls are batched per sample until one sample lasts this long
MAX_CALLS_PER_SAMPLE = 200


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

    def __post_init__(self) -> None:
        for name, key in (("batch_size", "batch_size"), ("steps", "steps"), ("repeats", "repeats"),
                            ("warmup_min", "warmup"), ("processes", "processes")):  # fmt: skip
            if getattr(self, name) <= 0:
                raise UsageError(f"{opt(key)} must be positive, got {getattr(self, name)}")
        check_dtype_name(self.dtype)
        if self.trajectory_repeats < 0:
            raise UsageError(f"{opt('trajectory_repeats')} must be 0 or more, got {self.trajectory_repeats}")
        Sampler(self.sampler, self.steps, self.eta).timesteps(NUM_DIFFUSION_STEPS - 1)  # validates
        if self.channels is not None and self.channels <= 0:
            raise UsageError(f"{opt('channels')} must be positive, got {self.channels}")
        if self.resolution is not None and self.resolution <= 0:
            raise UsageError(
                f"{opt('resolution')} must be a positive number of pixels, got {self.resolution}"
            )
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


@dataclass
class _Candidate:
    """One model prepared for timing, and what has been measured of it so far."""

    name: str
    spec: ModelSpec
    model: nn.Module
    call: Callable[[], torch.Tensor]
    denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    x: torch.Tensor
    flops: int
    nfe: int | None
    calls_per_sample: int
    warmup_iters: int
    warmup_stable: bool
    peak_mem_mib: float | None
    solver: str | None
    max_rel_err: float
    eager: nn.Module  # the uncompiled model, whose ODE functions count their evaluations
    counts_nfe: bool  # False when compiled or graphed: the counters do not run there
    adaptive: bool  # an adaptive ODE solver: NFE depends on the input
    call_ms: list[float] = field(default_factory=list)
    trajectory_s: list[float] = field(default_factory=list)
    trajectory_calls: int = 0
    trajectory_nfe: int | None = None
    failure: dict[str, Any] | None = None


def _contexts(device: torch.device, dtype: torch.dtype) -> Callable[[], contextlib.ExitStack]:
    def enter() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if dtype != torch.float32:
            stack.enter_context(torch.autocast(device.type, dtype=dtype))
        return stack

    return enter


def _prepare(
    name: str,
    conds: LatencyConditions,
    device: torch.device,
    dtype: torch.dtype,
    resolution: int,
    before_warmup: Callable[[], None] = lambda: None,
) -> _Candidate:
    spec = get_spec(name)
    channels = conds.channels if conds.channels is not None else spec.channels
    eager = build_model(spec, channels, conds.solver, conds.seed).to(device)
    x, t = example_inputs(conds.batch_size, channels, resolution, conds.seed, str(device))
    with torch.inference_mode(), PeakMemory(device) as first_call:
        reference = eager(x, t).float()  # eager float32: what every mode must agree with
    if not torch.isfinite(reference).all():
        raise FloatingPointError("model output has NaN or Inf in eager float32; not timed")
    if conds.channels_last:
        eager = eager.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    contexts = _contexts(device, dtype)
    reset_nfe(eager)
    with contexts():
        flops = count_torch(eager, (x, t)).flops
    nfe = sum(nfe_by_block(eager).values()) if has_ode_blocks(eager) else None
    if conds.prepack:  # after counting: the FLOP counter does not know the prepacked operator
        prepack_convolutions(eager, (x, t))
    model = eager
    if conds.compile:
        model = torch.compile(eager, options=dict(conds.compile_options) or None)

    def denoise(xt: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        with contexts():
            return model(xt, tt)

    if conds.cuda_graphs:
        denoise = _graphed(denoise, x, t)

    def call() -> torch.Tensor:
        return denoise(x, t)

    out = call().float()
    if not torch.isfinite(out).all():
        raise FloatingPointError(f"model output has NaN or Inf in mode {conds.mode()}, {dtype_name(dtype)}")
    max_rel_err = float((out - reference).abs().max() / reference.abs().max().clamp_min(1e-12))
    before_warmup()  # after the first call, which compiles and may load new libraries
    timer = Timer(device)
    warm = warm_up(timer, call, conds.warmup_min, conds.warmup_max_s)
    min_ms = MIN_SAMPLE_MS[device.type]
    per_sample = min(MAX_CALLS_PER_SAMPLE, max(1, math.ceil(min_ms / max(warm.last_ms, 1e-6))))
    if device.type == "cuda":  # CPU: the first call's growth above; its allocator keeps freed memory
        with PeakMemory(device) as warm_call:
            call()
    peak_mib = warm_call.peak_mib if device.type == "cuda" else first_call.peak_mib
    solver = getattr(eager, "solver", None) if nfe is not None else None
    return _Candidate(
        name=name,
        spec=spec,
        model=model,
        call=call,
        denoise=denoise,
        x=x,
        flops=flops,
        nfe=nfe,
        calls_per_sample=per_sample,
        warmup_iters=warm.iterations,
        warmup_stable=warm.stable,
        peak_mem_mib=peak_mib,
        solver=solver.describe() if solver is not None else None,
        max_rel_err=max_rel_err,
        eager=eager,
        counts_nfe=nfe is not None and not (conds.compile or conds.cuda_graphs),
        adaptive=solver is not None and solver.adaptive,
    )


def _graphed(
    denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, t: torch.Tensor
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``denoise`` captured once in a CUDA graph; calls copy their inputs in and replay it.

    Capture fails for code that synchronises with the host (torchdiffeq's solvers do); use the fixed
    ODE backend for ODE models.
    """
    static_x, static_t = x.clone(), t.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            denoise(static_x, static_t)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = denoise(static_x, static_t)

    def replay(xt: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        static_x.copy_(xt)
        static_t.copy_(tt)
        graph.replay()
        return static_out

    return replay


def _guard(candidate: _Candidate, work: Callable[[], None], fail: Callable[[BaseException], dict]) -> None:
    """Run ``work``; an error marks the candidate failed (its row says why) and frees GPU memory."""
    try:
        work()
    except UsageError:
        raise
    except Exception as exc:
        candidate.failure = fail(exc)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


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

    def fail(name: str) -> Callable[[BaseException], dict]:
        return lambda exc: failure_row("latency", run_id, name, exc, **common)

    candidates: list[_Candidate] = []
    failures: dict[str, dict] = {}
    for name in names:
        tick(f"warming up {name}")
        try:
            candidates.append(_prepare(name, conds, device, dtype, resolution, prefaulter))
        except UsageError:
            raise
        except Exception as exc:
            failures[name] = fail(name)(exc)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    prefaulter()  # whatever the last model's set-up loaded
    state = machine_state()
    common.update(prefaulter.fields())
    timer = Timer(device)
    for _ in _round_robin(conds.repeats, tick, "per-call"):
        for c in _active(candidates):
            _guard(c, lambda c=c: c.call_ms.append(timer(c.call, c.calls_per_sample)), fail(c.name))

    schedules: dict[str, NoiseSchedule] = {}
    for i in _round_robin(conds.trajectory_repeats, tick, "trajectory"):
        for c in _active(candidates):
            schedule = schedules.setdefault(c.spec.schedule, NoiseSchedule.create(c.spec.schedule))
            gen = torch.Generator(device=device).manual_seed(conds.seed + i)
            x_start = torch.randn(c.x.shape, generator=gen, device=device).to(memory_format=_format(c.x))

            _guard(c, partial(_time_trajectory, c, sampler, schedule, x_start, gen, timer), fail(c.name))

    peak_gflops = matmul_peak_gflops(device, dtype) if candidates else None
    env = {**environment(str(device)), **flag_record, **state}
    busy = busy_warning(state)
    rows = []
    for name in names:
        c = next((c for c in candidates if c.name == name), None)
        if c is None or c.failure is not None:
            failed = failures.get(name) or c.failure  # type: ignore[union-attr]
            rows.append({**failed, **prefaulter.fields(), **env})
            continue
        rows.append(_row(c, run_id, common, env, peak_gflops, busy))
    add_ratios(rows)
    samples = {c.name: {"call_ms": c.call_ms, "trajectory_s": c.trajectory_s} for c in _active(candidates)}
    return rows, samples


def _time_trajectory(
    c: _Candidate,
    sampler: Sampler,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    gen: torch.Generator,
    timer: Timer,
) -> None:
    """Time one full reverse trajectory from pure noise at t = T - 1, sampler arithmetic included."""
    result: list = []
    t_start = schedule.num_steps - 1
    reset_nfe(c.eager)
    ms = timer(
        lambda: result.append(sampler.sample(c.denoise, schedule, x_start, t_start, c.spec.prediction, gen))
    )
    c.trajectory_s.append(ms / 1e3)
    c.trajectory_calls = result[0].denoiser_calls
    if c.counts_nfe:
        c.trajectory_nfe = sum(nfe_by_block(c.eager).values())


def _format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4 else (
        torch.contiguous_format
    )  # fmt: skip


def _active(candidates: list[_Candidate]) -> list[_Candidate]:
    return [c for c in candidates if c.failure is None]


def _round_robin(rounds: int, tick: Callable[[str], None], what: str) -> Iterator[int]:
    for i in range(rounds):
        yield i
        tick(f"{what} {i + 1}/{rounds}")


def _row(
    c: _Candidate,
    run_id: str,
    common: dict[str, Any],
    env: dict[str, Any],
    peak_gflops: float | None,
    busy: str | None,
) -> dict[str, Any]:
    call = summarize(c.call_ms, "call_ms")
    tolerance = AGREEMENT_TOLERANCE[DTYPES[common["dtype"]]]
    agrees = c.max_rel_err <= tolerance
    achieved = c.flops / (call["call_ms_median"] * 1e-3) / 1e9
    trajectory = summarize(c.trajectory_s, "trajectory_s") if c.trajectory_s else {}
    unstable = call["call_ms_unstable"] or trajectory.get("trajectory_s_unstable", False)
    return make_row(
        "latency",
        run_id,
        model=c.name,
        **{**common, "solver": c.solver},
        message="; ".join(
            m
            for m, on in (
                (
                    f"output differs from eager float32: rel. error {c.max_rel_err:.2e} > {tolerance:g}",
                    not agrees,
                ),
                ("unstable: IQR/median > 10%", unstable),
                (busy, busy is not None),
            )
            if on
        ),
        **call,
        n_calls=len(c.call_ms) * c.calls_per_sample,
        n_samples=len(c.call_ms),
        calls_per_sample=c.calls_per_sample,
        warmup_iters=c.warmup_iters,
        warmup_stable=c.warmup_stable,
        **trajectory,
        n_trajectories=len(c.trajectory_s),
        trajectory_denoiser_calls=c.trajectory_calls if c.trajectory_s else None,
        nfe=c.nfe,
        nfe_per_trajectory=_trajectory_nfe(c),
        flops_per_call=c.flops,
        macs_per_call=c.flops // 2,
        achieved_gflops=achieved,
        device_matmul_gflops=peak_gflops,
        achieved_share=achieved / peak_gflops if peak_gflops else None,
        peak_mem_mib=c.peak_mem_mib,
        max_rel_err_vs_eager_fp32=c.max_rel_err,
        agrees_with_eager_fp32=agrees,
        agreement_tolerance=tolerance,
        **env,
    )


def _trajectory_nfe(c: _Candidate) -> int | None:
    """Counted over the last timed trajectory; for compiled or graphed fixed-step solvers, where the
    counters do not run, NFE per call x calls (exact there: fixed grids do not depend on the input)."""
    if c.nfe is None or not c.trajectory_s:
        return None
    if c.counts_nfe:
        return c.trajectory_nfe
    return None if c.adaptive else c.nfe * c.trajectory_calls


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each model's median call time and MACs over the first model's, and their quotient."""
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return
    base = ok[0]
    for r in ok:
        r["baseline"] = base["model"]
        r["call_ms_vs_first"] = r["call_ms_median"] / base["call_ms_median"]
        r["macs_vs_first"] = r["macs_per_call"] / base["macs_per_call"] if base["macs_per_call"] else None
        if "trajectory_s_median" in r and "trajectory_s_median" in base:
            r["trajectory_s_vs_first"] = r["trajectory_s_median"] / base["trajectory_s_median"]
        r["latency_over_macs_ratio"] = (
            r["call_ms_vs_first"] / r["macs_vs_first"] if r.get("macs_vs_first") else None
        )
