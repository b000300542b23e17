"""The claims table: each claim of the paper, its figures, what the rows measured, and a computed verdict.

Verdicts are decided by the rules below from the result rows; nothing measured is ever a constant here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import pandas as pd

from mubench.formatting import percent
from mubench.registry import get_spec, paper_pair, pretrained_pair
from mubench.report import rows as sel

BASELINE, CANDIDATE = paper_pair()  # the paper's comparison, as the registry marks it
AUTHORS_MODEL = "ode-u-ref"  # the authors' released cU-Net, as it is
# Quality claims need trained weights: the paper's pair if it has them, else the pair mubench ships.
QUALITY_PAIRS = ((CANDIDATE, BASELINE), pretrained_pair()[::-1])


def _authors_ratio(field: str) -> tuple[str, str]:
    """The registry's ``field`` (a count) of the authors' model over the baseline's: ("24.7%", "a / b")."""
    ref, base = (getattr(get_spec(name), field) for name in (AUTHORS_MODEL, BASELINE))
    return percent(ref / base), f"{ref:,} / {base:,}"


# The paper's figures (its abstract, arXiv 2310.20092) and those of the authors' released code (their
# thop counts at 64x64, batch 1; see docs/models.md). Quoted, never measured; the authors' counts are the
# registry's (expected_params, paper_macs).
_PARAMS, _MACS = _authors_ratio("expected_params"), _authors_ratio("paper_macs")
PAPER_PARAMS = "~25%"
AUTHORS_PARAMS = f"{_PARAMS[0]} ({_PARAMS[1]}; {AUTHORS_MODEL})"
PAPER_MACS = "~30%"
AUTHORS_MACS = f"{_MACS[0]} (thop MACs {_MACS[1]})"
PAPER_LATENCY = "notably faster"
AUTHORS_LATENCY = "—"  # they timed CPU wall-clock loops including metric code
PAPER_ROBUSTNESS = "better perceptual metrics at high noise, SSIM comparable"
AUTHORS_ROBUSTNESS = (
    "one CelebA image, sigma 0.1, oracle step pick: cU-Net 25.6–28.2 dB vs U-Net 25.9–27.5 dB"
)
PAPER_CONVERGENCE = "faster convergence"
AUTHORS_CONVERGENCE = "—"
PAPER_SAMPLES = "faster convergence (its generative form)"
AUTHORS_SAMPLES = "—"

# Rules. "About" a figure: the claim plus a fifth of it.
PARAMS_LIMIT = 0.30
MACS_LIMIT = 0.36
HIGH_SIGMA = 0.2  # "high noise" starts here (pixel units in [0, 1])
CONVERGED_DB = 0.1  # converged = within this much PSNR of the model's best
FID_TOLERANCE = 0.05  # an FID within 5% of a target reaches it (one figure per set: no CI to go by)
TIME_TOLERANCE = 0.05  # wall times per image within 5% of each other are the same

HOLDS = "holds"
FAILS = "does not hold"
NOT_MEASURED = "not measured here"
INCONCLUSIVE = "inconclusive"
SOME_CONDITIONS = "holds in some conditions"
SOME_SIGMAS = "holds at some sigmas"


@dataclass(frozen=True)
class Claim:
    key: str
    claim: str
    paper: str
    authors_code: str
    measured: str
    conditions: str
    verdict: str
    rule: str
    groups: tuple[str, ...] = ()  # the condition groups (1), (2)... its cells name, listed under the table
    summary: str = "—"  # what was measured, at a glance (at most CELL_LIMIT characters)
    details: tuple[Detail, ...] = ()  # per condition group (or sigma): its figures and outcome


@dataclass(frozen=True)
class Detail:
    condition: str
    figures: str
    outcome: str


CELL_LIMIT = 120  # characters in a cell of the claims table


def _short(text: str, fallback: str) -> str:
    """``text`` when it fits a claims cell, else ``fallback`` (which must)."""
    return text if len(text) <= CELL_LIMIT else fallback


def _span(values: Sequence[float], fmt: str, unit: str = "") -> str:
    """ "0.45–0.69x", or "0.50x" when all are one value."""
    low, high = (format(v, fmt) for v in (min(values), max(values)))
    dash = " to " if low[0] in "+-" else "–"  # "-1.09 to -0.46", not "-1.09–-0.46"
    return f"{low}{unit}" if low == high else f"{low}{dash}{high}{unit}"


COLUMNS = {
    "claim": "claim",
    "paper": "paper",
    "authors_code": "authors' code",
    "measured": "measured",
    "conditions": "conditions",
    "verdict": "verdict",
    "rule": "rule",
}


def evaluate_claims(rows: pd.DataFrame) -> list[Claim]:
    """Every claim of the paper, judged from ``rows`` (all commands; only ok rows count)."""
    return [
        params_claim(rows),
        macs_claim(rows),
        latency_claim(rows),
        robustness_claim(rows),
        convergence_claim(rows),
        sample_quality_claim(rows),
    ]


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a table with readable column names (no ``key``)."""
    frame = pd.DataFrame([asdict(claim) for claim in claims])
    return frame[list(COLUMNS)].rename(columns=COLUMNS)


# ---------------------------------------------------------------- formatting


def _signed(value: float, decimals: int) -> str:
    return "nan" if math.isnan(value) else f"{value:+.{decimals}f}"


def _pm(value: float, ci: float, decimals: int) -> str:
    spread = "?" if math.isnan(ci) else f"{ci:.{decimals}f}"
    return f"{_signed(value, decimals)} ± {spread}"


def _numbers(count: int) -> list[str]:
    """ "(1) ", "(2) ", ... to tell several conditions apart; nothing for one."""
    return [""] if count == 1 else [f"({i}) " for i in range(1, count + 1)]


def _grouped(labels: Sequence[str]) -> tuple[list[str], str, tuple[str, ...]]:
    """How cells name condition groups: (names for verdicts, the conditions cell's part, the groups
    listed under the table). One group is named in full; several by number, listed under the table."""
    if len(labels) == 1:
        return list(labels), labels[0], ()
    names = [f"({i})" for i in range(1, len(labels) + 1)]
    return names, f"condition groups (1)–({len(labels)}), listed under the table", tuple(labels)


def _sigma(value: float) -> str:
    return f"σ {value:g}"


def _combine(results: Sequence[tuple[str, bool]], some: str = SOME_CONDITIONS, sep: str = "; ") -> str:
    """holds in every condition, in none, or in some (named)."""
    held = [label for label, ok in results if ok]
    if len(held) == len(results):
        return HOLDS
    if not held:
        return FAILS
    return f"{some}: {sep.join(held)}"


def _pair_in(group: pd.DataFrame, candidate: str, baseline: str) -> tuple[pd.Series, pd.Series] | None:
    """The last row of each of the two models in ``group`` (model column kept), or None if one lacks."""
    last = group.drop_duplicates("model", keep="last")
    rows = [last[last["model"] == name] for name in (candidate, baseline)]
    return None if any(r.empty for r in rows) else (rows[0].iloc[0], rows[1].iloc[0])


def _not_measured(base: Claim, needs: str) -> Claim:
    return replace(base, measured="—", conditions=needs, verdict=NOT_MEASURED)


def _claim(key: str, claim: str, paper: str, authors: str, rule: str) -> Claim:
    return Claim(key, claim, paper, authors, "—", "", NOT_MEASURED, rule)


# ---------------------------------------------------------------- parameters


def params_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "params",
        "About a quarter of the baseline's parameters",
        PAPER_PARAMS,
        AUTHORS_PARAMS,
        f"holds if params_total({CANDIDATE}) / params_total({BASELINE}) <= {PARAMS_LIMIT:.2f} "
        "(a quarter plus a fifth of it), else does not hold",
    )
    params = sel.params_by_model(rows).set_index("model")["params_total"].dropna()
    if CANDIDATE not in params or BASELINE not in params or not params[BASELINE]:
        return _not_measured(base, f"needs ok params rows of {CANDIDATE} and {BASELINE}")
    ratio = params[CANDIDATE] / params[BASELINE]
    measured = f"{percent(ratio)} ({int(params[CANDIDATE]):,} / {int(params[BASELINE]):,})"
    if AUTHORS_MODEL in params:
        measured += f"; {AUTHORS_MODEL} {percent(params[AUTHORS_MODEL] / params[BASELINE])}"
    conditions = f"{CANDIDATE} vs {BASELINE}: params_total (every parameter, frozen included, shared once)"
    verdict = HOLDS if ratio <= PARAMS_LIMIT else FAILS
    detail = Detail(f"{CANDIDATE} vs {BASELINE}", measured, verdict)
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, summary=measured,
                   details=(detail,))  # fmt: skip


# ---------------------------------------------------------------- MACs


def macs_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "macs",
        "About 30% of its FLOPs",
        PAPER_MACS,
        AUTHORS_MACS,
        f"fvcore MACs per denoiser call, {CANDIDATE} / {BASELINE}, same resolution and batch, "
        f"{CANDIDATE}'s default solver: holds if <= {MACS_LIMIT:.2f} (30% plus a fifth) in every condition "
        "counted, does not hold if in none, else holds in some conditions",
    )
    macs = sel.fvcore_macs(rows)
    keys = [k for k in ("resolution", "batch_size", "tier") if k in macs]
    pairs = []
    for _, group in macs.groupby(keys, dropna=False, sort=True):
        if found := _pair_in(group, CANDIDATE, BASELINE):
            pairs.append(found)
    if not pairs:
        return _not_measured(
            base, f"needs ok fvcore flops rows of {CANDIDATE} and {BASELINE} at one resolution"
        )
    names, where, groups = _grouped([_macs_condition(cand) for cand, _ in pairs])
    results, measured, details, ratios = [], [], [], []
    for prefix, name, (cand, ref) in zip(_numbers(len(pairs)), names, pairs):
        ratio = cand["macs"] / ref["macs"]
        ratios.append(ratio)
        results.append((name, ratio <= MACS_LIMIT))
        figures = f"{percent(ratio)} ({cand['macs'] / 1e9:.3f} G / {ref['macs'] / 1e9:.3f} G MACs)"
        measured.append(f"{prefix}{figures}")
        within = f"<= {MACS_LIMIT:.0%}" if ratio <= MACS_LIMIT else f"> {MACS_LIMIT:.0%}"
        details.append(Detail(_macs_condition(cand), figures, within))
    conditions = f"{CANDIDATE} vs {BASELINE}, fvcore MACs per denoiser call; {where}"
    held = sum(ok for _, ok in results)
    spans = f"{percent(min(ratios))}–{percent(max(ratios))}" if len(ratios) > 1 else percent(ratios[0])
    many = f"{spans} of the baseline's MACs; <= {MACS_LIMIT:.0%} in {held} of {len(ratios)} condition groups"
    summary = measured[0] if len(ratios) == 1 else many
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=_combine(results),
                   groups=groups, summary=summary, details=tuple(details))  # fmt: skip


def _macs_condition(row: pd.Series) -> str:
    resolution = sel.int_text(row.get("resolution"))
    text = f"{resolution}x{resolution}, batch {sel.int_text(row.get('batch_size'))}"
    if not sel.missing(row.get("tier")):
        text += f", tier {row['tier']}"
    if not sel.missing(row.get("nfe")):
        text += f", {CANDIDATE} {row.get('solver')} NFE {row['nfe']:g}"
    return text


# ---------------------------------------------------------------- latency


def process_spread(*rows: pd.Series) -> float | None:
    """The larger between-process spread of the rows' call times, where it was measured (--processes)."""
    spreads = [float(r["call_ms_process_spread"]) for r in rows
               if not sel.missing(r.get("call_ms_process_spread"))]  # fmt: skip
    return max(spreads) if spreads else None


def latency_outcome(cand: pd.Series, ref: pd.Series) -> str:
    """faster / slower when the p10–p90 ranges do not overlap, else tie; inconclusive when the medians
    differ by less than the between-process spread of either row (measured with several processes)."""
    spread = process_spread(cand, ref)
    if spread is not None and abs(cand["call_ms_median"] / ref["call_ms_median"] - 1) <= spread:
        return "inconclusive"
    if cand["call_ms_p90"] < ref["call_ms_p10"]:
        return "faster"
    if cand["call_ms_p10"] > ref["call_ms_p90"]:
        return "slower"
    return "tie"


def latency_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "latency",
        "Faster inference in fair and equal conditions",
        PAPER_LATENCY,
        AUTHORS_LATENCY,
        f"per condition group (run, device, dtype, batch, resolution, mode): faster if {CANDIDATE}'s "
        f"call-time p90 < {BASELINE}'s p10, slower if its p10 > the other's p90, else tie; inconclusive "
        "if the medians differ by no more than the between-process spread (where measured); holds if "
        "faster in every group, does not hold if faster in none. Where both models were profiled under a "
        "group's conditions, the operator category whose time differs most in the gap's direction is named",
    )
    pairs = []
    for label, group in sel.latency_groups(rows):
        if found := _pair_in(group, CANDIDATE, BASELINE):
            pairs.append((label, *found))
    if not pairs:
        return _not_measured(base, f"needs ok latency rows of {CANDIDATE} and {BASELINE} in one run")
    names, where, groups = _grouped([label for label, _, _ in pairs])
    results, measured, details, ratios = [], [], [], []
    for prefix, name, (label, cand, ref) in zip(_numbers(len(pairs)), names, pairs):
        outcome = latency_outcome(cand, ref)
        results.append((name, outcome == "faster"))
        ratio = cand["call_ms_median"] / ref["call_ms_median"]
        ratios.append(ratio)
        spread = process_spread(cand, ref)
        across = f", process spread {spread:.0%}" if spread is not None else ""
        figures = (
            f"{ratio:.2f}x call time ({cand['call_ms_median']:.1f} vs {ref['call_ms_median']:.1f} ms "
            f"median{across})"
        )
        gap = _gap_note(rows, cand, ref)
        measured.append(f"{prefix}{figures}: {outcome}{gap}")
        details.append(Detail(label, figures + gap, outcome))
    conditions = f"{CANDIDATE} vs {BASELINE}, one denoiser call; {where}"
    faster = sum(ok for _, ok in results)
    count = f"faster in {faster} of {len(ratios)} condition groups"
    summary = f"{_span(ratios, '.2f', 'x')} call time; " + (count if len(ratios) > 1 else details[0].outcome)
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=_combine(results),
                   groups=groups, summary=summary, details=tuple(details))  # fmt: skip


def dominant_gap(rows: pd.DataFrame, cand: pd.Series, ref: pd.Series) -> tuple[str, float, float] | None:
    """(category, its ms difference, the total ms difference) of the category that contributes most to
    the candidate's profiled time difference from the baseline, in the direction of that difference;
    from both models' profile rows under the latency rows' conditions (None without them)."""
    mine, theirs = (sel.profile_ms(rows, row["model"], row) for row in (cand, ref))
    if mine is None or theirs is None:
        return None
    diff = mine.sub(theirs, fill_value=0.0)
    total = float(diff.sum())
    if total == 0:
        return None
    category = (diff if total > 0 else -diff).idxmax()
    return str(category), float(diff[category]), total


def _gap_note(rows: pd.DataFrame, cand: pd.Series, ref: pd.Series) -> str:
    found = dominant_gap(rows, cand, ref)
    if found is None:
        return ""
    category, ms, total = found
    return f"; profiled gap {total:+.1f} ms, most in {category} ({ms:+.1f} ms)"


# ---------------------------------------------------------------- denoising quality


def quality_pair(rows: pd.DataFrame) -> tuple[str, str] | None:
    """The (candidate, baseline) pair whose robustness rows both have trained weights, or None."""
    trained = _trained(rows)
    names = set(trained["model"])
    return next(((c, b) for c, b in QUALITY_PAIRS if c in names and b in names), None)


def _trained(rows: pd.DataFrame) -> pd.DataFrame:
    robust = sel.robustness_rows(rows)
    return robust[sel.is_trained(robust) & ~sel.is_reference(robust)]


def _pair_note(pair: tuple[str, str]) -> str:
    if pair == QUALITY_PAIRS[0]:
        return f"{pair[0]} vs {pair[1]}"
    return f"{pair[0]} vs {pair[1]} (the paper's pair has no robustness rows with trained weights)"


def _checkpoints(frame: pd.DataFrame) -> str:
    names = sorted(set(frame["checkpoint"].astype(str)))
    return "mubench's shipped" if all(n.startswith("shipped:") for n in names) else ", ".join(names)


def quality_difference(cand: pd.Series, ref: pd.Series, metric: str) -> tuple[float, float, bool]:
    """(difference candidate − baseline, its 95% CI, paired?) for ``metric`` ("psnr_db", "ssim" or
    "lpips"): the paired per-image difference on the candidate's row when it was paired with this
    baseline, else the difference of the means with CI sqrt(ci_a^2 + ci_b^2) (NaN where not measured)."""
    diff = cand.get(f"{metric}_diff_mean")
    if cand.get("baseline") == ref["model"] and not sel.missing(diff):
        return float(diff), float(cand.get(f"{metric}_diff_ci95", float("nan"))), True
    nan = float("nan")
    ci = math.hypot(float(cand.get(f"{metric}_ci95", nan)), float(ref.get(f"{metric}_ci95", nan)))
    return float(cand.get(f"{metric}_mean", nan)) - float(ref.get(f"{metric}_mean", nan)), ci, False


def has_metric(cand: pd.Series, ref: pd.Series, metric: str) -> bool:
    """Both rows have a mean of ``metric``."""
    return not sel.missing(cand.get(f"{metric}_mean")) and not sel.missing(ref.get(f"{metric}_mean"))


def quality_outcome(diff: float, ci: float) -> str:
    if diff - ci > 0:
        return "better"
    if diff + ci < 0:
        return "worse"
    return "tie"


def _high_sigma_pairs(rows: pd.DataFrame, pair: tuple[str, str]) -> list[tuple[pd.Series, pd.Series]]:
    """(candidate row, baseline row) per (dataset, sigma >= HIGH_SIGMA): the full reverse process; the
    baseline row from the candidate's own run when it has one (its paired differences refer to it)."""
    trained = _trained(rows)
    trained = trained[trained["model"].isin(pair)]
    full = sel.full_process(trained)
    out = []
    for (dataset, sigma), group in full.groupby(["dataset", "sigma"], sort=True):
        if sigma < HIGH_SIGMA - 1e-9:
            continue
        if not (found := _pair_in(group, *pair)):
            continue
        cand, fallback = found
        same_run = trained[
            (trained["model"] == pair[1])
            & (trained["dataset"] == dataset)
            & (trained["sigma"] == sigma)
            & (trained["run_id"] == cand["run_id"])
            & (trained["steps"] == cand["steps"])
        ]
        ref = same_run.iloc[-1] if len(same_run) else fallback
        out.append((cand, ref))
    return out


def robustness_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "robustness",
        "Better noise robustness at high noise (SSIM comparable)",
        PAPER_ROBUSTNESS,
        AUTHORS_ROBUSTNESS,
        f"at each sigma >= {HIGH_SIGMA:g}, full reverse process: LPIPS difference candidate − baseline "
        "where both rows have LPIPS (lower is better: better if diff + CI < 0, worse if diff − CI > 0), "
        "else PSNR difference (better if diff − CI > 0, worse if diff + CI < 0), paired per image, else "
        "unpaired, with 95% CI; else tie; holds if better at every such sigma, does not hold if worse at "
        "one or more and better at none, else inconclusive",
    )
    pair = quality_pair(rows)
    if pair is None:
        needs = f"needs robustness rows with trained weights of {CANDIDATE} and {BASELINE} (or the tiny pair)"
        return _not_measured(base, needs)
    pairs = _high_sigma_pairs(rows, pair)
    if not pairs:
        return _not_measured(
            base, f"needs robustness rows of {pair[0]} and {pair[1]} at sigma >= {HIGH_SIGMA:g}"
        )
    outcomes, measured, paired_all, details, judged_diffs = [], [], True, [], []
    for cand, ref in pairs:
        figures, shown = {}, []
        for metric, label, decimals in (("lpips", "LPIPS", 3), ("psnr_db", "PSNR", 2), ("ssim", "SSIM", 3)):
            if has_metric(cand, ref, metric):
                figures[metric] = quality_difference(cand, ref, metric)
                diff, ci, _ = figures[metric]
                shown.append(f"{label} {_pm(diff, ci, decimals)}{' dB' if metric == 'psnr_db' else ''}")
        judged = next((m for m in ("lpips", "psnr_db") if m in figures), None)  # LPIPS when present
        diff, ci, paired = figures[judged] if judged else (math.nan, math.nan, False)
        outcome = quality_outcome(-diff if judged == "lpips" else diff, ci)  # LPIPS: lower is better
        paired_all &= paired
        outcomes.append(outcome)
        tag = "" if paired else ", unpaired"
        measured.append(f"{_sigma(cand['sigma'])}: {', '.join(shown)} ({outcome}{tag})")
        details.append(Detail(_sigma(cand["sigma"]), ", ".join(shown), outcome + tag))
        if judged:
            judged_diffs.append((judged, diff))
    if all(o == "better" for o in outcomes):
        verdict = HOLDS
    elif "worse" in outcomes and "better" not in outcomes:
        verdict = FAILS
    else:
        verdict = INCONCLUSIVE
    frames = pd.DataFrame([row for p in pairs for row in p])
    conditions = (
        f"{_pair_note(pair)}; weights {_checkpoints(frames)}; {_robust_conditions(frames)}; "
        f"{'paired per-image differences' if paired_all else 'differences (paired per image unless marked)'}"
        " ± 95% CI"
    )
    return replace(base, measured="; ".join(measured), conditions=conditions, verdict=verdict,
                   summary=_robust_summary(outcomes, judged_diffs), details=tuple(details))  # fmt: skip


def _robust_summary(outcomes: Sequence[str], judged: Sequence[tuple[str, float]]) -> str:
    """ "PSNR -1.09–-0.46 dB; better at 0 of 2 sigmas >= 0.2, worse at 2"."""
    counts = f"better at {outcomes.count('better')} of {len(outcomes)} sigmas >= {HIGH_SIGMA:g}, " \
             f"worse at {outcomes.count('worse')}"  # fmt: skip
    metrics = {metric for metric, _ in judged}
    if len(metrics) != 1:
        return counts
    metric = metrics.pop()
    label, unit, fmt = {"lpips": ("LPIPS", "", "+.3f"), "psnr_db": ("PSNR", " dB", "+.2f")}[metric]
    return f"{label} {_span([d for _, d in judged], fmt, unit)} vs baseline; {counts}"


def _robust_conditions(frame: pd.DataFrame) -> str:
    datasets = ", ".join(sorted(set(frame["dataset"].astype(str))))
    images = ", ".join(str(int(n)) for n in sorted(set(frame["n_images"].dropna())))
    samplers = ", ".join(sorted(set(frame["sampler"].dropna().astype(str))))
    devices = ", ".join(sorted(set(frame["device"].dropna().astype(str))))
    counts = sorted({int(n) for n in frame["steps"].dropna()})
    span = f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else "".join(map(str, counts))
    steps = f" in {span} steps" if counts else ""
    return f"{datasets}, {images} images, {samplers}{steps} from t* to 0, {devices}"


# ---------------------------------------------------------------- convergence


def steps_to_converge(sweep: pd.DataFrame) -> int | None:
    """The fewest steps whose mean PSNR is within CONVERGED_DB of the best in ``sweep`` (one model); None
    when the sweep has no PSNR."""
    best = sweep["psnr_db_mean"].max()
    if pd.isna(best):
        return None
    return int(sweep.loc[sweep["psnr_db_mean"] >= best - CONVERGED_DB, "steps"].min())


def convergence_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "convergence",
        "Faster convergence of the reverse process",
        PAPER_CONVERGENCE,
        AUTHORS_CONVERGENCE,
        f"steps to converge = fewest reverse steps whose PSNR is within {CONVERGED_DB:g} dB of the model's "
        "best over the step counts both models swept; holds if the candidate needs fewer than the baseline "
        "at every swept sigma, does not hold if as many or more at every one, else holds at some sigmas",
    )
    pair = quality_pair(rows)
    sweeps = sel.sweeps(_trained(rows)) if pair else pd.DataFrame()
    found = []
    for (_, sigma), group in sweeps.groupby(["dataset", "sigma"], sort=True) if len(sweeps) else []:
        cand, ref = (group[group["model"] == name] for name in pair)
        common = set(cand["steps"]) & set(ref["steps"])  # judged on the step counts both swept
        cand, ref = cand[cand["steps"].isin(common)], ref[ref["steps"].isin(common)]
        enough = len(common) >= sel.SWEEP_MIN_STEPS
        steps = (steps_to_converge(cand), steps_to_converge(ref)) if enough else (None, None)
        if None not in steps:
            found.append((sigma, *steps, cand, ref))
    if not found:
        return _not_measured(
            base, "needs a steps sweep (--steps-sweep, 3 or more step counts) of a trained pair"
        )
    results = [(_sigma(sigma), c < r) for sigma, c, r, _, _ in found]
    measured = "; ".join(f"{_sigma(s)}: {c} vs {r} steps" for s, c, r, _, _ in found)
    details = tuple(Detail(_sigma(s), f"{c} vs {r} steps", "fewer" if c < r else "not fewer")
                    for s, c, r, _, _ in found)  # fmt: skip
    fewer = f"fewer steps at {sum(ok for _, ok in results)} of {len(results)} sigmas"
    summary = _short(f"{fewer} ({measured})", fewer)
    verdict = _combine(results, SOME_SIGMAS, ", ")
    frames = pd.concat([f for *_, c, r in found for f in (c, r)])
    swept = ", ".join(str(int(s)) for s in sorted(set(frames["steps"])))
    conditions = f"steps to converge of {_pair_note(pair)}; steps swept {swept}; {_robust_conditions(frames)}"
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, summary=summary,
                   details=details)  # fmt: skip


# ---------------------------------------------------------------- sample quality (FID)

BETTER, SAME, WORSE, UNMEASURED = "better", "same", "worse", "not measured"
SAMPLE_KEYS = ["reference_key", "n_images", "sampler", "sample_device"]


def fid_pair(scores: pd.DataFrame) -> tuple[str, str] | None:
    """The (candidate, baseline) pair whose FIDs both score samples of trained weights, or None."""
    names = set(scores.loc[sel.is_trained(scores), "model"])
    return next(((c, b) for c, b in QUALITY_PAIRS if c in names and b in names), None)


def lower_outcome(cand: float, ref: float, tolerance: float) -> str:
    """better / worse when the candidate's figure (lower is better) is below / above the baseline's by
    more than ``tolerance`` of it, else same; not measured when either is missing."""
    if sel.missing(cand) or sel.missing(ref):
        return UNMEASURED
    if cand < ref * (1 - tolerance):
        return BETTER
    if cand > ref * (1 + tolerance):
        return WORSE
    return SAME


def reach(frame: pd.DataFrame, target: float) -> pd.Series | None:
    """The row of the fewest steps whose FID is at most ``target`` plus FID_TOLERANCE; None when none is."""
    reached = frame[frame["fid"] <= target * (1 + FID_TOLERANCE)]
    return None if reached.empty else reached.sort_values("steps").iloc[0]


@dataclass(frozen=True)
class FidOutcome:
    target: float  # the baseline's lowest FID over the step counts both were scored at
    cand: pd.Series | None  # the candidate's row that reaches it (None: none does)
    ref: pd.Series  # the baseline's
    steps: str  # better / same / worse
    time: str  # better / same / worse / not measured


def fid_outcome(cand: pd.DataFrame, ref: pd.DataFrame) -> FidOutcome | None:
    """The two models' FIDs in one condition group compared on the step counts both were scored at
    (None when they share none): who reaches the baseline's best FID in fewer steps and less time."""
    common = set(cand["steps"].dropna()) & set(ref["steps"].dropna())
    cand, ref = cand[cand["steps"].isin(common)], ref[ref["steps"].isin(common)]
    ref = ref[ref["fid"].notna()]
    if not common or ref.empty:
        return None
    target = float(ref["fid"].min())
    mine, theirs = reach(cand, target), reach(ref, target)
    if mine is None:  # the candidate never comes within the tolerance: neither in fewer steps nor sooner
        return FidOutcome(target, None, theirs, WORSE, WORSE)
    steps = BETTER if mine["steps"] < theirs["steps"] else SAME if mine["steps"] == theirs["steps"] else WORSE
    time = lower_outcome(mine["sample_s_per_image"], theirs["sample_s_per_image"], TIME_TOLERANCE)
    return FidOutcome(target, mine, theirs, steps, time)


def _fid_condition(row: pd.Series) -> str:
    device = "" if sel.missing(row.get("sample_device")) else f", sampled on {row['sample_device']}"
    return f"{row['sampler']}, {sel.int_text(row['n_images'])} images vs {row['reference']}{device}"


def _fid_measured(found: FidOutcome) -> str:
    if found.cand is None:
        return f"never within {FID_TOLERANCE:.0%} of FID {found.target:.1f} ({found.steps})"

    def seconds(row: pd.Series) -> str:
        return "?" if sel.missing(row["sample_s_per_image"]) else f"{row['sample_s_per_image']:.3g}"

    steps = [sel.int_text(row["steps"]) for row in (found.cand, found.ref)]
    return (
        f"FID {found.target:.1f} at {steps[0]} vs {steps[1]} steps ({found.steps}), "
        f"{seconds(found.cand)} vs {seconds(found.ref)} s/image ({found.time})"
    )


def _samples_verdict(names: Sequence[str], outcomes: Sequence[FidOutcome]) -> str:
    """Holds where the candidate is better in steps and in wall time; said apart when it is better in
    steps everywhere but wall time was not measured (fid rows whose folders have no sample row)."""
    times = {o.time for o in outcomes}
    if all(o.steps == BETTER for o in outcomes) and UNMEASURED in times and times <= {BETTER, UNMEASURED}:
        return "fewer steps; wall time not measured"
    return _combine([(name, o.steps == BETTER and o.time == BETTER) for name, o in zip(names, outcomes)])


def sample_quality_claim(rows: pd.DataFrame) -> Claim:
    base = _claim(
        "samples",
        "Faster convergence, generative form: the baseline's FID in fewer steps and less time",
        PAPER_SAMPLES,
        AUTHORS_SAMPLES,
        "per condition group (reference, images, sampler, device), over the step counts both models were "
        f"scored at: target = the baseline's lowest FID; a model reaches it at its fewest steps with FID <= "
        f"target + {FID_TOLERANCE:.0%} (FID has no CI here: closer counts as the same). Steps: better if the "
        "candidate reaches it in fewer steps, same if as many, worse if more or never; wall time per image "
        f"at those steps (mubench sample): better or worse beyond {TIME_TOLERANCE:.0%}, else same; holds if "
        "better in both in every group, does not hold if in none",
    )
    scores = sel.sample_scores(rows)
    pair = fid_pair(scores) if len(scores) else None
    if pair is None:
        return _not_measured(
            base, f"needs fid rows of samples of trained {CANDIDATE} and {BASELINE} (or the tiny pair)"
        )
    trained = scores[sel.is_trained(scores) & scores["model"].isin(pair)]
    found = []
    for _, group in trained.groupby(SAMPLE_KEYS, dropna=False, sort=False):
        outcome = fid_outcome(*(group[group["model"] == name] for name in pair))
        if outcome is not None:
            found.append((_fid_condition(group.iloc[0]), outcome))
    if not found:
        return _not_measured(base, f"needs FIDs of {pair[0]} and {pair[1]} at one step count, same reference")
    names, where, groups = _grouped([label for label, _ in found])
    outcomes = [outcome for _, outcome in found]
    measured = "; ".join(f"{p}{_fid_measured(o)}" for p, (_, o) in zip(_numbers(len(found)), found))
    verdict = _samples_verdict(names, outcomes)
    unscored = "" if pair == QUALITY_PAIRS[0] else " (paper's pair: no trained FIDs)"
    conditions = f"{pair[0]} vs {pair[1]}{unscored}; {where}"
    details = tuple(Detail(label, _fid_measured(o), f"steps {o.steps}, time {o.time}") for label, o in found)
    both = sum(o.steps == BETTER and o.time == BETTER for o in outcomes)
    many = f"baseline's FID in fewer steps and less time in {both} of {len(found)} condition groups"
    summary = _short(measured, many) if len(found) == 1 else many
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, groups=groups,
                   summary=summary, details=details)  # fmt: skip
