"""Converting another library's weights into mubench's own checkpoint format.

The result holds exactly ``get_model(NAME).state_dict()`` under mubench's names (safetensors), and its
JSON sidecar says where it came from (format, path, sha256), the training step, the schedule (its betas,
when the source holds them) and the objective, so that later runs need neither the source nor its library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mubench.errors import UsageError, opt


def convert(
    source: Path, model_name: str, out: Path, weights: str = "ema", prediction: str | None = None
) -> dict[str, Any]:
    """Read ``source`` onto registry model ``model_name`` and write it to ``out``; returns the sidecar."""
    from mubench.checkpoints import save_checkpoint, sidecar
    from mubench.registry import get_model
    from mubench.results import check_writable
    from mubench.sources import load_weights

    if out.suffix != ".safetensors":
        raise UsageError(
            f"{opt('out')} '{out}' must end in .safetensors (mubench checkpoints are safetensors)"
        )
    for path in (out, sidecar(out)):
        if path.exists():
            raise UsageError(
                f"{opt('out')}: '{path}' exists; mubench does not overwrite it (remove it first)"
            )
        check_writable(path)
    model = get_model(model_name)
    meta = load_weights(source, model, model_name, weights=weights, prediction=prediction)
    betas = meta.get("betas")
    record = {
        "model": model_name,
        "source_format": meta.get("source_format"),
        "source_path": str(Path(source).resolve()),
        "source_sha256": meta.get("source_sha256"),
        "steps": meta.get("steps"),
        "schedule": meta.get("schedule"),
        "betas": None if betas is None else [float(b) for b in betas],
        "prediction": meta.get("prediction"),
        "weights": meta.get("weights"),
    }
    save_checkpoint(out, model, {k: v for k, v in record.items() if v is not None})
    return record
