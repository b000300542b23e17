"""pytorch-fid's Inception network, with its weights read from a file: never downloaded.

pytorch-fid's ``fid_inception_v3()`` fetches its weights by URL. mubench builds the same network and
hands it the state dict read from ``$TORCH_HOME/hub/checkpoints/`` (the file name pytorch-fid publishes)
or from ``--inception-weights PATH``; pytorch-fid loads it strictly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mubench.errors import UsageError, opt

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_SHA256_PREFIX = "6726825d"  # torch hub names a file by its sha256's first 8 hex digits
DIMS = (64, 192, 768, 2048)  # pytorch-fid's feature sizes, one per block; 2048 (pool3) is the standard


def default_weights_path() -> Path:
    """Where the torch hub cache keeps pytorch-fid's weights (``$TORCH_HOME/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def weights_path(given: str | None) -> Path:
    return Path(given) if given else default_weights_path()


def missing_weights_message(given: str | None) -> str | None:
    """None when the weights file is there; else one line saying which exact file to put where."""
    path = weights_path(given)
    if path.is_file():
        return None
    if given:
        what = "is a folder; give the .pth file" if path.is_dir() else "does not exist"
        return f"{opt('inception_weights')} '{given}' {what}"
    return (
        f"FID needs pytorch-fid's Inception weights at {path} (put the file there, or give "
        f"{opt('inception_weights')} PATH); nothing is downloaded"
    )


def check_dims(dims: int) -> None:
    if dims not in DIMS:
        raise UsageError(f"{opt('dims')} {dims}: pytorch-fid's Inception gives {', '.join(map(str, DIMS))}")


@contextlib.contextmanager
def _weights_from(state: dict[str, Any]) -> Iterator[None]:
    """While building, pytorch-fid's URL loader returns ``state`` instead of downloading."""
    import pytorch_fid.inception as module

    def load(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if url != module.FID_WEIGHTS_URL:  # anything else would be a download we did not plan
            raise RuntimeError(f"unexpected weights URL {url}")
        return state

    saved = module.load_state_dict_from_url
    module.load_state_dict_from_url = load
    try:
        yield
    finally:
        module.load_state_dict_from_url = saved


def load_inception(dims: int = 2048, given: str | None = None, device: str = "cpu") -> Any:
    """pytorch-fid's ``InceptionV3`` (FID variant) giving ``dims`` features, in eval mode on ``device``."""
    import torch
    from pytorch_fid.inception import InceptionV3

    check_dims(dims)
    missing = missing_weights_message(given)
    if missing:
        raise UsageError(missing)
    path = weights_path(given)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, in one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read Inception weights '{path}': {reason}") from None
    if not isinstance(state, dict):
        raise UsageError(f"Inception weights '{path}' hold a {type(state).__name__}, not a state dict")
    try:
        with _weights_from(state):
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[dims]])
    except RuntimeError as exc:  # load_state_dict: missing, unexpected or misshapen keys
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(f"Inception weights '{path}' are not pytorch-fid's network: {reason}") from None
    return net.eval().to(device)


def weights_note(path: Path, digest: str) -> str:
    """A note for rows made with weights other than pytorch-fid's published file ("" for that file)."""
    if digest.startswith(WEIGHTS_SHA256_PREFIX):
        return ""
    return (
        f"Inception weights {path} are not pytorch-fid's published file (sha256 {digest[:8]}, expected "
        f"{WEIGHTS_SHA256_PREFIX}...): not comparable with published FIDs"
    )
