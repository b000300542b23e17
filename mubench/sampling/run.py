"""``mubench sample``: the reverse process from pure noise, one image per seed, written as PNG files.

The image of a seed depends on that seed alone: its initial noise and the noise of every stochastic
step come from a generator of its own, seeded with it, so any batch size (or split of the seeds over
processes under torchrun, :mod:`mubench.distributed`) gives the same image.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mubench.distributed import join
from mubench.errors import MeasurementError, MubenchError, UsageError, opt
from mubench.sampling.images import seed_file, to_uint8, write_grid, write_png
from mubench.sampling.seeds import batches, describe_seeds, parse_seeds

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


def prepare_out(out: Path, conds: SampleConditions, label: str, seeds: list[int]) -> None:
    """Make ``out`` (or reuse one that this command made for the same model, weights and sampler);
    refuse a file, or a folder with other files, or one holding samples of other conditions. The
    folder's record says the run is unfinished until :func:`mark_complete`."""
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
        _write_record(out, made, describe_seeds(seeds), complete=False)
    except MubenchError:  # a write that failed: its own line and exit code
        raise
    except OSError as exc:
        raise UsageError(f"{opt('out')} '{out}': cannot write there ({exc.strerror or exc})") from None


def _write_record(out: Path, made: dict[str, Any], seeds: str, complete: bool) -> None:
    from mubench.results import write_text_atomic

    record = {"conditions": made, "seeds": seeds, "complete": complete}
    write_text_atomic(out / MARKER, json.dumps(record, indent=1) + "\n")


def mark_complete(out: Path) -> None:
    """Record that every seed's image of the run is in ``out``."""
    record = json.loads((out / MARKER).read_text())
    _write_record(out, record["conditions"], record["seeds"], complete=True)


def unfinished(folder: Path) -> str | None:
    """The seeds of an unfinished ``mubench sample`` run whose folder this is (stopped or failed before
    writing every image); None for a finished run or any other folder."""
    try:
        record = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("complete") is False:
        return str(record.get("seeds", "?"))
    return None


def sample(
    conds: SampleConditions,
    out: Path,
    run_id: str,
    tick: Callable[[str, int], None] | None = None,
) -> dict[str, Any] | None:
    """Generate this process's share of the seeds (all of them, or under torchrun every world_size-th);
    rank 0 writes every image, then the grid, and returns the row (None on the other ranks)."""
    from mubench.checkpoints import shipped_checkpoint
    from mubench.measure.runtime.build import build_model, checked_output
    from mubench.measure.runtime.device import resolve_device
    from mubench.models.ode_block import has_ode_blocks, nfe_by_block
    from mubench.registry import get_spec
    from mubench.results import environment, make_row
    from mubench.sources import load_weights, noise_schedule

    world = join(conds.device)
    spec = get_spec(conds.model)
    device = resolve_device(world.device(conds.device))
    seeds = parse_seeds(conds.seeds)
    path = weights_path(conds)
    label = "untrained" if path is None else (
        f"shipped:{path.name}" if path == shipped_checkpoint(conds.model) else str(path)
    )  # fmt: skip
    try:
        model = build_model(spec)
    except MubenchError:
        raise
    except (Exception, SystemExit) as exc:  # a user's factory may raise anything, exit included
        raise MeasurementError(
            f"model '{spec.name}' could not be built: {type(exc).__name__}: {exc}"
        ) from None
    trained = load_weights(path, model, spec.name) if path is not None else {}
    if trained.get("source_format") == "ddp-trainer" and trained.get("prediction") is None:
        raise UsageError(
            f"checkpoint '{path}' does not say what its network predicts; convert it with `mubench convert "
            f"--prediction v|eps|x0` and sample the converted file"
        )
    model = model.to(device)
    schedule = noise_schedule(trained, spec.schedule)  # the weights' own betas when they record them
    prediction = trained.get("prediction") or spec.prediction
    resolution = int(trained.get("resolution") or spec.resolution)
    spec.check_resolution(resolution)
    sampler = conds.sampler_object()
    t_start = schedule.num_steps - 1
    sampler.timesteps(t_start)
    world.on_main(lambda: prepare_out(out, conds, label, seeds))

    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return checked_output(spec.name, model(x, t), x)

    mine = batches(world.share(seeds), conds.batch_size)
    # Every rank takes part in as many rounds as the busiest one has batches: each round ends with the
    # images gathered to rank 0, which writes them.
    busiest = -(-len(seeds) // world.world_size)  # rank 0's seeds
    rounds = -(-busiest // conds.batch_size)
    seconds, calls, nfe_first, written = 0.0, 0, None, 0
    for index in range(rounds):
        batch = mine[index] if index < len(mine) else []
        images: list[tuple[int, Any]] = []
        if batch:
            begin = time.perf_counter()
            shape = (spec.channels, resolution, resolution)
            result = _generate(
                spec.name, model, sampler, schedule, batch, shape, prediction, t_start, device, denoiser
            )
            seconds += time.perf_counter() - begin
            calls = result.denoiser_calls
            if nfe_first is None and has_ode_blocks(model):
                nfe_first = sum(nfe_by_block(model).values())
            images = list(zip(batch, to_uint8(result.x0)))
        for part in world.gather_values(images):
            for seed, image in part:
                write_png(image, seed_file(out, seed))
            written += len(part)
        if tick and world.is_main:  # (label, images done)
            tick(f"{written}/{len(seeds)} images", written)
    every_seconds = world.gather_values(seconds)
    if not world.is_main:
        return None
    write_grid(out, seeds, out / GRID)
    mark_complete(out)
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
        sample_s_per_image=max(every_seconds) / len(seeds),  # the slowest rank's time, over all images
        world_size=world.world_size,
        out_dir=str(out),
        **environment(str(device)),
    )


def _generate(
    name: str,
    model: torch.nn.Module,
    sampler: Any,
    schedule: Any,
    batch: list[int],
    shape: tuple[int, int, int],
    prediction: str,
    t_start: int,
    device: torch.device,
    denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> Any:
    """The reverse process for ``batch``'s seeds, each from its own generator; checked finite."""
    from mubench.models.ode_block import reset_nfe

    generators = [torch.Generator().manual_seed(seed) for seed in batch]
    noise = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device)
    reset_nfe(model)
    try:
        with torch.inference_mode():
            result = sampler.sample(denoiser, schedule, noise, t_start, prediction, generators)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except MubenchError:
        raise
    except Exception as exc:  # a user's model may raise anything: one line, the files so far kept
        raise MeasurementError(
            f"model '{name}' failed on seeds {describe_seeds(batch)}: {type(exc).__name__}: {exc}"
        ) from None
    bad = [seed for seed, x in zip(batch, result.x0) if not bool(torch.isfinite(x).all())]
    if bad:
        raise MeasurementError(
            f"model '{name}' gave non-finite values for seeds {describe_seeds(bad)}; no image written for "
            "them"
        )
    return result
