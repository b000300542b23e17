"""Inference-mode options that `latency` and `profile` share: how a model is run on the device."""

from __future__ import annotations

from typing import Annotated

import typer

from mubench.ranges import bounds

DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")]
DtypeOpt = Annotated[str, typer.Option(help="fp32, or fp16 / bf16 (autocast).")]
BatchSizeOpt = Annotated[int, typer.Option(**bounds("batch_size"), help="Images per denoiser call.")]
ResolutionOpt = Annotated[
    int | None,
    typer.Option(
        **bounds("resolution"), help="Input side in px. Default: 64 for several models, else the model's own."
    ),
]
WarmupOpt = Annotated[
    int, typer.Option(**bounds("warmup"), help="Minimum warm-up calls (then until stable).")
]
CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile every model.")]
CompileOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--compile-option",
        help="With --compile: an inductor setting KEY=VALUE, e.g. cpp_wrapper=true (repeatable).",
    ),
]
ChannelsLastOpt = Annotated[bool, typer.Option("--channels-last", help="Channels-last memory format.")]
PrepackOpt = Annotated[
    bool, typer.Option("--prepack", help="CPU: convolutions by oneDNN with weights prepacked once (fp32).")
]
Tf32Opt = Annotated[bool, typer.Option("--tf32", help="Allow TF32 for fp32 matmul/conv on GPU.")]
CudnnBenchmarkOpt = Annotated[bool, typer.Option("--cudnn-benchmark", help="cuDNN autotuning.")]
ThreadsOpt = Annotated[int | None, typer.Option(**bounds("threads"), help="CPU threads. Default: all cores.")]
SeedOpt = Annotated[int, typer.Option(**bounds("seed"), help="Seed of inputs and initial weights.")]
