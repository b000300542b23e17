"""Files the tests write and several test modules share: networks with random weights under the names
their libraries load, and folders of PNG images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_random_inception(path: Path) -> None:
    """pytorch-fid's network with random weights: torchvision's Inception v3 of 1008 classes has its
    parameter names and shapes. He-normal convolutions keep the features near unit scale (the default
    initialisation shrinks them to ~1e-8); the unused classifier is one broadcast zero (a small file)."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        net = torchvision.models.inception_v3(
            weights=None, aux_logits=False, num_classes=1008, init_weights=False
        )
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    state = {
        k: torch.zeros(1).expand(v.shape) if k.startswith("fc.") else v for k, v in net.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def write_pngs(folder: Path, n: int, seed: int, size: int = 32, bright: float = 0.0) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        smooth = rng.random((size // 4, size // 4, 3)).repeat(4, 0).repeat(4, 1)
        pixels = np.clip(smooth * 0.7 + rng.random((size, size, 3)) * 0.3 + bright, 0, 1)
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / f"{i:06d}.png")
    return folder


def write_random_alexnet(path: Path) -> None:
    """torchvision's AlexNet with random weights, under its hub file name. The classifier, which LPIPS
    does not use, is stored as one broadcast zero per tensor (a 10 MB file instead of 244 MB); loading
    it into torchvision's model still works."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        state = torchvision.models.alexnet(weights=None).state_dict()
    state = {k: v if k.startswith("features.") else torch.zeros(1).expand(v.shape) for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
