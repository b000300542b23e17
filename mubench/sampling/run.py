"""``mubench sample``: the reverse process from pure noise, one image per seed, written as PNG files.

The image of a seed depends on that seed alone: its initial noise and the noise of every stochastic
step come from a generator of its own, seeded with it, so any batch size (or split of the seeds over
processes, :func:`mubench.sampling.seeds.shard`) gives the same image.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mubench.errors import MeasurementError, MubenchError, UsageError, opt
from mubench.sampling.images import seed_file, to_uint8, write_grid, write_png
from mubench.sampling.seeds import batches, describe_seeds, parse_seeds, shard

DEFAULT_DDIM_STEPS = 50
NUM_DIFFUSION_STEPS = 1000  # T of every built-in model's schedule
MARKER = "mubench-sample.json"  # what tells a folder mubench sample made from any other
GRID = "grid.png"


@dataclass(frozen=True)
class SampleConditions:
    model: str
    seeds: str = "0-63"
    steps: int | None = None  # ddim: denoiser calls (None: DEFAULT_DDIM_STEPS); ddpm: every step
    sampler: str = "ddim"
    eta: float = 0.0
    batch_size: int = 64
    checkpoint: str | None = None  # the weights file; default: the model's shipped weights
    allow_untrained: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        from mubench.ranges import check_numbers
        from mubench.registry import get_spec

        get_spec(self.model)
        parse_seeds(self.seeds)
        if self.sampler == "ddim" and self.steps is None:
            object.__setattr__(self, "steps", DEFAULT_DDIM_STEPS)
        check_numbers({"batch_size": self.batch_size})
        self.sampler_object().timesteps(NUM_DIFFUSION_STEPS - 1)  # checks sampler, steps and eta

    def sampler_object(self) -> Any:
        from mubench.diffusion.samplers import Sampler

        return Sampler(self.sampler, self.steps, self.eta)


def parse_checkpoint(model: str, entries: list[str]) -> str | None:
    """``--checkpoint NAME=PATH`` (NAME must be the model sampled) -> PATH."""
    if not entries:
        return None
    if len(entries) > 1:
        raise UsageError(f"{opt('checkpoint')} given {len(entries)} times; sample takes one model")
    name, sep, path = entries[0].partition("=")
    if not sep or not name or not path:
        raise UsageError(f"{opt('checkpoint')} '{entries[0]}': write it as NAME=PATH")
    if name != model:
        raise UsageError(f"{opt('checkpoint')} for {name}, but the model sampled is {model}")
    return path


def weights_path(conds: SampleConditions) -> Path | None:
    """The weights to load: --checkpoint, else the shipped ones, else None (refused unless allowed)."""
    from mubench.checkpoints import shipped_checkpoint

    if conds.checkpoint is not None:
        path = Path(conds.checkpoint)
        if not path.is_file():
            what = "is a folder; give the .safetensors file" if path.is_dir() else "does not exist"
            raise UsageError(f"{opt('checkpoint')} {conds.model}={path}: checkpoint '{path}' {what}")
        return path
    path = shipped_checkpoint(conds.model)
    if path is None and not conds.allow_untrained:
        raise UsageError(
            f"no checkpoint for {conds.model}: pass {opt('checkpoint')} {conds.model}=PATH (train one with "
            f"`mubench train`), or {opt('allow_untrained')}"
        )
    return path


def prepare_out(out: Path, conds: SampleConditions, label: str) -> None:
    """Make ``out`` (or reuse one that this command made for the same model, weights and sampler);
    refuse a file, or a folder with other files, or one holding samples of other conditions."""
    made = {"model": conds.model, "checkpoint": label, "sampler": conds.sampler, "steps": conds.steps,
            "eta": conds.eta}  # fmt: skip
    marker = out / MARKER
    if out.exists() and not out.is_dir():
        raise UsageError(f"{opt('out')} '{out}' is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise UsageError(
                f"{opt('out')} '{out}' is not empty and was not made by mubench sample; give a new or empty "
                "folder"
            )
        try:
            earlier = json.loads(marker.read_text()).get("conditions")
        except (OSError, ValueError, AttributeError):
            earlier = None
        if earlier != made:
            raise UsageError(
                f"{opt('out')} '{out}' holds samples of other conditions ({earlier}); give another folder"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"conditions": made}, indent=1) + "\n")
    except OSError as exc:
        raise UsageError(f"{opt('out')} '{out}': cannot write there ({exc.strerror or exc})") from None


def sample(
    conds: SampleConditions,
    out: Path,
    run_id: str,
    tick: Callable[[str, int], None] | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> dict[str, Any]:
    """Generate and write this rank's share of the seeds, then (rank 0) the grid; return the row."""
    from mubench.checkpoints import load_checkpoint, shipped_checkpoint
    from mubench.diffusion.schedules import NoiseSchedule
    from mubench.measure.device import resolve_device
    from mubench.measure.setup import build_model, checked_output
    from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
    from mubench.registry import get_spec
    from mubench.results import environment, make_row

    spec = get_spec(conds.model)
    device = resolve_device(conds.device)
    seeds = parse_seeds(conds.seeds)
    path = weights_path(conds)
    label = "untrained" if path is None else (
        f"shipped:{path.name}" if path == shipped_checkpoint(conds.model) else str(path)
    )  # fmt: skip
    model = build_model(spec)
    trained = load_checkpoint(path, model, spec.name) if path is not None else {}
    model = model.to(device)
    schedule = NoiseSchedule.create(trained.get("schedule") or spec.schedule)
    prediction = trained.get("prediction") or spec.prediction
    resolution = int(trained.get("resolution") or spec.resolution)
    spec.check_resolution(resolution)
    sampler = conds.sampler_object()
    t_start = schedule.num_steps - 1
    sampler.timesteps(t_start)
    prepare_out(out, conds, label)

    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return checked_output(spec.name, model(x, t), x)

    mine = shard(seeds, rank, world_size)
    seconds, calls, nfe_first = 0.0, 0, None
    for done, batch in enumerate(batches(mine, conds.batch_size), start=1):
        generators = [torch.Generator().manual_seed(seed) for seed in batch]
        shape = (spec.channels, resolution, resolution)
        noise = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device)
        reset_nfe(model)
        begin = time.perf_counter()
        try:
            with torch.inference_mode():
                result = sampler.sample(denoiser, schedule, noise, t_start, prediction, generators)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        except MubenchError:
            raise
        except Exception as exc:  # a user's model may raise anything: one line, the files so far kept
            raise MeasurementError(
                f"model '{spec.name}' failed on seeds {describe_seeds(batch)}: {type(exc).__name__}: {exc}"
            ) from None
        seconds += time.perf_counter() - begin
        bad = [seed for seed, x in zip(batch, result.x0) if not bool(torch.isfinite(x).all())]
        if bad:
            raise MeasurementError(
                f"model '{spec.name}' gave non-finite values for seeds {describe_seeds(bad)}; no image "
                "written for them"
            )
        calls = result.denoiser_calls
        if nfe_first is None and has_ode_blocks(model):
            nfe_first = sum(nfe_by_block(model).values())
        for seed, image in zip(batch, to_uint8(result.x0)):
            write_png(image, seed_file(out, seed))
        if tick:  # (label, images done)
            finished = min(done * conds.batch_size, len(mine))
            tick(f"{finished}/{len(mine)} images", finished)
    if rank == 0:
        write_grid(out, seeds, out / GRID)
    message = "" if trained else "untrained: random weights, not samples of a trained model"
    return make_row(
        "sample",
        run_id,
        model=spec.name,
        device=str(device),
        batch_size=conds.batch_size,
        resolution=resolution,
        steps=calls,
        sampler=sampler.describe(),
        solver=model.solver.describe() if has_ode_blocks(model) else None,
        message=message,
        seeds=describe_seeds(seeds),
        n_seeds=len(seeds),
        checkpoint=label,
        training_steps=trained.get("steps"),
        nfe_per_trajectory=nfe_first,
        sample_s_per_image=seconds / len(mine),
        out_dir=str(out),
        **environment(str(device)),
    )
