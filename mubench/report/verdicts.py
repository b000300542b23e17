"""A claim of the paper as the report states it, the verdicts it can reach, and the helpers every
measurement's claim is written with (its pair of models, its cells, its condition groups).

Verdicts are decided by each measurement's rules from the result rows; nothing measured is ever a constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from mubench.formatting import percent
from mubench.registry import get_spec, paper_pair, pretrained_pair

BASELINE, CANDIDATE = paper_pair()  # the paper's comparison, as the registry marks it
AUTHORS_MODEL = "ode-u-ref"  # the authors' released cU-Net, as it is
# Quality claims need trained weights: the paper's pair if it has them, else the pair mubench ships.
QUALITY_PAIRS = ((CANDIDATE, BASELINE), pretrained_pair()[::-1])


def authors_ratio(field: str) -> tuple[str, str]:
    """The registry's ``field`` (a count) of the authors' model over the baseline's: ("24.7%", "a / b")."""
    ref, base = (getattr(get_spec(name), field) for name in (AUTHORS_MODEL, BASELINE))
    return percent(ref / base), f"{ref:,} / {base:,}"


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


def fit_cell(text: str, fallback: str) -> str:
    """``text`` when it fits a claims cell, else ``fallback`` (which must)."""
    return text if len(text) <= CELL_LIMIT else fallback


def value_span(values: Sequence[float], fmt: str, unit: str = "") -> str:
    """ "0.45–0.69x", or "0.50x" when all are one value."""
    low, high = (format(v, fmt) for v in (min(values), max(values)))
    dash = " to " if low[0] in "+-" else "–"  # "-1.09 to -0.46", not "-1.09–-0.46"
    return f"{low}{unit}" if low == high else f"{low}{dash}{high}{unit}"


def signed(value: float, decimals: int) -> str:
    return "nan" if math.isnan(value) else f"{value:+.{decimals}f}"


def plus_minus(value: float, ci: float, decimals: int) -> str:
    spread = "?" if math.isnan(ci) else f"{ci:.{decimals}f}"
    return f"{signed(value, decimals)} ± {spread}"


def group_numbers(count: int) -> list[str]:
    """ "(1) ", "(2) ", ... to tell several conditions apart; nothing for one."""
    return [""] if count == 1 else [f"({i}) " for i in range(1, count + 1)]


def group_names(labels: Sequence[str]) -> tuple[list[str], str, tuple[str, ...]]:
    """How cells name condition groups: (names for verdicts, the conditions cell's part, the groups
    listed under the table). One group is named in full; several by number, listed under the table."""
    if len(labels) == 1:
        return list(labels), labels[0], ()
    names = [f"({i})" for i in range(1, len(labels) + 1)]
    return names, f"condition groups (1)–({len(labels)}), listed under the table", tuple(labels)


def sigma_label(value: float) -> str:
    return f"σ {value:g}"


def combine_verdicts(
    results: Sequence[tuple[str, bool]], some: str = SOME_CONDITIONS, sep: str = "; "
) -> str:
    """holds in every condition, in none, or in some (named)."""
    held = [label for label, ok in results if ok]
    if len(held) == len(results):
        return HOLDS
    if not held:
        return FAILS
    return f"{some}: {sep.join(held)}"


def last_pair(group: pd.DataFrame, candidate: str, baseline: str) -> tuple[pd.Series, pd.Series] | None:
    """The last row of each of the two models in ``group`` (model column kept), or None if one lacks."""
    last = group.drop_duplicates("model", keep="last")
    rows = [last[last["model"] == name] for name in (candidate, baseline)]
    return None if any(r.empty for r in rows) else (rows[0].iloc[0], rows[1].iloc[0])


def not_measured(base: Claim, needs: str) -> Claim:
    return replace(base, measured="—", conditions=needs, verdict=NOT_MEASURED)


def new_claim(key: str, claim: str, paper: str, authors: str, rule: str) -> Claim:
    return Claim(key, claim, paper, authors, "—", "", NOT_MEASURED, rule)
