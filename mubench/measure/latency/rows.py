"""The latency rows: one per model, from what was prepared and timed of it, and the ratios to the first."""

from __future__ import annotations

from typing import Any

from mubench.measure.counting.traffic import roofline_seconds, total
from mubench.measure.latency.round_robin import Candidate
from mubench.measure.runtime.device import DTYPES
from mubench.measure.runtime.prepare import AGREEMENT_TOLERANCE
from mubench.measure.runtime.rates import DeviceRates
from mubench.measure.runtime.timing import summarize
from mubench.results import make_row


def latency_rows(
    names: list[str],
    candidates: list[Candidate],
    failures: dict[str, dict[str, Any]],
    run_id: str,
    common: dict[str, Any],
    env: dict[str, Any],
    rates: DeviceRates | None,
    busy: str | None,
    prefault_fields: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per model of ``names``, in order, with the ratios to the first that measured.

    A model that failed to prepare has its row in ``failures``; one that failed while timed, in its
    candidate. ``common`` holds the run's conditions, ``env`` the machine's; ``busy`` is the warning
    that other work was running, if it was.
    """
    rows = []
    for name in names:
        c = next((c for c in candidates if c.prepared.name == name), None)
        if c is None or c.failure is not None:
            failed = failures.get(name) or c.failure  # type: ignore[union-attr]
            rows.append({**failed, **prefault_fields, **env})
            continue
        rows.append(_row(c, run_id, common, env, rates, busy))
    add_ratios(rows)
    return rows


def _row(
    c: Candidate,
    run_id: str,
    common: dict[str, Any],
    env: dict[str, Any],
    rates: DeviceRates | None,
    busy: str | None,
) -> dict[str, Any]:
    p = c.prepared
    call = summarize(c.call_ms, "call_ms")
    tolerance = AGREEMENT_TOLERANCE[DTYPES[common["dtype"]]]
    agrees = p.max_rel_err <= tolerance
    achieved = p.flops / (call["call_ms_median"] * 1e-3) / 1e9
    trajectory = summarize(c.trajectory_s, "trajectory_s") if c.trajectory_s else {}
    unstable = call["call_ms_unstable"] or trajectory.get("trajectory_s_unstable", False)
    return make_row(
        "latency",
        run_id,
        model=p.name,
        **{**common, "solver": p.solver},
        message="; ".join(
            m
            for m, on in (
                (
                    f"output differs from eager float32: rel. error {p.max_rel_err:.2e} > {tolerance:g}",
                    not agrees,
                ),
                ("unstable: IQR/median > 10%", unstable),
                (busy, busy is not None),
            )
            if on
        ),
        **call,
        n_calls=len(c.call_ms) * p.calls_per_sample,
        n_samples=len(c.call_ms),
        calls_per_sample=p.calls_per_sample,
        warmup_iters=p.warmup_iters,
        warmup_stable=p.warmup_stable,
        **trajectory,
        n_trajectories=len(c.trajectory_s),
        trajectory_denoiser_calls=c.trajectory_calls if c.trajectory_s else None,
        nfe=p.nfe,
        nfe_per_trajectory=_trajectory_nfe(c),
        flops_per_call=p.flops,
        macs_per_call=p.flops // 2,
        achieved_gflops=achieved,
        peak_mem_mib=p.peak_mem_mib,
        **_limits(c, call["call_ms_median"], achieved, rates),
        max_rel_err_vs_eager_fp32=p.max_rel_err,
        agrees_with_eager_fp32=agrees,
        agreement_tolerance=tolerance,
        **env,
    )


def _limits(
    c: Candidate, call_ms: float, achieved_gflops: float, rates: DeviceRates | None
) -> dict[str, Any]:
    """The model's traffic and memory, and where it stands against the device's measured limits."""
    p = c.prepared
    found: dict[str, Any] = {
        "bytes_unfused": total(p.op_calls).bytes,
        "weights_mib": p.weights_bytes / 2**20,
        "peak_activation_mib": p.peak_activation_bytes / 2**20,
    }
    if rates is None:
        return found
    roofline_ms = 1e3 * roofline_seconds(p.op_calls, rates.peak_gflops * 1e9, rates.bandwidth_gbps * 1e9)
    return {
        **found,
        "device_matmul_gflops": rates.peak_gflops,
        "achieved_share": achieved_gflops / rates.peak_gflops,
        "device_bandwidth_gbps": rates.bandwidth_gbps,
        "bandwidth_array_mib": rates.array_mib,
        "device_peak_kernel": rates.peak_kernel,
        "device_rates_s": rates.seconds,
        "roofline_ms": roofline_ms,
        "latency_over_roofline": call_ms / roofline_ms if roofline_ms else None,
    }


def _trajectory_nfe(c: Candidate) -> int | None:
    """Counted over the last timed trajectory; for compiled or graphed fixed-step solvers, where the
    counters do not run, NFE per call x calls (exact there: fixed grids do not depend on the input)."""
    p = c.prepared
    if p.nfe is None or not c.trajectory_s:
        return None
    if p.counts_nfe:
        return c.trajectory_nfe
    return None if p.adaptive else p.nfe * c.trajectory_calls


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each model's median call time, MACs and roofline over the first model's, and the quotient of the
    first two."""
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
        if r.get("roofline_ms") and base.get("roofline_ms"):
            r["roofline_vs_first"] = r["roofline_ms"] / base["roofline_ms"]
