"""Weights from the ecosystem, read onto mubench's models: one module per source format.

- :mod:`~mubench.sources.diffusers_folder`: diffusers model / pipeline folders onto ``ddpm-unet``;
- :mod:`~mubench.sources.ddp_trainer`: denoising-diffusion-pytorch ``Trainer`` checkpoints onto
  ``lucid-unet`` (or, for the authors' code, ``ode-u-ref``);
- :mod:`~mubench.sources.cunet`: the authors' ``ConvSODEUNet`` state dict onto ``ode-u-ref``;
- :mod:`~mubench.sources.detect`: which network a set of tensor names belongs to.

mubench's own format (safetensors + JSON sidecar) stays in :mod:`mubench.checkpoints`. Files are read
with safetensors or ``torch.load(weights_only=True)`` only. :func:`load_weights` is the one entry point:
it reads any of them into a built model and says what it read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from mubench.defaults import PREDICTIONS
from mubench.errors import UsageError, opt
from mubench.sources.detect import describe, network_of
from mubench.sources.files import TORCH_SUFFIXES, fit_problems, read_tensor_file, sha256_of, source_label
from mubench.sources.renaming import Renamer

WEIGHTS = ("ema", "raw")


def load_weights(
    path: str | Path, model: nn.Module, model_name: str, weights: str = "ema", prediction: str | None = None
) -> dict[str, Any]:
    """Read the weights at ``path`` (any supported source) into ``model`` (registry name ``model_name``).

    Returns what is known of them: ``source_format`` (mubench, diffusers, ddp-trainer, cunet, state-dict),
    ``source_path``, ``source_sha256``, ``steps``, ``schedule`` and ``betas`` (float64, when the source
    holds its schedule), ``prediction`` (eps, v, x0 or None when unknown) and ``label`` (how rows name
    them; None for mubench's own files). ``prediction`` given by the user fills an unknown objective and
    must agree with a known one. Raises :class:`UsageError` naming every problem.
    """
    from mubench.checkpoints import load_checkpoint
    from mubench.sources.diffusers_model import DiffusersDenoiser, folder_meta

    path = Path(path)
    if weights not in WEIGHTS:
        raise UsageError(f"{opt('weights')} must be one of {', '.join(WEIGHTS)}, got '{weights}'")
    if prediction is not None and prediction not in PREDICTIONS:
        raise UsageError(f"{opt('prediction')} must be one of {', '.join(PREDICTIONS)}, got '{prediction}'")
    if not path.exists():
        raise UsageError(f"checkpoint '{path}' does not exist")
    if isinstance(model, DiffusersDenoiser):
        if path != model.folder:
            raise UsageError(
                f"model '{model_name}' runs with its own folder's weights; give no {opt('checkpoint')} for it"
            )
        return _with_prediction(folder_meta(model, model_name), path, prediction)
    read = _read(path, model, model_name, weights)
    if read is None:  # mubench's own names
        own = {"source_format": "mubench", **load_checkpoint(path, model, model_name), "label": None}
        return _with_prediction(own, path, prediction)
    renamed, fields, file, source_format = read
    _check_fit(renamed, path, model, model_name)
    meta = _with_prediction({"prediction": fields.get("prediction")}, path, prediction)
    model.load_state_dict(renamed.out)
    digest = sha256_of(file)
    return {
        "model": model_name,
        "source_format": source_format,
        "source_path": str(path),
        "source_sha256": digest,
        "steps": fields.get("step"),
        "schedule": fields.get("schedule"),
        "betas": fields.get("betas"),
        "prediction": meta["prediction"],
        "weights": weights if source_format == "ddp-trainer" else None,
        "label": source_label(source_format, path, digest),
    }


def _read(
    path: Path, model: nn.Module, model_name: str, weights: str
) -> tuple[Renamer, dict[str, Any], Path, str] | None:
    """(renamed tensors, schedule fields, weights file, format) of another library's weights at ``path``;
    None when they are mubench's own (a checkpoint with its sidecar, or mubench's tensor names)."""
    from mubench.sources import ddp_trainer, diffusers_folder

    if path.is_dir():
        if not diffusers_folder.is_diffusers_folder(path):
            raise UsageError(
                f"folder '{path}' is not a diffusers model or pipeline folder: it has no config.json "
                "(nor unet/config.json); a mubench checkpoint is a .safetensors file"
            )
        renamed, fields, file = diffusers_folder.read(path, model, model_name)
        return renamed, fields, file, "diffusers"
    if _is_own_file(path):
        return None
    content = read_tensor_file(path)
    if ddp_trainer.is_trainer_checkpoint(content):
        renamed, fields = ddp_trainer.read(content, path, model, model_name, weights)
        return renamed, fields, path, "ddp-trainer"
    if not isinstance(content, dict) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise UsageError(
            f"checkpoint '{path}' holds neither a name -> tensor state dict nor a "
            "denoising-diffusion-pytorch Trainer checkpoint"
        )
    renamed, source_format = _state_dict(content, path, model, model_name)
    return None if renamed is None else (renamed, {}, path, source_format)


def _with_prediction(meta: dict[str, Any], path: Path, prediction: str | None) -> dict[str, Any]:
    """``meta`` with the objective: the one it records, checked against the user's, else the user's."""
    known = meta.get("prediction")
    if prediction is not None and known is not None and prediction != known:
        raise UsageError(
            f"checkpoint '{path}' was trained to predict {known}, not {prediction} ({opt('prediction')})"
        )
    return {**meta, "prediction": known or prediction}


def checkpoint_label(path: str | Path) -> str:
    """How rows name the weights at ``path`` without loading them into a model: mubench's own files by
    their path, other sources by format, path and sha256 (as :func:`load_weights` labels them)."""
    from mubench.sources import ddp_trainer, diffusers_folder

    path = Path(path)
    if path.is_dir():
        return source_label(
            "diffusers", path, sha256_of(diffusers_folder.weights_file(diffusers_folder.locate(path)))
        )
    if _is_own_file(path):
        return str(path)
    content = read_tensor_file(path)
    if ddp_trainer.is_trainer_checkpoint(content):
        return source_label("ddp-trainer", path, sha256_of(path))
    network = network_of(content) if isinstance(content, dict) else None
    if network is None or network.startswith("mubench"):
        return str(path)
    return source_label("cunet" if network == "cunet" else "state-dict", path, sha256_of(path))


def _is_own_file(path: Path) -> bool:
    """mubench's own checkpoint: a .safetensors file with its JSON sidecar (or a suffix only it reads)."""
    from mubench.checkpoints import read_meta

    if path.suffix == ".safetensors":
        return bool(read_meta(path))
    return path.suffix not in TORCH_SUFFIXES


def _state_dict(
    tensors: dict[str, torch.Tensor], path: Path, model: nn.Module, model_name: str
) -> tuple[Renamer | None, str]:
    """A plain state dict: another library's names renamed, or None for mubench's own names."""
    from mubench.models.lucid_unet import LucidUNet
    from mubench.models.ode_unet import ContinuousUNet
    from mubench.sources import cunet, ddp_trainer

    network = network_of(tensors)
    if network is None or network.startswith("mubench"):
        return None, "mubench"
    if network == "cunet" and isinstance(model, ContinuousUNet):
        return cunet.to_mubench(tensors, model), "cunet"
    if network == "ddp-unet" and isinstance(model, LucidUNet):
        return ddp_trainer.lucid_to_mubench(tensors, model), "state-dict"
    hint = {
        "diffusers-unet2d": "; give the diffusers folder (with its config.json), not the weights file alone",
        "cunet": "; use ode-u-ref",
        "ddp-unet": "; use lucid-unet or lucid-unet-tiny",
    }.get(network, "")
    raise UsageError(
        f"checkpoint '{path}' holds {describe(tensors)}, which model '{model_name}' is not{hint}"
    )


def _check_fit(renamed: Renamer, path: Path, model: nn.Module, model_name: str) -> None:
    problems = renamed.problems()
    shapes = [p for p in fit_problems(renamed.out, model.state_dict()) if p.startswith("shape")]
    if problems or shapes:
        fits = _fitting(renamed.source, model, model_name)
        lead = f"fits {', '.join(fits)}, not" if fits else "does not fit"
        raise UsageError(f"checkpoint '{path}' {lead} model '{model_name}': {'; '.join(problems + shapes)}")


def _fitting(source: dict[str, torch.Tensor], model: nn.Module, model_name: str) -> list[str]:
    """The registry models of ``model``'s class that the tensors fit exactly."""
    from mubench.registry import get_spec, list_models

    fits = []
    for name in list_models():
        if name == model_name:
            continue
        with torch.device("meta"):
            candidate = get_spec(name).build()
        if type(candidate) is not type(model):
            continue
        renamed = _rename_like(source, candidate)
        if (
            renamed is not None
            and not renamed.problems()
            and not fit_problems(renamed.out, candidate.state_dict())
        ):
            fits.append(name)
    return fits


def _rename_like(source: dict[str, torch.Tensor], model: nn.Module) -> Renamer | None:
    from mubench.sources import cunet, ddp_trainer, diffusers_folder

    network = network_of(source)
    mapper = {"diffusers-unet2d": diffusers_folder.to_mubench, "ddp-unet": ddp_trainer.lucid_to_mubench,
              "cunet": cunet.to_mubench}.get(network or "")  # fmt: skip
    return mapper(source, model) if mapper else None


def noise_schedule(meta: dict[str, Any], fallback: str) -> Any:
    """The schedule weights were trained with: their own betas when known, else the schedule named in
    ``meta`` (or ``fallback``, the model's registered one)."""
    from mubench.diffusion.schedules import NoiseSchedule

    betas = meta.get("betas")
    if betas is not None:
        return NoiseSchedule(
            str(meta.get("schedule") or "custom"), torch.as_tensor(betas, dtype=torch.float64)
        )
    return NoiseSchedule.create(meta.get("schedule") or fallback)
