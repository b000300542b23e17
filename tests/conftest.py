"""Shared test set-up: a fixed terminal width, a CLI runner, user-model modules, registry clean-up."""

from __future__ import annotations

import os

# Rich reads the width when mubench.cli is imported: fix it before any test module imports the CLI.
os.environ["COLUMNS"] = "200"
os.environ.pop("NO_COLOR", None)

import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mubench import registry

# The tests check exact counts, not speed. One intra-op thread: on a shared 2-core machine two threads
# spinning against other load made the suite up to 7x slower (measured: 38 s vs 5 s for one file).
torch.set_num_threads(1)

# Plug-in modules of user models (good ones and every way one can fail), importable by name.
PLUGINS = Path(__file__).resolve().parent / "fixtures" / "plugins"
USER_MODULE = "mubench_test_user_models"


HOSTILE_MODULE = "mubench_test_hostile_models"


@pytest.fixture
def hostile_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module ``mubench_test_hostile_models`` of failing user models; returns its name."""
    monkeypatch.delitem(sys.modules, HOSTILE_MODULE, raising=False)
    monkeypatch.syspath_prepend(str(PLUGINS))
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
def user_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module ``mubench_test_user_models`` with user factories; returns its name."""
    for name in (USER_MODULE, "mubench_test_broken_module"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(PLUGINS))
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
