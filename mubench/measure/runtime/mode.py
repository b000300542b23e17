"""How a model is run for timing or profiling: device, precision, input, memory format, compilation.

Latency and profile share it, so that a profile explains the very mode that was timed; robustness rows
name their mode the same way (:func:`mode_label`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mubench.errors import UsageError, opt
from mubench.measure.runtime.compile_options import CompileOptions, describe_compile_options
from mubench.measure.runtime.device import NumericFlags, check_dtype_name
from mubench.measure.runtime.prepack import check_prepack_available
from mubench.models.solver_config import SolverConfig
from mubench.ranges import check_numbers


@dataclass(frozen=True)
class InferenceMode:
    """The inference mode and inputs every model of a run shares."""

    device: str = "cpu"
    dtype: str = "fp32"  # fp32, or fp16 / bf16 under autocast
    batch_size: int = 1
    resolution: int | None = None  # None: the model's own (single model only)
    channels: int | None = None
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
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model name, path): weights to run with
    weights: str = "ema"  # a Trainer checkpoint's ema or raw weights

    def __post_init__(self) -> None:
        numbers = {"batch_size": self.batch_size, "warmup": self.warmup_min, "seed": self.seed,
                   "channels": self.channels, "resolution": self.resolution}  # fmt: skip
        check_numbers({name: value for name, value in numbers.items() if value is not None})
        check_dtype_name(self.dtype)
        if self.compile_options and not self.compile:
            raise UsageError(f"{opt('compile_option')} only applies with {opt('compile')}")
        if self.cuda_graphs and not self.device.startswith("cuda"):
            raise UsageError(f"{opt('cuda_graphs')} needs a CUDA device ({opt('device')} cuda)")
        if self.prepack:
            check_prepack_available(self.device, self.dtype, self.channels_last)

    def mode(self) -> str:
        """The inference mode applied to every model, e.g. ``eager`` or ``compile+channels_last``."""
        return mode_label(
            self.compile, self.compile_options, self.channels_last, self.cuda_graphs, self.prepack
        )


def mode_label(
    compile: bool,
    compile_options: CompileOptions = (),
    channels_last: bool = False,
    cuda_graphs: bool = False,
    prepack: bool = False,
) -> str:
    """The ``mode`` column: ``eager``, or the flags that are on, e.g. ``compile+channels_last``."""
    compiled = f"compile({describe_compile_options(compile_options)})" if compile_options else "compile"
    flags = ((compiled, compile), ("channels_last", channels_last), ("cuda_graphs", cuda_graphs),
             ("prepack", prepack))  # fmt: skip
    return "+".join(name for name, on in flags if on) or "eager"
