"""Latency measured in several fresh worker processes, one after another, and summarised.

The process is a source of variance: its memory layout, page mappings and hash seed differ from one
process to the next, and a figure from one process can be an outlier that no amount of repeats inside
it reveals. Each worker builds, seeds, pre-faults, warms up and times every model round-robin, exactly
as a single run does. Each model's summary row gives the median of the per-process medians, each
process's median, and ``call_ms_process_spread`` = (max - min) / median of the per-process medians;
the other statistics pool every sample of every process. A worker that fails becomes the reason in
the rows' message, and the other workers still count. A worker process that dies (a hard exit, a
signal) is laid on the model whose code it was running, and a fresh worker measures the other models
again without it; their figures come from as many processes as ever.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import statistics
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mubench.errors import UsageError
from mubench.measure.failures import failure_row
from mubench.measure.latency.conditions import LatencyConditions
from mubench.measure.latency.in_process import measure_here
from mubench.measure.latency.rows import add_ratios
from mubench.measure.runtime.timing import summarize

WORKER_ENV = "MUBENCH_WORKER"  # set in each worker to "INDEX/COUNT" (0-based), e.g. "1/3"
_POLL_S = 0.2

Rows = list[dict[str, Any]]
Samples = dict[str, dict[str, list[float]]]
Numbered = list[tuple[int, Rows, Samples]]  # each process's rows and samples, after its index


@dataclass(frozen=True)
class Died:
    """A worker process that ended without reporting: how, and the model whose code it was running."""

    how: str  # "exited with code 3", "was killed by signal 11"
    running: str | None  # None: no model's code was running (or the process died before saying)


Outcome = tuple[Rows, Samples] | str | Died  # figures, why the worker gave none, or its death


def _worker(
    names: list[str], conds: LatencyConditions, run_id: str, index: int, out: Any, running: Any
) -> None:
    """Body of one worker process: measure, then send ("done", rows, samples) or the error. The model
    whose code runs is kept in the shared ``running`` (its place in ``names``; -1: none), which outlives
    a process that dies."""
    os.environ[WORKER_ENV] = f"{index}/{conds.processes}"
    places = {name: i for i, name in enumerate(names)}

    def mark(name: str | None) -> None:
        running.value = -1 if name is None else places[name]

    try:
        rows, samples = measure_here(names, conds, run_id, lambda label: out.put(("tick", label)), mark)
        out.put(("done", rows, samples))
    except UsageError as exc:
        out.put(("usage", exc.message))  # its options still marked, for the caller to name
    except BaseException as exc:  # everything else becomes the models' error rows in the parent
        out.put(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=3)))


def _run_worker(
    names: list[str], conds: LatencyConditions, run_id: str, index: int, tick: Callable[[str], None]
) -> Outcome:
    """One worker's rows and samples, why it produced none, or how it died."""
    context = mp.get_context("spawn")  # a fresh interpreter: nothing inherited from this process
    channel = context.Queue()
    running = context.RawValue("i", -1)
    process = context.Process(
        target=_worker, args=(names, conds, run_id, index, channel, running), daemon=True
    )
    process.start()
    result: tuple | None = None
    try:
        while result is None:
            try:
                message = channel.get(timeout=_POLL_S)
            except queue.Empty:
                if not process.is_alive():
                    try:  # a message may have arrived just before the process ended
                        message = channel.get(timeout=_POLL_S)
                    except queue.Empty:
                        break
                else:
                    continue
            if message[0] == "tick":
                tick(f"process {index + 1}/{conds.processes}: {message[1]}")
            else:
                result = message
        process.join()
    finally:
        if process.is_alive():  # interrupted: do not leave a worker timing in the background
            process.terminate()
            process.join()
    if result is None:
        code = process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        return Died(how, names[running.value] if 0 <= running.value < len(names) else None)
    if result[0] == "usage":
        raise UsageError(result[1])
    if result[0] == "error":
        return f"{_worker_name(index, conds)} failed: {result[1]}"
    return result[1], result[2]


def _worker_name(index: int, conds: LatencyConditions) -> str:
    return f"worker process {index + 1} of {conds.processes}"


def _measure_process(
    names: list[str], conds: LatencyConditions, run_id: str, index: int, tick: Callable[[str], None]
) -> tuple[tuple[Rows, Samples] | None, dict[str, str]]:
    """Process ``index``'s figures of ``names``, and why it has none of the models it lacks.

    A worker that dies is blamed on the model whose code it was running; when that is unknown, each
    model runs alone in a fresh worker and those that die alone are blamed. A fresh worker then measures
    the others together, so that each is still measured in ``conds.processes`` processes.
    """
    lost: dict[str, str] = {}
    group = list(names)
    while group:
        outcome = _run_worker(group, conds, run_id, index, tick)
        if not isinstance(outcome, Died):
            if isinstance(outcome, str):
                return None, {**lost, **dict.fromkeys(group, outcome)}
            return outcome, lost
        blamed = _blame(outcome, group, conds, run_id, index, tick)
        if not blamed:  # none dies alone: the death cannot be laid on one model
            reason = f"{_worker_name(index, conds)} {outcome.how} before reporting"
            return None, {**lost, **dict.fromkeys(group, reason)}
        lost.update(blamed)
        group = [name for name in group if name not in blamed]
        if group:
            tick(f"process {index + 1}/{conds.processes}: measuring the other models again")
    return None, lost


def _blame(
    death: Died,
    group: list[str],
    conds: LatencyConditions,
    run_id: str,
    index: int,
    tick: Callable[[str], None],
) -> dict[str, str]:
    """The models of ``group`` that ``death`` is laid on, each with the message for its row."""
    worker = _worker_name(index, conds)
    culprit = death.running or (group[0] if len(group) == 1 else None)
    if culprit is not None:
        tick(f"process {index + 1}/{conds.processes}: the worker {death.how} while measuring {culprit}")
        return {culprit: f"{worker} {death.how} while measuring this model"}
    tick(f"process {index + 1}/{conds.processes}: the worker {death.how}; measuring each model alone")
    blamed = {}
    for name in group:
        alone = _run_worker([name], conds, run_id, index, tick)
        if isinstance(alone, Died):
            blamed[name] = f"{worker} {alone.how} while measuring this model alone"
    return blamed


def measure_in_workers(
    names: list[str],
    conds: LatencyConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
) -> Rows:
    """Run the latency measurement of ``names`` in ``conds.processes`` fresh processes; one summary row
    per model (see the module's docstring)."""
    tick = on_progress or (lambda _: None)
    results: Numbered = []
    lost: dict[str, list[str]] = {name: [] for name in names}
    for index in range(conds.processes):
        result, reasons = _measure_process(names, conds, run_id, index, tick)
        if result is not None:
            results.append((index, *result))
        for name, reason in reasons.items():
            lost[name].append(reason)
    rows = [_summary_row(name, conds, run_id, results, lost[name]) for name in names]
    add_ratios(rows)
    return rows


def _summary_row(
    name: str, conds: LatencyConditions, run_id: str, results: Numbered, lost: list[str]
) -> dict[str, Any]:
    """``name``'s row over the processes' ``results``; ``lost``: why the others have no row of it."""
    mine = [(i, r, samples.get(name)) for i, rows, samples in results for r in rows if r["model"] == name]
    ok = [(row, samples) for _, row, samples in mine if row["status"] == "ok" and samples]
    failed = [f"process {i + 1}: {row['message']}" for i, row, _ in mine if row["status"] != "ok"]
    reasons = lost + failed
    if not ok:
        message = "; ".join(reasons)[:500]
        if mine:
            return {**mine[0][1], "message": message}
        exc = RuntimeError(message)
        row = failure_row("latency", run_id, name, exc, processes=conds.processes, device=conds.device)
        return {**row, "message": message}
    rows = [row for row, _ in ok]
    summary = dict(rows[0])
    for prefix in ("call_ms", "trajectory_s"):
        pooled = [v for _, samples in ok for v in samples[prefix]]
        if not pooled:
            continue
        medians = [row[f"{prefix}_median"] for row in rows]
        summary.update(summarize(pooled, prefix))
        middle = statistics.median(medians)
        summary[f"{prefix}_median"] = middle
        summary[f"{prefix}_process_medians"] = ";".join(repr(float(m)) for m in medians)
        summary[f"{prefix}_process_spread"] = (max(medians) - min(medians)) / middle if middle else None
    summary["processes_ok"] = len(ok)
    for count in ("n_calls", "n_samples", "n_trajectories"):
        summary[count] = sum(int(row.get(count) or 0) for row in rows)
    summary["warmup_stable"] = all(bool(row["warmup_stable"]) for row in rows)
    summary["max_rel_err_vs_eager_fp32"] = max(row["max_rel_err_vs_eager_fp32"] for row in rows)
    summary["agrees_with_eager_fp32"] = all(bool(row["agrees_with_eager_fp32"]) for row in rows)
    for worst in ("peak_mem_mib", "cpu_busy_other_cores", "loadavg_1min", "prefault_s", "device_rates_s"):
        values = [row[worst] for row in rows if row.get(worst) is not None]
        summary[worst] = max(values) if values else None
    for measured in ("device_matmul_gflops", "device_bandwidth_gbps", "roofline_ms"):  # each worker's own
        values = [row[measured] for row in rows if row.get(measured)]
        summary[measured] = statistics.median(values) if values else None
    summary["achieved_gflops"] = summary["flops_per_call"] / (summary["call_ms_median"] * 1e-3) / 1e9
    rate, roofline = summary["device_matmul_gflops"], summary["roofline_ms"]
    summary["achieved_share"] = summary["achieved_gflops"] / rate if rate else None
    summary["latency_over_roofline"] = summary["call_ms_median"] / roofline if roofline else None
    notes = {m for row in rows for m in str(row.get("message") or "").split("; ") if m}
    notes = {m for m in notes if not m.startswith("unstable")}  # judged again on the pooled samples
    if summary.get("call_ms_unstable") or summary.get("trajectory_s_unstable"):
        notes.add("unstable: IQR/median > 10%")
    if reasons:
        notes.add(f"{len(reasons)} of {conds.processes} processes gave no figure ({'; '.join(reasons)})")
    summary["message"] = "; ".join(sorted(notes))[:500]
    return summary
