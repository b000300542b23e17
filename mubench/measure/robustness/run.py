"""Noise robustness: denoise images with pixel noise sigma by running the reverse process from t*.

Protocol (docs/robustness.md): clean x in [0, 1]; y = x + sigma * N(0, I) with a generator seeded per image;
models see y in [-1, 1], started at the step t* of their own schedule whose noise matches
((1 - abar) / abar = (2 sigma)^2), from x_t* = sqrt(abar_t*) (2y - 1), and run to t = 0 with the
sampler; the result maps back to [0, 1], clamped. PSNR (data range 1), SSIM and LPIPS (when its
backbone weights are there; lower is better) per image; mean, std
and a 95% confidence interval (Student t) over images. Reference rows in the same table: ``identity``
(the noisy input itself, unclamped) and classical denoisers from scikit-image, each given the true
sigma (as the models are, through t*). Nothing picks a step or a parameter using the clean image.
Models after the first also get paired per-image differences to the first (``psnr_db_diff_*``,
``ssim_diff_*``, ``lpips_diff_*``; same noisy images), which separate two models more sharply than their
own CIs. Models run on ``--device`` in ``--batch-size`` batches (:mod:`~mubench.measure.robustness.denoise`),
optionally under autocast, channels-last or compiled; the reference denoisers run on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from mubench.data import load_dataset
from mubench.diffusion.samplers import Sampler
from mubench.distributed import World, interleave, join
from mubench.errors import UsageError, opt
from mubench.measure.failures import MODEL_FAILURES, failure_row
from mubench.measure.robustness.conditions import LPIPS_LEFT_OUT, RobustnessConditions, metric_plan
from mubench.measure.robustness.denoise import denoise_images, full_float32
from mubench.measure.robustness.lpips import LpipsScorer
from mubench.measure.robustness.metrics import (
    Scores,
    paired_differences,
    scored_fields,
)
from mubench.measure.robustness.noise import noise_seed, noisy_images, sampler_seeds
from mubench.measure.robustness.references import classical_denoiser
from mubench.measure.robustness.weights import checkpoint_paths, trained_as, trained_schedule, weights_label
from mubench.measure.runtime.build import build_model, compiled, inference_contexts
from mubench.measure.runtime.device import dtype_name, resolve_device, resolve_dtype
from mubench.measure.runtime.prefault import Prefaulter
from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
from mubench.registry import ModelSpec, get_spec
from mubench.results import environment, make_row
from mubench.sources import load_weights


def measure_robustness(
    names: list[str],
    conds: RobustnessConditions,
    run_id: str,
    on_progress: Callable[[str], None] | None = None,
    on_rows: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows for each sigma: the reference denoisers, then each model, on the dataset's test images.
    ``on_rows`` gets every row so far after each sigma (to keep them if the run is interrupted). A model
    that fails at a sigma gets a failure row there and the run goes on."""
    tick = on_progress or (lambda _: None)
    specs = [get_spec(name) for name in names]
    weights = checkpoint_paths(names, conds)
    root = Path(conds.data_root) if conds.data_root else None
    test = load_dataset(conds.dataset, "test", root, limit=conds.num_images)
    clean = test.images
    resolution = clean.shape[-1]
    world = join(conds.device)
    device = resolve_device(world.device(conds.device))  # under torchrun: this rank's own GPU
    dtype = resolve_dtype(conds.dtype, device)
    if len(clean) < world.world_size:
        raise UsageError(f"{len(clean)} test images for {world.world_size} processes; start fewer processes")
    mine = world.share(range(len(clean)))  # this process's images: all of them without torchrun
    batch_size = min(conds.batch_size, -(-len(clean) // world.world_size))  # rank 0's share is the largest
    for spec in specs:
        spec.check_resolution(resolution)
    score, lpips_note = _scores(conds, resolution)
    samplers = [Sampler(conds.sampler, n, conds.eta) for n in conds.steps_sweep or (conds.steps,)]
    models, trained, runners = {}, {}, {}  # runners: what is called (compiled, or the model itself)
    unbuilt: dict[str, BaseException] = {}  # a model whose factory failed gets error rows, the others run
    for spec in specs:
        try:
            models[spec.name] = build_model(spec, seed=conds.seed)
        except MODEL_FAILURES as exc:  # a user's factory may raise anything, exit included
            unbuilt[spec.name] = exc
            continue
        if weights[spec.name] is not None:
            meta = load_weights(
                weights[spec.name], models[spec.name], spec.name, conds.weights, conds.prediction
            )
            if meta.get("source_format") == "ddp-trainer" and meta.get("prediction") is None:
                raise UsageError(
                    f"checkpoint '{weights[spec.name]}' does not say what its network predicts; pass "
                    f"{opt('prediction')} v, eps or x0"
                )
            trained[spec.name] = meta
        try:
            model = models[spec.name].to(device)
            if conds.channels_last:
                model = model.to(memory_format=torch.channels_last)
        except MODEL_FAILURES as exc:  # a user's module may not move (or not fit on the GPU)
            unbuilt[spec.name] = exc
            continue
        models[spec.name] = model
        runners[spec.name] = compiled(model) if conds.compile else model
    starts = {  # t* per model and sigma, checked against the sampler before any work
        (spec.name, sigma): trained_schedule(spec, trained).step_for_sigma(sigma)
        for spec in specs
        for sigma in conds.sigmas
    }
    for t_star in starts.values():
        for sampler in samplers:
            try:
                sampler.timesteps(t_star)
            except UsageError:  # in a sweep, the step count came from --steps-sweep
                if not conds.steps_sweep:
                    raise
                raise UsageError(
                    f"{opt('steps_sweep')}: {sampler.steps} steps is more than the {t_star + 1} steps from "
                    f"t* = {t_star} to 0"
                ) from None
    # Untimed calls at each batch shape this rank will run (the last batch may be smaller): one-time
    # set-up, compilation included, is not charged to the first sigma.
    shapes = {min(conds.batch_size, len(mine)), len(mine) % conds.batch_size} - {0}
    for runner in runners.values():
        for n in sorted(shapes, reverse=True):
            x = torch.zeros((n, *clean.shape[1:]), device=device)
            if conds.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            try:
                with inference_contexts(device, dtype)(), full_float32(device):  # as the timed calls run
                    runner(x, torch.zeros(n, dtype=torch.long, device=device))
            except MODEL_FAILURES:  # the timed calls fail the same way, and their rows say why
                break
    prefaulter = Prefaulter(conds.prefault)
    prefaulter()  # after the untimed calls, which loaded what the models need
    common = dict(dataset=conds.dataset, n_images=len(clean), n_sources=len(set(test.sources)),
                  resolution=resolution, seed=conds.seed, world_size=world.world_size,
                  **prefaulter.fields(), lpips_net=conds.lpips_net if score.lpips else None)  # fmt: skip
    # The models' rows say where and how they ran; the reference denoisers are numpy on the CPU.
    placed = dict(device=str(device), dtype=dtype_name(dtype), batch_size=batch_size, mode=conds.mode(),
                  compile=conds.compile, channels_last=conds.channels_last,
                  **environment(str(device)))  # fmt: skip
    on_cpu = environment("cpu")
    placement = _Placement(conds.batch_size, device, dtype, conds.channels_last, conds.compile)
    rows = []
    for sigma in conds.sigmas:
        noisy = noisy_images(clean, sigma, noise_seed(conds.seed, sigma))[mine]
        clean_np, noisy_np = clean[mine].numpy(), noisy.numpy()
        for reference in conds.references:
            begin = time.perf_counter()
            denoise = (
                (lambda image: image) if reference == "identity" else classical_denoiser(reference, sigma)
            )
            estimates = [denoise(image) for image in noisy_np]
            outcome = _gather(world, time.perf_counter() - begin, score(estimates, clean_np), None)
            if outcome is not None:
                seconds, scores, _ = outcome
                rows.append(make_row("robustness", run_id, model=reference, sigma=sigma, checkpoint=None,
                                     device="cpu", **common, **on_cpu, **scored_fields(scores),
                                     denoise_s_per_image=seconds / len(clean)))  # fmt: skip
            tick(f"sigma {sigma}: {reference}")
        first: dict[int, tuple[str, dict[str, list[float]]]] = {}  # per sampler: first model's scores
        for spec in specs:
            for sampler_index, sampler in enumerate(samplers):
                model = runners.get(spec.name)
                t_star, seed = starts[spec.name, sigma], noise_seed(conds.seed, sigma)
                fields, scores, failed = {}, {}, None
                try:
                    if model is None:
                        raise unbuilt[spec.name]
                    fields, scores = _denoise(spec, model, sampler, trained, noisy, clean_np, t_star,
                                              sampler_seeds(seed, len(clean))[mine], score,
                                              placement)  # fmt: skip
                except MODEL_FAILURES as exc:  # the others are still measured; the row says why
                    keys = dict(
                        sampler=sampler.describe(),
                        steps=len(sampler.timesteps(t_star)),
                        sigma=sigma,
                        checkpoint=weights_label(weights[spec.name], spec.name, trained),
                    )  # the ok row's keys
                    failed = failure_row("robustness", run_id, spec.name, exc, **keys, **common, **placed)
                outcome = _gather(world, fields.get("seconds", 0.0), scores, failed)
                if outcome is None:  # not rank 0
                    continue
                seconds, scores, failed = outcome
                if failed is not None:
                    rows.append(failed)
                    tick(f"sigma {sigma}: {spec.name} failed")
                    continue
                base_name, base = first.get(sampler_index, (spec.name, None))
                scored = scored_fields(scores, base)
                if scored.get("status") == "error":  # nothing finite: no statistics, and no baseline
                    base = None
                elif base is None:
                    first[sampler_index] = (spec.name, scores)
                paired = {} if base is None else {"baseline": base_name, **paired_differences(scores, base)}
                untrained = (
                    "" if spec.name in trained else "untrained: random weights, not a robustness result"
                )
                scored["message"] = "; ".join(m for m in (untrained, scored.get("message", "")) if m)
                rows.append(
                    make_row(
                        "robustness",
                        run_id,
                        model=spec.name,
                        sampler=sampler.describe(),
                        steps=fields["denoiser_calls"],
                        solver=models[spec.name].solver.describe() if has_ode_blocks(model) else None,
                        sigma=sigma,
                        checkpoint=weights_label(weights[spec.name], spec.name, trained),
                        training_steps=trained[spec.name].get("steps") if spec.name in trained else None,
                        **common,
                        **placed,
                        t_start=fields["t_start"],
                        **scored,
                        **paired,
                        nfe_total=fields["nfe_total"],
                        denoiser_calls=fields["denoiser_calls"],
                        denoise_s_per_image=seconds / len(clean),  # the slowest rank's time
                    )
                )
                tick(f"sigma {sigma}: {spec.name}")
        if lpips_note:  # every row says why it has no LPIPS columns
            for row in rows:
                if lpips_note not in (row.get("message") or ""):
                    row["message"] = "; ".join(m for m in (row.get("message"), lpips_note) if m)
        if on_rows and world.is_main:
            on_rows(rows)
    return rows


def _scores(conds: RobustnessConditions, side_px: int) -> tuple[Scores, str | None]:
    """The scorer of the planned metrics for images of ``side_px``, and a note when LPIPS, not asked for
    explicitly, is left out because the images are too small for its backbone."""
    metrics, _ = metric_plan(conds)  # the missing-file note was given before the run
    if "lpips" not in metrics:
        return Scores(metrics), None
    scorer = LpipsScorer(conds.lpips_net, conds.lpips_backbone)
    try:
        scorer.check_size(side_px)
    except UsageError as exc:
        if conds.metrics:
            raise
        return Scores(tuple(m for m in metrics if m != "lpips")), f"{LPIPS_LEFT_OUT}: {exc}"
    return Scores(metrics, scorer), None


class _Placement(NamedTuple):
    """Where and how the models run: images per call, device, autocast dtype, memory format, compiled."""

    batch_size: int
    device: torch.device
    dtype: torch.dtype
    channels_last: bool
    compiled: bool


def _denoise(
    spec: ModelSpec,
    model: torch.nn.Module,
    sampler: Sampler,
    trained: dict[str, dict],
    noisy: torch.Tensor,
    clean: np.ndarray,
    t_star: int,
    seeds: np.ndarray,
    score: Scores,
    placement: _Placement,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run the reverse process from t* on the noisy images in [0, 1], the stochastic steps of image i
    drawn from a generator seeded with ``seeds[i]``; (row fields, per-image scores)."""
    batch_size, device = placement.batch_size, placement.device
    reset_nfe(model)
    begin = time.perf_counter()
    estimates, calls = denoise_images(
        model, spec.name, trained_schedule(spec, trained), trained_as(spec, trained, "prediction"), sampler,
        noisy, t_star, seeds, batch_size=batch_size, device=device, dtype=placement.dtype,
        channels_last=placement.channels_last,
    )  # fmt: skip
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - begin
    scores = score(list(estimates.numpy()), clean)
    # One trajectory's ODE evaluations: the counters add up every batch's (adaptive solvers: the mean).
    # Compiled ODE functions do not count theirs.
    counted = has_ode_blocks(model) and not placement.compiled
    batches = -(-len(noisy) // batch_size)
    nfe = round(sum(nfe_by_block(model).values()) / batches) if counted else None
    fields = {"t_start": t_star, "denoiser_calls": calls, "seconds": seconds, "nfe_total": nfe}
    return fields, scores


def _gather(
    world: World, seconds: float, scores: dict[str, list[float]], failed: dict[str, Any] | None
) -> tuple[float, dict[str, list[float]], dict[str, Any] | None] | None:
    """On rank 0: the slowest process's seconds, every image's scores in order, and the first failure
    row (any process failed: the measurement failed); None on the other ranks."""
    if world.world_size == 1:
        return seconds, scores, failed
    parts = world.gather_values((seconds, scores, failed))
    if not world.is_main:
        return None
    failures = [(rank, row) for rank, (_, _, row) in enumerate(parts) if row is not None]
    if failures:
        rank, row = failures[0]
        return 0.0, {}, {**row, "message": f"rank {rank}: {row['message']}"}
    metrics = parts[0][1]
    merged = {metric: interleave([part[1][metric] for part in parts]) for metric in metrics}
    return max(part[0] for part in parts), merged, None
