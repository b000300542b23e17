"""Shared test set-up: a fixed terminal width, a CLI runner, user-model modules, registry clean-up."""

from __future__ import annotations

import os

# Rich reads the width when mubench.cli is imported: fix it before any test module imports the CLI.
os.environ["COLUMNS"] = "200"
os.environ.pop("NO_COLOR", None)

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mubench import registry

# The tests check exact counts, not speed. One intra-op thread: on a shared 2-core machine two threads
# spinning against other load made the suite up to 7x slower (measured: 38 s vs 5 s for one file).
torch.set_num_threads(1)

USER_MODULE = "mubench_test_user_models"

USER_MODULE_SOURCE = '''
import torch
from torch import nn


class OneConv(nn.Module):
    def __init__(self, in_channels=3, out_channels=3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x, t):
        return self.conv(x)


def good():
    """A one-conv user model."""
    return OneConv()


good.mubench_resolution = 16


def not_a_module():
    return 42


def raises():
    raise RuntimeError("boom in the factory")


class Mutating(nn.Module):
    """Changes a buffer at every call: counting it must be refused."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x, t):
        self.calls += 1
        return self.conv(x)


def mutating():
    return Mutating()


NOT_CALLABLE = 5
'''


HOSTILE_MODULE = "mubench_test_hostile_models"

HOSTILE_MODULE_SOURCE = '''
"""User models that fail in every way a plug-in can: each factory is named after what goes wrong."""

import torch
from torch import nn


class Conv(nn.Module):
    """One convolution whose output ``forward`` spoils as ``mode`` says."""

    def __init__(self, mode="", after=0):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.weight = nn.Parameter(torch.ones(()))
        self.mode, self.after, self.calls = mode, after, 0  # calls: a plain attribute, not saved

    def forward(self, x, t):
        y = self.conv(x)
        self.calls += 1
        if self.calls <= self.after:
            return y
        if self.mode == "nan":
            return y * float("nan")
        if self.mode == "inf":
            return y + float("inf")
        if self.mode == "nan_first_image":
            return torch.cat([y[:1] * float("nan"), y[1:]])
        if self.mode == "nan_gradient":  # finite output, NaN gradient: sqrt'(0) * 0
            return y + (self.weight * 0).sqrt()
        if self.mode == "raises":
            raise RuntimeError("boom in forward")
        if self.mode == "exits":
            raise SystemExit(0)
        if self.mode == "tuple":
            return y, y
        if self.mode == "one_pixel":  # would broadcast against the target
            return y[:, :, :1, :1]
        if self.mode == "one_channel":  # would broadcast too
            return y[:, :1]
        if self.mode == "none":
            return None
        return y


def good():
    return Conv()


def factory_raises():
    raise RuntimeError("boom in the factory")


def factory_exits():
    raise SystemExit(0)


def factory_returns_tuple():
    return Conv(), Conv()


def forward_raises():
    return Conv("raises")


def forward_exits():
    return Conv("exits")


def forward_tuple():
    return Conv("tuple")


def forward_none():
    return Conv("none")


def one_pixel():
    return Conv("one_pixel")


def one_channel():
    return Conv("one_channel")


def nan():
    return Conv("nan")


def inf():
    return Conv("inf")


def nan_first_image():
    return Conv("nan_first_image")


def nan_gradient():
    return Conv("nan_gradient")


def nan_from_third_call():
    return Conv("nan", after=2)
'''


@pytest.fixture
def hostile_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module ``mubench_test_hostile_models`` of failing user models; returns its name."""
    src = tmp_path / "hostile_src"
    src.mkdir()
    (src / f"{HOSTILE_MODULE}.py").write_text(HOSTILE_MODULE_SOURCE)
    monkeypatch.delitem(sys.modules, HOSTILE_MODULE, raising=False)
    monkeypatch.syspath_prepend(str(src))
    yield HOSTILE_MODULE
    sys.modules.pop(HOSTILE_MODULE, None)


def _tree_digest(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p not in skip
    }


@pytest.fixture
def tree_digest():
    """``tree_digest(root, skip=())``: every file under ``root`` (but ``skip``) with the SHA-256 of its
    bytes, equal before and after a run that must leave the files as they were."""
    return _tree_digest


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module ``mubench_test_user_models`` with user factories; returns its name."""
    src = tmp_path / "user_src"
    src.mkdir()
    (src / f"{USER_MODULE}.py").write_text(USER_MODULE_SOURCE)
    (src / "mubench_test_broken_module.py").write_text(
        textwrap.dedent(
            """
            raise ImportError("this module is broken on purpose")
            """
        )
    )
    for name in (USER_MODULE, "mubench_test_broken_module"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(src))
    yield USER_MODULE
    for name in (USER_MODULE, "mubench_test_broken_module"):
        sys.modules.pop(name, None)


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch):
    """Whatever a test registers is gone afterwards (and entry points are re-read as before)."""
    registry.list_models()  # load built-ins (and real entry points) before the snapshot
    saved = dict(registry._REGISTRY)
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def _clean_exit(result, code: int) -> None:
    """The command ended through its own exit (no escaped exception) with ``code``."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output


@pytest.fixture
def clean_exit():
    """``clean_exit(result, code)``: exit ``code`` through the CLI's own exit, no traceback."""
    return _clean_exit


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt to fetch weights (torch.hub, which torchvision, lpips and pytorch-fid use) fails the
    test: mubench reads weights from files only."""
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
