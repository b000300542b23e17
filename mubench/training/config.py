"""What a training run is given: model, data, budgets, optimizer, device and precision, curves; checked
before anything is built."""

from __future__ import annotations

from dataclasses import dataclass

from mubench.errors import UsageError, opt

# The numeric settings of a run: each must be finite and in range before anything is built.
NUMBERS = ("steps", "images", "minutes", "train_tmacs", "batch_size", "lr", "ema_decay", "grad_clip", "seed",
           "save_every", "workers", "resolution", "eval_every", "eval_images", "eval_steps")  # fmt: skip
MAX_LR = 1.0
DEFAULT_STEPS = 2000  # when no budget is given
DEFAULT_EVAL_SIGMAS = (0.1, 0.2, 0.3)
TRAIN_PREDICTIONS = ("eps", "v")  # objectives mubench trains (the samplers also read x0-predicting weights)
# Settings that change what a run computes: a resumed run must keep them (the budgets may grow, and the
# device, precision and number of processes may change).
RESUMED_AS_BEFORE = ("dataset", "prediction", "lr", "batch_size", "ema_decay", "grad_clip", "seed", "flip")
BUDGETS = ("steps", "images", "minutes", "train_tmacs")


@dataclass(frozen=True)
class TrainConfig:
    model: str
    dataset: str = "patches32"
    steps: int | None = None  # optimizer steps (None: no step budget; DEFAULT_STEPS if no budget at all)
    images: int | None = None  # training images seen (steps x global batch)
    minutes: float | None = None  # wall-clock budget
    train_tmacs: float | None = None  # training compute: 3 x forward MACs x images seen, in 1e12
    batch_size: int = 64  # the global batch: split over the processes under torchrun
    lr: float = 2e-4  # Adam learning rate (Ho et al.: 2e-4)
    ema_decay: float = 0.999  # EMA of the weights per step
    grad_clip: float = 1.0  # max gradient norm (Ho et al.: 1)
    prediction: str | None = None  # "eps" or "v"; None: what the model is registered for
    seed: int = 0
    save_every: int = 500  # steps between checkpoints
    data_root: str | None = None  # root of torchvision datasets
    resolution: int | None = None  # folder and torchvision datasets: crop side (None: the dataset's own)
    flip: bool = True  # random horizontal flips (the DDPM recipe)
    workers: int = 0  # DataLoader worker processes
    device: str = "cpu"
    dtype: str = "fp32"  # fp32, or bf16 / fp16 under autocast
    channels_last: bool = False
    compile: bool = False
    eval_every: int = 0  # steps between scores of the EMA weights (0: none)
    eval_images: int = 64
    eval_steps: int = 10  # DDIM calls from t*
    eval_sigmas: tuple[float, ...] = DEFAULT_EVAL_SIGMAS

    def __post_init__(self) -> None:
        from mubench.data import check_dataset_name
        from mubench.measure.runtime.device import check_dtype_name
        from mubench.ranges import check_numbers

        if all(getattr(self, name) is None for name in BUDGETS):
            object.__setattr__(self, "steps", DEFAULT_STEPS)
        numbers = {name: getattr(self, name) for name in NUMBERS}
        given = {name: value for name, value in numbers.items() if value is not None}
        check_numbers({**given, "eval_sigma": list(self.eval_sigmas)})  # finite, and within their ranges
        if self.lr > MAX_LR:
            raise UsageError(
                f"{opt('lr')} must be at most {MAX_LR:g} (Adam moves each weight by about lr per step), "
                f"got {self.lr}"
            )
        check_dataset_name(self.dataset)
        if self.prediction is not None and self.prediction not in TRAIN_PREDICTIONS:
            raise UsageError(
                f"{opt('prediction')} must be one of {', '.join(TRAIN_PREDICTIONS)}, got '{self.prediction}'"
            )
        object.__setattr__(self, "dtype", check_dtype_name(self.dtype))
        if not self.eval_sigmas:
            raise UsageError(f"give at least one {opt('eval_sigma')}")
        object.__setattr__(self, "eval_sigmas", tuple(sorted(set(self.eval_sigmas))))

    def budgets(self) -> dict[str, float]:
        """The budgets given (steps, images, minutes, train_tmacs): training stops at the first reached."""
        return {name: getattr(self, name) for name in BUDGETS if getattr(self, name) is not None}

    def mode(self) -> str:
        """How the model is run, e.g. ``eager`` or ``compile+channels_last``."""
        parts = [
            name for name, on in (("compile", self.compile), ("channels_last", self.channels_last)) if on
        ]
        return "+".join(parts) or "eager"
