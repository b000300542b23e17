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
own CIs.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mubench.checkpoints import shipped_checkpoint
from mubench.data import check_dataset_name, load_dataset
from mubench.defaults import REFERENCES
from mubench.diffusion.samplers import PREDICTIONS, Sampler
from mubench.diffusion.schedules import NoiseSchedule
from mubench.distributed import World, interleave, join
from mubench.errors import UsageError, opt
from mubench.measure.lpips_score import LpipsScorer, check_net, missing_backbone_message
from mubench.measure.prefault import Prefaulter
from mubench.measure.runner import failure_row
from mubench.measure.setup import build_model, checked_output
from mubench.models.ode_block import has_ode_blocks, nfe_by_block, reset_nfe
from mubench.ranges import check_numbers
from mubench.registry import ModelSpec, get_spec
from mubench.results import environment, make_row
from mubench.sources import load_weights, noise_schedule


@dataclass(frozen=True)
class RobustnessConditions:
    sigmas: tuple[float, ...] = (0.1,)
    dataset: str = "patches32"
    num_images: int = 50
    sampler: str = "ddim"
    steps: int | None = None  # ddim: calls from t* (None: every step); ddpm: all t* + 1
    eta: float = 0.0
    seed: int = 0
    allow_untrained: bool = False
    references: tuple[str, ...] = REFERENCES
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model name, path) pairs; others use shipped ones
    data_root: str | None = None  # root of torchvision datasets
    steps_sweep: tuple[int, ...] = ()  # ddim: one row per number of reverse steps from t* (convergence)
    prefault: bool = True  # make the loaded libraries' pages resident before timing the denoisers
    metrics: tuple[str, ...] = ()  # asked for explicitly (each required); () = psnr, ssim, lpips if it can
    lpips_net: str = "alex"
    lpips_backbone: str | None = None  # the backbone weights file (default: the torch hub cache's)
    weights: str = "ema"  # a Trainer checkpoint's ema or raw weights
    prediction: str | None = None  # eps, v or x0: for weights whose source does not say

    def __post_init__(self) -> None:
        if not self.sigmas:
            raise UsageError(f"give at least one {opt('sigma')}")
        check_numbers({"sigma": list(self.sigmas), "num_images": self.num_images, "seed": self.seed})
        unknown = set(self.references) - set(REFERENCES)
        if unknown:
            raise UsageError(
                f"unknown reference denoiser(s) {sorted(unknown)}; choose from {', '.join(REFERENCES)}"
            )
        check_dataset_name(self.dataset)
        named = [name for name, _ in self.checkpoints]
        repeated = sorted({name for name in named if named.count(name) > 1})
        if repeated:
            raise UsageError(
                f"{opt('checkpoint')} for {', '.join(repeated)} given more than once; give one each"
            )
        if self.sampler == "ddpm" and (self.steps is not None or self.steps_sweep):
            raise UsageError(
                f"the ddpm sampler runs every step from t*; use {opt('sampler')} ddim for {opt('steps')}"
            )
        if self.steps_sweep and self.steps is not None:
            raise UsageError(f"give {opt('steps')} or {opt('steps_sweep')}, not both")
        Sampler(self.sampler, self.steps, self.eta)  # validates
        if self.prediction is not None and self.prediction not in PREDICTIONS:
            raise UsageError(
                f"{opt('prediction')} must be one of {', '.join(PREDICTIONS)}, got '{self.prediction}'"
            )
        unknown_metrics = sorted(set(self.metrics) - set(METRICS))
        if unknown_metrics:
            raise UsageError(f"{opt('metric')} '{unknown_metrics[0]}': choose from {', '.join(METRICS)}")
        check_net(self.lpips_net)
        if self.metrics and "lpips" not in self.metrics and self.lpips_backbone is not None:
            raise UsageError(f"{opt('lpips_backbone')} has no effect without lpips in {opt('metric')}")


METRICS = ("psnr", "ssim", "lpips")  # their columns: psnr_db_*, ssim_*, lpips_*
LPIPS_LEFT_OUT = "LPIPS left out"  # how the note on a run without LPIPS begins


def metric_plan(conds: RobustnessConditions) -> tuple[tuple[str, ...], str | None]:
    """(the metrics to measure, a note when LPIPS is left out). Metrics asked for explicitly are each
    required: LPIPS without its backbone file is then refused, naming the exact path; by default it is
    measured when the file is there and otherwise left out, with the note."""
    missing = missing_backbone_message(conds.lpips_net, conds.lpips_backbone)
    if conds.metrics:
        if "lpips" in conds.metrics and missing:
            raise UsageError(missing)
        return tuple(m for m in METRICS if m in conds.metrics), None
    if missing and conds.lpips_backbone is not None:  # a file named but absent is a mistake, not a default
        raise UsageError(missing)
    if missing:
        return ("psnr", "ssim"), f"{LPIPS_LEFT_OUT}: {missing}"
    return METRICS, None


def psnr_db(estimate: np.ndarray, clean: np.ndarray) -> float:
    """Peak signal-to-noise ratio for data range 1, in dB."""
    mse = float(np.mean((estimate.astype(np.float64) - clean.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def ssim(estimate: np.ndarray, clean: np.ndarray) -> float:
    """Structural similarity (scikit-image, data range 1) of (C, H, W) images."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(clean, estimate, data_range=1.0, channel_axis=0))


def spread(values: list[float], prefix: str) -> dict[str, float]:
    """mean, std and the half-width of a 95% Student-t confidence interval of the mean, over the finite
    ``values`` (a NaN or inf is left out; none finite: all three NaN)."""
    from scipy.stats import t as student_t

    values = [v for v in values if math.isfinite(v)]
    n = len(values)
    if n == 0:
        return {f"{prefix}_mean": math.nan, f"{prefix}_std": math.nan, f"{prefix}_ci95": math.nan}
    std = statistics.stdev(values) if n > 1 else 0.0
    ci = float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
    return {f"{prefix}_mean": statistics.fmean(values), f"{prefix}_std": std, f"{prefix}_ci95": ci}


def noisy_images(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """y = x + sigma * N(0, I), the noise of image i drawn from its own generator (seed, i)."""
    noise = torch.stack(
        [torch.randn(image.shape, generator=torch.Generator().manual_seed(seed * 100_003 + i)) for i, image in
         enumerate(clean)]
    )  # fmt: skip
    return clean + sigma * noise


def _classical(name: str, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    def run(image: np.ndarray) -> np.ndarray:  # (C, H, W)
        hwc = image.transpose(1, 2, 0)
        if name == "tv":
            out = denoise_tv_chambolle(hwc, weight=sigma, channel_axis=-1)
        elif name == "wavelet":
            out = denoise_wavelet(hwc, sigma=sigma, channel_axis=-1, rescale_sigma=True)
        else:
            out = denoise_nl_means(hwc, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                   fast_mode=True, channel_axis=-1)  # fmt: skip
        return np.clip(out, 0, 1).transpose(2, 0, 1)

    return run


class Scores:
    """Per-image scores of the metrics measured: ``{column prefix: [value per image]}``."""

    def __init__(self, metrics: tuple[str, ...], lpips: LpipsScorer | None = None):
        self.metrics, self.lpips = metrics, lpips

    def __call__(self, estimates: list[np.ndarray], clean: np.ndarray) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        if "psnr" in self.metrics:
            out["psnr_db"] = [psnr_db(e, c) for e, c in zip(estimates, clean)]
        if "ssim" in self.metrics:
            out["ssim"] = [ssim(e, c) for e, c in zip(estimates, clean)]
        if "lpips" in self.metrics and self.lpips is not None:
            out["lpips"] = self.lpips(np.stack(estimates), clean)
        return out


def finite_images(per_image: dict[str, list[float]]) -> list[bool]:
    """Per image: whether every score of it is finite (a NaN output, or an exact copy's infinite PSNR,
    is not)."""
    return [all(map(math.isfinite, scores)) for scores in zip(*per_image.values())]


def exact_copies(per_image: dict[str, list[float]]) -> int:
    """Images scored PSNR +inf (an output equal to the clean image) with every other score finite."""
    names = list(per_image)
    return sum(
        1
        for scores in zip(*per_image.values())
        if all(math.isfinite(v) or (name == "psnr_db" and v == math.inf) for name, v in zip(names, scores))
        and not all(map(math.isfinite, scores))
    )


def _summary(per_image: dict[str, list[float]], keep: list[bool] | None = None) -> dict[str, float]:
    """Each metric's spread over the images in ``keep`` (default: those whose scores are all finite), so
    that every statistic of a row describes the same images."""
    keep = finite_images(per_image) if keep is None else keep
    return {
        key: value
        for metric, values in per_image.items()
        for key, value in spread([v for v, kept in zip(values, keep) if kept], metric).items()
    }


_METRIC_NAMES = {"psnr_db": "PSNR", "ssim": "SSIM", "lpips": "LPIPS"}


def _paired(per_image: dict[str, list[float]], base: dict[str, list[float]]) -> dict[str, float]:
    """Per-image differences to the baseline model on the same noisy images: mean, std and 95% CI, over
    the images whose scores are finite in both."""
    keep = [a and b for a, b in zip(finite_images(per_image), finite_images(base))]
    diffs = {
        f"{metric}_diff": [a - b for a, b in zip(values, base[metric])]
        for metric, values in per_image.items()
    }
    return _summary(diffs, keep)


def _scored(per_image: dict[str, list[float]], base: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """A row's statistics, ``n_nonfinite`` and, where images were left out, its status and message: a row
    with no image whose scores are all finite is an error; one with some says how many were left out."""
    keep = finite_images(per_image)
    n, left_out = len(keep), keep.count(False)
    fields: dict[str, Any] = {**_summary(per_image, keep), "n_nonfinite": left_out}
    notes = []
    exact = exact_copies(per_image)
    if exact:  # MSE 0: a perfect result, not a failure; PSNR has no finite value for it
        notes.append(
            f"{exact} of {n} images are exact copies of the clean image (PSNR +inf), left out of the "
            "statistics"
        )
    if left_out > exact:
        kinds = sorted({repr(v) for values in per_image.values() for v in values if not math.isfinite(v)})
        names = " or ".join(_METRIC_NAMES[prefix] for prefix in per_image)
        notes.append(
            f"{left_out - exact} of {n} images scored non-finite ({', '.join(kinds)} in {names})"
            + ("; nothing to measure" if left_out == n else "; statistics over the other images")
        )
    if base is not None:
        paired = sum(a and b for a, b in zip(keep, finite_images(base)))
        if 0 < paired < n - left_out:
            notes.append(f"paired differences over the {paired} images finite in the baseline too")
    if left_out == n and left_out > exact:
        fields["status"] = "error"
    if notes:
        fields["message"] = "; ".join(notes)
    return fields


def noise_seed(seed: int, sigma: float) -> int:
    """Seed of the noise at ``sigma``: a function of the value, so a sigma gets the same noisy images
    whichever other sigmas are measured with it."""
    return seed * 100_000 + round(sigma * 10_000)


def checkpoint_paths(names: list[str], conds: RobustnessConditions) -> dict[str, Path | None]:
    """Each model's weights: --checkpoint, else the shipped checkpoint, else None (refused unless
    untrained models are allowed). Checks what can be checked before any work."""
    given = dict(conds.checkpoints)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise UsageError(
            f"{opt('checkpoint')} for {', '.join(unknown)}, which is not among the {opt('model')} names"
        )
    absent = [(name, path) for name, path in conds.checkpoints if not Path(path).exists()]
    if absent:
        name, path = absent[0]
        raise UsageError(f"{opt('checkpoint')} {name}={path}: checkpoint '{path}' does not exist")
    paths = {name: Path(given[name]) if name in given else shipped_checkpoint(name) for name in names}
    missing = [name for name, path in paths.items() if path is None]
    if missing and not conds.allow_untrained:
        raise UsageError(
            f"no checkpoint for {', '.join(missing)}: pass {opt('checkpoint')} {missing[0]}=PATH (train one "
            f"with "
            f"`mubench train`), or {opt('allow_untrained')}"
        )
    return paths


def _label(path: Path | None, name: str, trained: dict[str, dict] | None = None) -> str:
    """How a row names its weights: ``shipped:<file>``, the path given (another library's: its format,
    path and sha256), or ``untrained``."""
    if path is None:
        return "untrained"
    if trained and (trained.get(name) or {}).get("label"):
        return trained[name]["label"]
    return f"shipped:{path.name}" if path == shipped_checkpoint(name) else str(path)


def _schedule(spec: ModelSpec, trained: dict[str, dict]) -> NoiseSchedule:
    """The schedule the weights were trained with (their own betas when the source holds them)."""
    return noise_schedule(trained.get(spec.name, {}), spec.schedule)


def _trained_as(spec: ModelSpec, trained: dict[str, dict], key: str) -> str:
    """The schedule or prediction a checkpoint was trained with (the model's registered one if unknown)."""
    return trained.get(spec.name, {}).get(key) or getattr(spec, key)


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
    world = join("cpu")
    if len(clean) < world.world_size:
        raise UsageError(f"{len(clean)} test images for {world.world_size} processes; start fewer processes")
    mine = world.share(range(len(clean)))  # this process's images: all of them without torchrun
    for spec in specs:
        spec.check_resolution(resolution)
    score, lpips_note = _scores(conds, resolution)
    samplers = [Sampler(conds.sampler, n, conds.eta) for n in conds.steps_sweep or (conds.steps,)]
    models, trained = {}, {}
    unbuilt: dict[str, BaseException] = {}  # a model whose factory failed gets error rows, the others run
    for spec in specs:
        try:
            models[spec.name] = build_model(spec, seed=conds.seed)
        except (Exception, SystemExit) as exc:  # a user's factory may raise anything, exit included
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
    starts = {  # t* per model and sigma, checked against the sampler before any work
        (spec.name, sigma): _schedule(spec, trained).step_for_sigma(sigma)
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
    for model in models.values():  # one untimed call each: one-time set-up is not charged to the first sigma
        try:
            with torch.inference_mode():
                model(torch.zeros_like(clean[mine]), torch.zeros(len(mine), dtype=torch.long))
        except (Exception, SystemExit):  # the timed calls fail the same way, and their rows say why
            pass
    prefaulter = Prefaulter(conds.prefault)
    prefaulter()  # after the untimed calls, which loaded what the models need
    common = dict(dataset=conds.dataset, n_images=len(clean), n_sources=len(set(test.sources)),
                  resolution=resolution, seed=conds.seed, world_size=world.world_size, **environment("cpu"),
                  **prefaulter.fields(), lpips_net=conds.lpips_net if score.lpips else None)  # fmt: skip
    rows = []
    for sigma in conds.sigmas:
        noisy = noisy_images(clean, sigma, noise_seed(conds.seed, sigma))[mine]
        clean_np, noisy_np = clean[mine].numpy(), noisy.numpy()
        for reference in conds.references:
            begin = time.perf_counter()
            denoise = (lambda image: image) if reference == "identity" else _classical(reference, sigma)
            estimates = [denoise(image) for image in noisy_np]
            outcome = _gather(world, time.perf_counter() - begin, score(estimates, clean_np), None)
            if outcome is not None:
                seconds, scores, _ = outcome
                rows.append(make_row("robustness", run_id, model=reference, sigma=sigma, checkpoint=None,
                                     **common, **_scored(scores),
                                     denoise_s_per_image=seconds / len(clean)))  # fmt: skip
            tick(f"sigma {sigma}: {reference}")
        first: dict[int, tuple[str, dict[str, list[float]]]] = {}  # per sampler: first model's scores
        for spec in specs:
            for sampler_index, sampler in enumerate(samplers):
                model = models.get(spec.name)
                t_star, seed = starts[spec.name, sigma], noise_seed(conds.seed, sigma)
                fields, scores, failed = {}, {}, None
                try:
                    if model is None:
                        raise unbuilt[spec.name]
                    fields, scores = _denoise(spec, model, sampler, trained, noisy, clean_np, t_star,
                                              sampler_seeds(seed, len(clean))[mine], score)  # fmt: skip
                except (Exception, SystemExit) as exc:  # the others are still measured; the row says why
                    keys = dict(
                        sampler=sampler.describe(),
                        steps=len(sampler.timesteps(t_star)),
                        sigma=sigma,
                        checkpoint=_label(weights[spec.name], spec.name, trained),
                    )  # the ok row's keys
                    failed = failure_row("robustness", run_id, spec.name, exc, **keys,
                                         **{**common, "batch_size": len(clean)})  # fmt: skip
                outcome = _gather(world, fields.get("seconds", 0.0), scores, failed)
                if outcome is None:  # not rank 0
                    continue
                seconds, scores, failed = outcome
                if failed is not None:
                    rows.append(failed)
                    tick(f"sigma {sigma}: {spec.name} failed")
                    continue
                base_name, base = first.get(sampler_index, (spec.name, None))
                scored = _scored(scores, base)
                if scored.get("status") == "error":  # nothing finite: no statistics, and no baseline
                    base = None
                elif base is None:
                    first[sampler_index] = (spec.name, scores)
                paired = {} if base is None else {"baseline": base_name, **_paired(scores, base)}
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
                        solver=model.solver.describe() if has_ode_blocks(model) else None,
                        sigma=sigma,
                        checkpoint=_label(weights[spec.name], spec.name, trained),
                        training_steps=trained[spec.name].get("steps") if spec.name in trained else None,
                        **{**common, "batch_size": len(clean)},  # the model denoises all images at once
                        t_start=fields["t_start"],
                        **scored,
                        **paired,
                        nfe_total=sum(nfe_by_block(model).values()) if has_ode_blocks(model) else None,
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
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run the reverse process from t* on the noisy images in [0, 1], the stochastic steps of image i
    drawn from a generator seeded with ``seeds[i]``; (row fields, per-image scores)."""
    schedule = _schedule(spec, trained)
    prediction = _trained_as(spec, trained, "prediction")
    abar = float(schedule.alpha_bar[t_star])
    x_start = math.sqrt(abar) * (2 * noisy - 1)
    reset_nfe(model)

    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return checked_output(spec.name, model(x, t), x)

    begin = time.perf_counter()
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    result = sampler.sample(denoiser, schedule, x_start, t_star, prediction, generators)
    seconds = time.perf_counter() - begin
    scores = score(list(((result.x0 + 1) / 2).clamp(0, 1).numpy()), clean)
    fields = {"t_start": t_star, "denoiser_calls": result.denoiser_calls, "seconds": seconds}
    return fields, scores


def sampler_seeds(seed: int, n: int) -> np.ndarray:
    """Seeds of the stochastic sampler steps of images 0..n-1 at one noise level (independent of the
    noise that made the images, and of how the images are split over processes)."""
    return np.random.SeedSequence([seed, 1]).generate_state(n, dtype=np.uint64) >> np.uint64(1)


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
