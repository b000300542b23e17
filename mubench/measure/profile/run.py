"""`mubench profile`: each model prepared as for latency (same inference modes, warm-up, pre-faulting),
then profiled over several calls; one row per operator category and model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mubench.measure.profile.conditions import ProfileConditions
from mubench.measure.runtime.mode import InferenceMode

Rows = list[dict[str, Any]]


def measure_profile(
    names: list[str], conds: ProfileConditions, run_id: str, on_progress: Callable[[str], None] | None = None
) -> Rows:
    """Profile every model of ``names`` under ``conds``, one after another; rows per category (a model
    that fails gives one error row)."""
    from mubench.measure.failures import failure_of, failure_row
    from mubench.measure.runtime.compile_options import describe_compile_options
    from mubench.measure.runtime.device import dtype_name, resolve_device, resolve_dtype
    from mubench.measure.runtime.prefault import Prefaulter
    from mubench.registry import get_spec
    from mubench.results import environment

    mode = conds
    device = resolve_device(mode.device)
    dtype = resolve_dtype(mode.dtype, device)
    resolution = mode.resolution if mode.resolution is not None else get_spec(names[0]).resolution
    flags = mode.flags.apply()
    tick = on_progress or (lambda _: None)
    common = dict(
        device=str(device), dtype=dtype_name(dtype), batch_size=mode.batch_size, resolution=resolution,
        seed=mode.seed, mode=mode.mode(), compile=mode.compile,
        compile_options=describe_compile_options(mode.compile_options), channels_last=mode.channels_last,
        prepack=mode.prepack,
    )  # fmt: skip
    prefaulter = Prefaulter(mode.prefault)
    prefaulter()
    env = {**environment(str(device)), **flags}
    rows: Rows = []
    for name in names:
        tick(f"profiling {name}")
        found: Rows = []

        def work(name: str = name, found: Rows = found) -> None:
            found += _profile_one(name, conds, device, dtype, resolution, prefaulter, run_id, common)

        def fail(exc: BaseException, name: str = name) -> dict[str, Any]:
            return failure_row("profile", run_id, name, exc, **common)

        failed = failure_of(work, fail)
        rows += [{**r, **prefaulter.fields(), **env} for r in ([failed] if failed else found)]
        tick(name)
    return rows


def _profile_one(
    name: str,
    conds: ProfileConditions,
    device: torch.device,
    dtype: torch.dtype,
    resolution: int,
    prefaulter: Callable[[], None],
    run_id: str,
    common: dict[str, Any],
) -> Rows:
    from mubench.measure.profile.profiler import (
        category_shares,
        named_cpu_kernels,
        profile_calls,
        unattributed,
    )
    from mubench.measure.runtime.prepare import prepare
    from mubench.results import make_row

    costs = _eager_costs(name, conds, device, dtype, resolution)
    with named_cpu_kernels():  # compilation happens in prepare's first call
        prepared = prepare(name, conds, device, dtype, resolution, prefaulter)
    prefaulter()  # what compiling loaded
    profile = profile_calls(prepared.call, conds.calls, device)
    missing = unattributed(profile)
    shared = dict(
        model=name,
        **common,
        solver=prepared.solver,
        profile_call_ms=profile.call_ms,
        profile_calls=profile.calls,
        profile_time_source=profile.source,
        profile_unattributed="; ".join(missing[:10]),
    )
    rows = []
    for share in category_shares(profile, costs):
        top = "; ".join(f"{op.name} {op.ms:.3f} ms" for op in share.top_ops)
        rows.append(
            make_row(
                "profile",
                run_id,
                **shared,
                category=share.category,
                category_ms=share.ms,
                category_time_share=share.time_share,
                category_op_calls=share.op_calls,
                category_flops=share.flops,
                category_flops_share=share.flops_share,
                category_bytes=share.bytes,
                category_bytes_share=share.bytes_share,
                category_top_ops=top,
            )
        )
    return rows


def _eager_costs(
    name: str, mode: InferenceMode, device: torch.device, dtype: torch.dtype, resolution: int
) -> dict[str, Any]:
    """FLOPs and unfused bytes per operator of one call of the eager model, built alike (same weights,
    input and memory format) but apart: the mode's prepacked convolutions have no FLOP formula."""
    from mubench.measure.counting.traffic import op_costs
    from mubench.measure.runtime.build import (
        build_model,
        example_inputs,
        inference_contexts,
        to_channels_last,
    )
    from mubench.registry import get_spec

    spec = get_spec(name)
    channels = mode.channels if mode.channels is not None else spec.channels
    model = build_model(spec, channels, mode.solver, mode.seed).to(device)
    x, t = example_inputs(mode.batch_size, channels, resolution, mode.seed, str(device))
    if mode.channels_last:
        model, x = to_channels_last(model, x)
    with inference_contexts(device, dtype)():
        return op_costs(lambda: model(x, t))
