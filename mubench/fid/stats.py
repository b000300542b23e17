"""Statistics in pytorch-fid's ``.npz`` layout (``mu`` (d,), ``sigma`` (d, d), float64), written and
read; the Frechet distance is pytorch-fid's own function."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from mubench.errors import MeasurementError, UsageError, opt


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (n, d) features, in float64, as pytorch-fid computes them."""
    features = np.asarray(features, dtype=np.float64)
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """FID: pytorch-fid's ``calculate_frechet_distance`` (its messages about a singular product, which it
    prints, are kept off stdout)."""
    import contextlib
    import io

    from pytorch_fid.fid_score import calculate_frechet_distance

    from mubench.checks import check_statistics

    check_statistics(mu_a, sigma_a, "the first side's statistics")
    check_statistics(mu_b, sigma_b, "the second side's statistics")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            distance = float(calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b))
    except ValueError as exc:  # a large imaginary part of the matrix square root
        raise MeasurementError(f"the Frechet distance cannot be computed: {exc}") from None
    # A distance is >= 0; a value below by more than rounding means the matrix square root failed.
    scale = 1e-6 * max(1.0, float(np.trace(sigma_a) + np.trace(sigma_b)))
    if not np.isfinite(distance) or distance < -scale:
        raise MeasurementError(f"the Frechet distance came out as {distance}, which no distance can be")
    return max(distance, 0.0)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` and ``sigma`` of a statistics file (pytorch-fid's, EDM's or mubench's), checked."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"mu", "sigma"} <= keys:
                found = ", ".join(sorted(keys)) or "none"
                raise UsageError(
                    f"'{path}' has no 'mu' and 'sigma' arrays (pytorch-fid's layout); its arrays: {found}"
                )
            mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    except UsageError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read '{path}' as an .npz file: {reason}") from None
    from mubench.checks import check_statistics

    check_statistics(mu, sigma, f"'{path}'")
    return mu, sigma


def check_out(out: Path) -> None:
    """Refuse an output that exists, is not an .npz name, or cannot be written: before any work."""
    from mubench.results import check_writable

    if out.suffix != ".npz":
        raise UsageError(f"{opt('out')} '{out}': give a file name ending in .npz (pytorch-fid's statistics)")
    if out.exists() or out.is_symlink():
        raise UsageError(f"{opt('out')} '{out}' exists; give a new file name (it is never overwritten)")
    check_writable(out)


def write_npz(out: Path, mu: np.ndarray, sigma: np.ndarray) -> None:
    """Write ``mu`` and ``sigma`` whole, or nothing: through a temporary file linked to ``out``, so that an
    existing file, even one made meanwhile, is never replaced."""
    from mubench.checks import check_statistics
    from mubench.outputs import WriteError
    from mubench.results import TEMP_PREFIX, default_file_mode

    check_statistics(mu, sigma, f"the statistics for '{out}' (nothing written)")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".partial", dir=out.parent)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, mu=mu, sigma=sigma)
        os.chmod(tmp, default_file_mode())
        os.link(tmp, out)
    except FileExistsError:
        raise UsageError(f"{opt('out')} '{out}' appeared while computing; it was left as it is") from None
    except OSError as exc:
        raise WriteError(out, exc) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
