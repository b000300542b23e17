"""LPIPS (Zhang et al. 2018) per image, from the ``lpips`` package, with backbone weights read from a file.

The package's linear calibration weights (v0.1) ship in its wheel. Its backbone (AlexNet or VGG-16) is
torchvision's ImageNet model, which the package would download; mubench builds the backbone with
random weights and loads them from the torch hub cache under torchvision's file name, or from the file
the user names. Nothing is downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mubench.errors import UsageError, opt

# torchvision's file names of its ImageNet weights, as torch hub caches them.
BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
LPIPS_NETS = tuple(BACKBONE_FILES)
_BATCH = 16  # images per LPIPS call


def default_backbone_path(net: str) -> Path:
    """Where the torch hub cache keeps torchvision's weights of ``net`` (``$TORCH_HOME/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net]


def check_net(net: str) -> None:
    if net not in BACKBONE_FILES:
        raise UsageError(f"{opt('lpips_net')} '{net}': choose one of {', '.join(LPIPS_NETS)}")


def backbone_path(net: str, given: str | None) -> Path:
    """The backbone file to read: the one given, else the hub cache's."""
    return Path(given) if given else default_backbone_path(net)


def missing_backbone_message(net: str, given: str | None) -> str | None:
    """None when the backbone file is there; else one line saying which exact file to put where."""
    path = backbone_path(net, given)
    if path.is_file():
        return None
    if given:
        what = "is a folder; give the .pth file" if path.is_dir() else "does not exist"
        return f"{opt('lpips_backbone')} '{given}' {what}"
    return (
        f"LPIPS needs torchvision's ImageNet {net} weights at {path} (put the file there, or give "
        f"{opt('lpips_backbone')} PATH); nothing is downloaded"
    )


class LpipsScorer:
    """LPIPS distance per image pair, images (N, C, H, W) in [0, 1] (one channel is repeated to three)."""

    def __init__(self, net: str = "alex", backbone: str | None = None):
        import lpips
        import torch

        check_net(net)
        missing = missing_backbone_message(net, backbone)
        if missing:
            raise UsageError(missing)
        self.net = net
        self.path = backbone_path(net, backbone)
        with warnings.catch_warnings():  # lpips passes torchvision's deprecated ``pretrained=False``
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: say which, in one line
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UsageError(f"cannot read LPIPS backbone '{self.path}': {reason}") from None
        self._load_backbone(state)

    def _load_backbone(self, state: dict) -> None:
        """torchvision's ``features.<i>.<param>`` into lpips' ``slice<k>.<i>.<param>`` (lpips keeps
        torchvision's layer index ``i`` as the module name inside each slice)."""
        import torch

        trunk = self.model.net
        wanted = trunk.state_dict()
        loaded = {}
        for name in wanted:
            source = "features." + name.split(".", 1)[1]
            tensor = state.get(source) if isinstance(state, dict) else None
            if not isinstance(tensor, torch.Tensor) or tensor.shape != wanted[name].shape:
                raise UsageError(
                    f"LPIPS backbone '{self.path}' is not torchvision's {self.net} weights: "
                    f"'{source}' is missing or of another shape"
                )
            loaded[name] = tensor
        trunk.load_state_dict(loaded)

    def check_size(self, side_px: int) -> None:
        """Raise UsageError unless images of ``side_px`` pixels pass through the backbone (AlexNet's
        pooling needs 31 or more, VGG's 16 or more)."""
        import torch

        try:
            with torch.inference_mode():
                self.model(torch.zeros(1, 3, side_px, side_px), torch.zeros(1, 3, side_px, side_px))
        except RuntimeError:
            raise UsageError(
                f"LPIPS with the {self.net} backbone cannot score {side_px}x{side_px} images (too small "
                "for its pooling)"
            ) from None

    def __call__(self, estimates: np.ndarray, clean: np.ndarray) -> list[float]:
        """LPIPS of each estimate to its clean image (lower is more alike); NaN where an estimate is."""
        import torch

        a = torch.as_tensor(np.asarray(estimates, dtype=np.float32))
        b = torch.as_tensor(np.asarray(clean, dtype=np.float32))
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(a), _BATCH):
                distance = self.model(a[start : start + _BATCH], b[start : start + _BATCH], normalize=True)
                out += [float(v) for v in distance.flatten()]
        return out
