"""`mubench train`: a registry model trained as a denoiser, on one process or many (torchrun)."""

from mubench.training.config import TrainConfig
from mubench.training.loop import ema_decay_at
from mubench.training.run import train

__all__ = ["TrainConfig", "ema_decay_at", "train"]
