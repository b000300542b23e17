"""What a robustness run measures: noise levels, images, sampler, metrics, weights, and where and how the
models run (device, autocast dtype, batch size, memory format, compilation)."""

from __future__ import annotations

from dataclasses import dataclass

from mubench.data import check_dataset_name
from mubench.defaults import REFERENCES
from mubench.diffusion.samplers import PREDICTIONS, Sampler
from mubench.errors import UsageError, opt
from mubench.measure.robustness.lpips import check_net, missing_backbone_message
from mubench.measure.runtime.device import check_dtype_name
from mubench.measure.runtime.mode import mode_label
from mubench.ranges import check_numbers


@dataclass(frozen=True)
class RobustnessConditions:
    sigmas: tuple[float, ...] = (0.1,)
    dataset: str = "patches32"
    num_images: int = 50
    sampler: str = "ddim"
    steps: int | None = None  # ddim: calls from t* (None: every step); ddpm: all t* + 1
    eta: float = 0.0
    seed: int = 0
    allow_untrained: bool = False
    references: tuple[str, ...] = REFERENCES
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model name, path) pairs; others use shipped ones
    data_root: str | None = None  # root of torchvision datasets
    steps_sweep: tuple[int, ...] = ()  # ddim: one row per number of reverse steps from t* (convergence)
    prefault: bool = True  # make the loaded libraries' pages resident before timing the denoisers
    metrics: tuple[str, ...] = ()  # asked for explicitly (each required); () = psnr, ssim, lpips if it can
    lpips_net: str = "alex"
    lpips_backbone: str | None = None  # the backbone weights file (default: the torch hub cache's)
    weights: str = "ema"  # a Trainer checkpoint's ema or raw weights
    prediction: str | None = None  # eps, v or x0: for weights whose source does not say
    device: str = "cpu"  # cpu, cuda or cuda:N; under torchrun cuda is each rank's own GPU
    dtype: str = "fp32"  # fp32, or fp16 / bf16: the model calls under autocast
    batch_size: int = 32  # images per denoiser call (an image's result does not depend on it)
    compile: bool = False  # torch.compile every model
    channels_last: bool = False  # channels-last memory format for every model and input

    def __post_init__(self) -> None:
        if not self.sigmas:
            raise UsageError(f"give at least one {opt('sigma')}")
        check_numbers({"sigma": list(self.sigmas), "num_images": self.num_images, "seed": self.seed,
                       "batch_size": self.batch_size})  # fmt: skip
        check_dtype_name(self.dtype)
        unknown = set(self.references) - set(REFERENCES)
        if unknown:
            raise UsageError(
                f"unknown reference denoiser(s) {sorted(unknown)}; choose from {', '.join(REFERENCES)}"
            )
        check_dataset_name(self.dataset)
        named = [name for name, _ in self.checkpoints]
        repeated = sorted({name for name in named if named.count(name) > 1})
        if repeated:
            raise UsageError(
                f"{opt('checkpoint')} for {', '.join(repeated)} given more than once; give one each"
            )
        if self.sampler == "ddpm" and (self.steps is not None or self.steps_sweep):
            raise UsageError(
                f"the ddpm sampler runs every step from t*; use {opt('sampler')} ddim for {opt('steps')}"
            )
        if self.steps_sweep and self.steps is not None:
            raise UsageError(f"give {opt('steps')} or {opt('steps_sweep')}, not both")
        Sampler(self.sampler, self.steps, self.eta)  # validates
        if self.prediction is not None and self.prediction not in PREDICTIONS:
            raise UsageError(
                f"{opt('prediction')} must be one of {', '.join(PREDICTIONS)}, got '{self.prediction}'"
            )
        unknown_metrics = sorted(set(self.metrics) - set(METRICS))
        if unknown_metrics:
            raise UsageError(f"{opt('metric')} '{unknown_metrics[0]}': choose from {', '.join(METRICS)}")
        check_net(self.lpips_net)
        if self.metrics and "lpips" not in self.metrics and self.lpips_backbone is not None:
            raise UsageError(f"{opt('lpips_backbone')} has no effect without lpips in {opt('metric')}")

    def mode(self) -> str:
        """The models' inference mode as latency names it: ``eager``, ``compile``, ``channels_last``, ..."""
        return mode_label(self.compile, channels_last=self.channels_last)


METRICS = ("psnr", "ssim", "lpips")  # their columns: psnr_db_*, ssim_*, lpips_*
LPIPS_LEFT_OUT = "LPIPS left out"  # how the note on a run without LPIPS begins


def metric_plan(conds: RobustnessConditions) -> tuple[tuple[str, ...], str | None]:
    """(the metrics to measure, a note when LPIPS is left out). Metrics asked for explicitly are each
    required: LPIPS without its backbone file is then refused, naming the exact path; by default it is
    measured when the file is there and otherwise left out, with the note."""
    missing = missing_backbone_message(conds.lpips_net, conds.lpips_backbone)
    if conds.metrics:
        if "lpips" in conds.metrics and missing:
            raise UsageError(missing)
        return tuple(m for m in METRICS if m in conds.metrics), None
    if missing and conds.lpips_backbone is not None:  # a file named but absent is a mistake, not a default
        raise UsageError(missing)
    if missing:
        return ("psnr", "ssim"), f"{LPIPS_LEFT_OUT}: {missing}"
    return METRICS, None
