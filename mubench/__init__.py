"""mubench: measure diffusion denoisers honestly (parameters, MACs, latency, robustness)."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``mubench.__version__``, read from the installed metadata on first use: importlib.metadata costs
    a tenth of `mubench --help`'s start, which never shows the version."""
    if name != "__version__":
        raise AttributeError(f"module 'mubench' has no attribute '{name}'")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mubench")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+src"
    globals()["__version__"] = found
    return found
