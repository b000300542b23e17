"""Inference latency per denoiser call and per reverse trajectory, under fixed, fair, recorded conditions.

Protocol: every model in a run shares every condition; each is built, moved, optionally compiled and
warmed up (a minimum number of calls, then until stable); per-call samples and whole trajectories are
then taken round-robin across the models so that drift of the machine hits all alike. CUDA events
time GPU work; ``perf_counter`` times CPU work (the calls are synchronous there). Inference mode
throughout; reduced precision runs under autocast.

This module runs the measurement in this process, in order; the steps are in
:mod:`mubench.measure.runtime.prepare` (preparing one model), :mod:`.round_robin` (timing) and
:mod:`.rows` (the rows).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from mubench.diffusion.samplers import Sampler
from mubench.measure.failures import failure_of, failure_row
from mubench.measure.latency.conditions import LatencyConditions
from mubench.measure.latency.round_robin import Candidate, Running, active, time_round_robin
from mubench.measure.latency.rows import latency_rows
from mubench.measure.runtime.compile_options import describe_compile_options
from mubench.measure.runtime.device import (
    dtype_name,
    resolve_device,
    resolve_dtype,
)
from mubench.measure.runtime.machine_state import busy_warning, machine_state
from mubench.measure.runtime.prefault import Prefaulter
from mubench.measure.runtime.prepare import prepare
from mubench.measure.runtime.rates import device_rates
from mubench.measure.runtime.timing import Timer
from mubench.registry import get_spec
from mubench.results import environment


def measure_here(
    names: list[str],
    conds: LatencyConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
    running: Running | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]:
    """The latency measurement in this process: the rows, and each timed model's raw samples
    (``{"call_ms": [...], "trajectory_s": [...]}`` by model name). ``running(name)`` is called before
    a model's own code runs (building, warming up, each timed turn), ``running(None)`` after."""
    device = resolve_device(conds.device)
    dtype = resolve_dtype(conds.dtype, device)
    specs = [get_spec(name) for name in names]
    resolution = conds.resolution if conds.resolution is not None else specs[0].resolution
    for spec in specs:
        spec.check_resolution(resolution)
    flag_record = conds.flags.apply()
    sampler = Sampler(conds.sampler, conds.steps, conds.eta)
    tick = on_progress or (lambda _: None)
    mark = running or (lambda _: None)
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

        mark(name)
        failed = failure_of(work, partial(fail, name))
        mark(None)
        if failed is not None:
            failures[name] = failed

    prefaulter()  # whatever the last model's set-up loaded
    state = machine_state()
    common.update(prefaulter.fields())
    timer = Timer(device)
    time_round_robin(
        candidates, conds.repeats, conds.trajectory_repeats, sampler, conds.seed, timer, tick, fail, mark
    )

    rates = device_rates(device, dtype) if active(candidates) else None  # after timing: it fills memory
    env = {**environment(str(device)), **flag_record, **state}
    busy = busy_warning(state)
    rows = latency_rows(names, candidates, failures, run_id, common, env, rates, busy, prefaulter.fields())
    samples = {
        c.prepared.name: {"call_ms": c.call_ms, "trajectory_s": c.trajectory_s} for c in active(candidates)
    }
    return rows, samples
