"""Comparing two result tables: rows joined on their key columns, metric by metric, with regression rules.

A regression is a metric that got worse than the baseline by more than its allowed percentage
(``fail_on``), or that changed at all where it must not (``exact``: parameter counts, MACs, NFE), or a
row that measured fine in the baseline and failed now. Which direction is worse is known per metric.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from mubench.defaults import DEFAULT_METRICS
from mubench.errors import UsageError, opt
from mubench.schema import HIGHER_IS_BETTER, JOIN_KEYS, OWNERS

# Only joined on when both sides have them: the options of the suite table a row came from (not its
# models, so adding a model to a table keeps the other models' rows matched).
SUITE_KEYS = ("suite_options",)
# The metrics compared on each command's rows (a metric may belong to several), from the schema.
OWNER = {m: {c for c, metrics in OWNERS.items() if m in metrics} for ms in OWNERS.values() for m in ms}
METRICS = tuple(OWNER)


@dataclass
class Comparison:
    table: pd.DataFrame  # one line per (row, metric): label, metric, baseline, current, ratio, change, limit
    only_baseline: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    failed_now: list[str] = field(default_factory=list)  # ok in the baseline, not ok now
    regressions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a reader of the time ratios should know


def parse_fail_on(spec: str) -> tuple[str, float]:
    """``METRIC:PCT`` (``call_ms_median:15%``) -> (metric, allowed worsening in percent)."""
    match = re.fullmatch(r"([a-z0-9_]+):(\d+(?:\.\d*)?)%?", spec.strip())
    if not match:
        raise UsageError(f"{opt('fail_on')} '{spec}': write METRIC:PCT, e.g. call_ms_median:15% or macs:0%")
    check_metric(match[1], "fail_on")
    return match[1], float(match[2])


def check_metric(name: str, field: str) -> None:
    """Refuse a ``name`` that is not a compared metric, naming the option ``field`` it came from."""
    if name not in METRICS:
        raise UsageError(
            f"{opt(field)} {name}: not a metric mubench compares; choose from {', '.join(METRICS)}"
        )


def worse(metric: str, baseline: float, current: float, pct: float) -> bool:
    """Did ``metric`` get worse by more than ``pct`` percent (0: at all)?"""
    if metric in HIGHER_IS_BETTER:
        return current < baseline * (1 - pct / 100)
    return current > baseline * (1 + pct / 100)


def compare_frames(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    fail_on: dict[str, float] | None = None,
    exact: tuple[str, ...] = (),
    metrics: tuple[str, ...] = (),
    fail_on_missing: bool = False,
) -> Comparison:
    """Join the two tables on their shared key columns and compare metric by metric."""
    fail_on = dict(fail_on or {})
    for name in (*fail_on, *exact):
        if name not in baseline and name not in current:
            raise UsageError(f"{name}: neither file has this column; nothing to compare")
    # A key column one side lacks reads as empty there (a suite folder against a single command's CSV).
    keys = [k for k in JOIN_KEYS if (k in baseline and k in current) or (k not in SUITE_KEYS and
            (k in baseline or k in current))]  # fmt: skip
    base, cur = _indexed(baseline, keys, "baseline"), _indexed(current, keys, "current")
    both = pd.concat([base.index.to_frame(index=False), cur.index.to_frame(index=False)])
    labels = _distinct(_labels(both.drop_duplicates(), keys), {**_options(cur), **_options(base)})
    result = Comparison(table=pd.DataFrame())
    only_base, only_cur = base.index.difference(cur.index), cur.index.difference(base.index)
    failed_rows = _failures_without_keys(base, cur, only_base, only_cur)
    for base_key, cur_key in failed_rows:
        c = cur.loc[cur_key]
        result.failed_now.append(f"{labels[base_key]}: {c.get('status')} ({c.get('message', '')})")
    result.only_baseline = [labels[k] for k in only_base if k not in {b for b, _ in failed_rows}]
    result.only_current = [labels[k] for k in only_cur if k not in {c for _, c in failed_rows}]
    # The gates are always checked; --metric chooses what else is shown.
    shown = tuple(dict.fromkeys((*exact, *fail_on, *(metrics or DEFAULT_METRICS))))
    lines = []
    for key in base.index.intersection(cur.index, sort=False):
        b, c = base.loc[key], cur.loc[key]
        command = dict(zip(keys, key if len(keys) > 1 else [key])).get("command", "")
        if b.get("status", "ok") != "ok" or c.get("status", "ok") != "ok":
            if b.get("status", "ok") == "ok":
                result.failed_now.append(f"{labels[key]}: {c.get('status')} ({c.get('message', '')})")
            continue
        for metric in shown:
            if command not in OWNER[metric]:
                continue
            spread = _process_spread(metric, b, c)
            line = _line(labels[key], metric, b.get(metric), c.get(metric), fail_on, exact, spread)
            if line is None:
                continue
            lines.append(line)
            if line["regression"]:
                result.regressions.append(
                    f"{line['label']}: {metric} {format_value(line['baseline'])} -> "
                    f"{'missing' if line['change'] == 'missing' else format_value(line['current'])} "
                    f"(allowed: {line['limit']})"
                )
    if result.failed_now and (fail_on or exact or fail_on_missing):
        result.regressions += [f"{text} (it measured fine in the baseline)" for text in result.failed_now]
    if fail_on_missing and result.only_baseline:
        result.regressions.append(f"{len(result.only_baseline)} baseline row(s) missing now")
    result.table = pd.DataFrame(lines, columns=["label", "metric", "baseline", "current", "ratio", "change",
                                                "limit", "regression"])  # fmt: skip
    result.notes = rate_shifts(baseline, current)
    return result


# Rates each latency run measures on its device (for the roofline): they show how fast the machine ran.
DEVICE_RATES = (
    ("device_matmul_gflops", "matmul peak", "GFLOP/s"),
    ("device_bandwidth_gbps", "bandwidth", "GB/s"),
)
RATE_SHIFT = 0.10  # rates that moved by more than this: not the same machine, or not the same host load


def rate_shifts(baseline: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """One line per device whose measured rates differ by more than :data:`RATE_SHIFT` between the two
    tables (median over their ok latency rows): time ratios of about that size may be the machine, not
    the code. The gates do not change."""
    base, cur = _ok_latency(baseline), _ok_latency(current)
    notes = []
    for device in sorted(set(base["device"].dropna()) & set(cur["device"].dropna())):
        moved = []
        for column, name, unit in DEVICE_RATES:
            before, now = (_median(t.loc[t["device"] == device], column) for t in (base, cur))
            if before and now and abs(now / before - 1) > RATE_SHIFT:
                moved.append(f"{name} {before:,.1f} -> {now:,.1f} {unit} ({now / before - 1:+.0%})")
        if moved:
            notes.append(
                f"{device}: the machine measured other rates ({'; '.join(moved)}): time ratios of that "
                "size may be the machine, not the code"
            )
    return notes


def _ok_latency(frame: pd.DataFrame) -> pd.DataFrame:
    if "command" not in frame or "device" not in frame:
        return pd.DataFrame(columns=["device"])
    ok = frame["command"] == "latency"
    if "status" in frame:
        ok &= frame["status"] == "ok"
    return frame[ok]


def _median(frame: pd.DataFrame, column: str) -> float | None:
    """The median of a numeric column where present and positive, else None."""
    if column not in frame:
        return None
    values = pd.to_numeric(frame[column], errors="coerce")
    values = values[values > 0]
    return float(values.median()) if not values.empty else None


def _failures_without_keys(
    base: pd.DataFrame, cur: pd.DataFrame, only_base: pd.Index, only_cur: pd.Index
) -> list[tuple[tuple, tuple]]:
    """(baseline row, current failure row) pairs for ok baseline rows that did not join because the row
    recording the failure lacks key values its measurement would have filled (a failed flops item has no
    counter, tier or solver): a failure row's empty keys match any value."""
    failures = [k for k in only_cur if cur.loc[k].get("status", "ok") != "ok"]
    pairs = []
    for base_key in only_base:
        if base.loc[base_key].get("status", "ok") != "ok":
            continue
        for cur_key in failures:
            if all(c in ("", b) for b, c in zip(_as_tuple(base_key), _as_tuple(cur_key))):
                pairs.append((base_key, cur_key))
                break
    return pairs


def _as_tuple(key: object) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _indexed(frame: pd.DataFrame, keys: list[str], side: str) -> pd.DataFrame:
    text = {k: frame[k].map(_key_text) if k in frame else pd.Series("", index=frame.index) for k in keys}
    indexed = frame.drop(columns=[k for k in keys if k in frame]).assign(**text).set_index(keys)
    repeated = indexed.index[indexed.index.duplicated()]
    if len(repeated):
        where = dict(zip(keys, repeated[0] if len(keys) > 1 else [repeated[0]]))
        count = int((indexed.index == repeated[0]).sum())
        raise UsageError(
            f"the {side} file has {count} rows for one measurement "
            f"({', '.join(f'{k}={v}' for k, v in where.items() if v)}); "
            "compare the output of single runs"
        )
    return indexed


def _key_text(value: object) -> str:
    """Key values as text that joins a CSV's 10.0 with a JSON's 10, and any missing value with another."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _labels(index_frame: pd.DataFrame, keys: list[str]) -> dict[tuple, str]:
    """A short name per row: command and model, then the key values that differ between rows of that
    command."""
    hidden = ("command", "model", "suite_item", "suite_options")
    by_command = index_frame.groupby("command") if "command" in keys else [("", index_frame)]
    labels = {}
    for command, group in by_command:
        varying = [k for k in keys if k not in hidden and group[k].nunique() > 1]
        for values in group.itertuples(index=False):
            row = dict(zip(keys, values))
            extra = " ".join(f"{k}={row[k]}" for k in varying if row[k])
            key = tuple(values) if len(keys) > 1 else values[0]
            labels[key] = f"{command} {row.get('model', '')}".strip() + (f" ({extra})" if extra else "")
    return labels


def _options(indexed: pd.DataFrame) -> dict[object, dict]:
    """The suite options of each row (``mubench run`` records them), by row key."""
    names = list(indexed.index.names)
    if "suite_options" in names:
        texts = zip(indexed.index, indexed.index.get_level_values("suite_options"))
    elif "suite_options" in indexed:
        texts = indexed["suite_options"].items()
    else:
        return {}
    return {key: json.loads(text) for key, text in texts if isinstance(text, str) and text}


def _distinct(labels: dict, options: dict[object, dict]) -> dict:
    """Rows whose labels coincide (two suite tables differing in an option that is not a key column)
    get the suite options that tell them apart."""
    groups: dict[str, list] = {}
    for key, label in labels.items():
        groups.setdefault(label, []).append(key)
    for label, keys in groups.items():
        if len(keys) < 2:
            continue
        found = [options.get(key, {}) for key in keys]
        differing = sorted({k for o in found for k in o if any(o.get(k) != other.get(k) for other in found)})
        for key, opts in zip(keys, found):
            extra = " ".join(f"{k}={opts[k]}" for k in differing if k in opts)
            labels[key] = f"{label} [{extra}]" if extra else label
    return labels


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _process_spread(metric: str, b: pd.Series, c: pd.Series) -> float | None:
    """For a timing metric, the larger between-process spread of the two rows where measured (rows of
    ``--processes N``): a change smaller than it says nothing about the code."""
    for prefix in ("call_ms", "trajectory_s"):
        if metric.startswith(prefix + "_"):
            spreads = [_number(row.get(f"{prefix}_process_spread")) for row in (b, c)]
            known = [s for s in spreads if s is not None]
            return max(known) if known else None
    return None


def _line(
    label: str,
    metric: str,
    b: object,
    c: object,
    fail_on: dict[str, float],
    exact: tuple,
    spread: float | None = None,
) -> dict | None:
    baseline, current = _number(b), _number(c)
    if baseline is None:
        return None
    if current is None:  # measured in the baseline, not now: a gated metric must not vanish
        gated = metric in exact or metric in fail_on
        limit = "no change" if metric in exact else f"{fail_on[metric]:g}% worse" if gated else "reported"
        return {"label": label, "metric": metric, "baseline": baseline, "current": math.nan,
                "ratio": math.nan, "change": "missing", "limit": limit, "regression": gated}  # fmt: skip
    if metric in exact:
        regression, limit = current != baseline, "no change"
    elif metric in fail_on:
        allowed = fail_on[metric]
        limit = f"{allowed:g}% worse"
        if spread is not None and spread * 100 > allowed:  # within the processes' own spread: unchanged
            allowed = spread * 100
            limit += f" or the process spread, {allowed:.3g}%"
        regression = worse(metric, baseline, current, allowed)
    else:
        regression, limit = False, "reported"
    change = "same" if current == baseline else "better" if worse(metric, current, baseline, 0) else "worse"
    return {
        "label": label,
        "metric": metric,
        "baseline": baseline,
        "current": current,
        "ratio": current / baseline if baseline else math.nan,
        "change": change,
        "limit": limit,
        "regression": regression,
    }


def format_value(value: float) -> str:
    """A metric value as shown: whole numbers with thousands separators, others to 6 significant digits."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"
