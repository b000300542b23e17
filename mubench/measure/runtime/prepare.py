"""One model made ready for timing in an inference mode: built, converted, compiled, checked, warmed up.

The mode (``torch.compile`` with inductor options, channels-last, prepacked convolutions, CUDA graphs,
autocast to a reduced dtype) comes from the run's conditions. Its output on the example input must
agree with the eager float32 model's (see :data:`AGREEMENT_TOLERANCE`); then the model is warmed up
(a minimum number of calls, then until stable) and its calls are batched per sample so that one
sample lasts long enough to time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from mubench.measure.counting.live_memory import peak_live_bytes
from mubench.measure.counting.traffic import OpCall, op_calls, total, weights_bytes
from mubench.measure.runtime.build import (
    build_model,
    compiled,
    example_inputs,
    inference_contexts,
    load_given_weights,
    to_channels_last,
)
from mubench.measure.runtime.device import dtype_name
from mubench.measure.runtime.prepack import prepack_convolutions
from mubench.measure.runtime.timing import PeakMemory, Timer, warm_up
from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
from mubench.registry import ModelSpec, get_spec

if TYPE_CHECKING:
    from mubench.measure.runtime.mode import InferenceMode

# Largest accepted max|out - ref| / max|ref| of a mode's output against the eager float32 model.
AGREEMENT_TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}
MIN_SAMPLE_MS = {"cuda": 2.0, "cpu": 5.0}  # calls are batched per sample until one sample lasts this long
MAX_CALLS_PER_SAMPLE = 200

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class PreparedModel:
    """One model prepared for timing in the run's inference mode, and what was learnt preparing it."""

    name: str
    spec: ModelSpec
    model: nn.Module  # what is called: compiled, or the eager module itself
    call: Callable[[], torch.Tensor]  # one denoiser call on the example input
    denoise: Denoise  # a denoiser call on any input, under the mode's contexts (used by the samplers)
    x: torch.Tensor  # the example input, in the mode's memory format
    flops: int  # per call, by torch's per-operator formulas
    op_calls: list[OpCall]  # every aten operator of one eager call, with its FLOPs and bytes
    weights_bytes: int
    peak_activation_bytes: int  # live tensors of one eager call, at their peak
    nfe: int | None  # ODE-function evaluations per call; None without ODE blocks
    calls_per_sample: int
    warmup_iters: int
    warmup_stable: bool
    peak_mem_mib: float | None  # CUDA: the allocator's peak in a warm call; None on the CPU
    solver: str | None  # the ODE solver, described; None without ODE blocks
    max_rel_err: float  # of the first call's output against the eager float32 model's
    eager: nn.Module  # the uncompiled model, whose ODE functions count their evaluations
    counts_nfe: bool  # False when compiled or graphed: the counters do not run there
    adaptive: bool  # an adaptive ODE solver: NFE depends on the input


def prepare(
    name: str,
    conds: InferenceMode,
    device: torch.device,
    dtype: torch.dtype,
    resolution: int,
    before_warmup: Callable[[], None] = lambda: None,
) -> PreparedModel:
    """Build model ``name`` on ``device``, apply the inference mode of ``conds`` and warm it up.

    ``dtype`` is the resolved autocast dtype (float32: none); ``resolution`` the side of the square
    example input. ``before_warmup`` runs after the first call (which compiles and may load new
    libraries) and before the warm-up, e.g. a :class:`~mubench.measure.runtime.prefault.Prefaulter`. Raises
    FloatingPointError when the eager float32 output or the mode's output has NaN or Inf; a mode that
    merely disagrees is recorded in ``max_rel_err`` and judged by the caller.
    """
    spec = get_spec(name)
    channels = conds.channels if conds.channels is not None else spec.channels
    eager = build_model(spec, channels, conds.solver, conds.seed)
    load_given_weights(eager, name, conds.checkpoints, conds.weights)
    eager = eager.to(device)
    x, t = example_inputs(conds.batch_size, channels, resolution, conds.seed, str(device))
    with torch.inference_mode():
        output = eager(x, t)
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:  # not a denoiser of these images
        got = f"shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"model returned {got} for an input of shape {tuple(x.shape)}; not timed")
    reference = output.float()  # eager float32: what every mode must agree with
    if not torch.isfinite(reference).all():
        raise FloatingPointError("model output has NaN or Inf in eager float32; not timed")
    if conds.channels_last:
        eager, x = to_channels_last(eager, x)
    contexts = inference_contexts(device, dtype)
    reset_nfe(eager)
    calls: list[OpCall] = []
    with contexts():
        peak_activation = peak_live_bytes(lambda: calls.extend(op_calls(lambda: eager(x, t))))
    flops = total(calls).flops
    weights = weights_bytes(eager)  # before prepacking, whose opaque tensors have no storage to read
    nfe = sum(nfe_by_block(eager).values()) if has_ode_blocks(eager) else None
    if conds.prepack:  # after counting: the counters do not know the prepacked operator
        prepack_convolutions(eager, (x, t))
    model = eager
    if conds.compile:
        model = compiled(eager, conds.compile_options)

    def denoise(xt: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        with contexts():
            return model(xt, tt)

    if conds.cuda_graphs:
        denoise = graphed(denoise, x, t)

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
    peak_mib = None  # the CPU allocator keeps what it freed: peak_activation_bytes says what a call needs
    if device.type == "cuda":
        with PeakMemory(device) as warm_call:
            call()
        peak_mib = warm_call.peak_mib
    solver = getattr(eager, "solver", None) if nfe is not None else None
    return PreparedModel(
        name=name,
        spec=spec,
        model=model,
        call=call,
        denoise=denoise,
        x=x,
        flops=flops,
        op_calls=calls,
        weights_bytes=weights,
        peak_activation_bytes=peak_activation,
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


def graphed(denoise: Denoise, x: torch.Tensor, t: torch.Tensor) -> Denoise:
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
