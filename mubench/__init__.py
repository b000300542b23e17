"""mubench: measure diffusion denoisers honestly (parameters, MACs, latency, robustness)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mubench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
