"""Running a suite into a folder: every finished item's rows are on disk before the next item starts.

The folder holds ``results.csv`` (every row), one ``<measurement>.csv`` per measurement, the
``environment.json`` of the machine and a copy of the suite file (``suite.toml``). Files are rewritten
atomically after each item, so an interrupted run leaves every finished row readable. ``resume``
keeps the rows of finished items and runs the rest (items that failed run again).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mubench.errors import UsageError, opt
from mubench.measure.measurements import MEASUREMENTS
from mubench.results import (
    SUITE_RESULTS,
    full_environment,
    new_run_id,
    read_results,
    with_declared_types,
    write_csv,
    write_text_atomic,
)
from mubench.suite.spec import Suite, SuiteItem
from mubench.suite.tables import KEYS, measure

Tick = Callable[..., None]  # tick(label) = one item done; tick(label, completed=n) = relabel only


@dataclass
class ItemOutcome:
    item: SuiteItem
    rows: int
    status: str  # "ok", "failed" (some row not ok), or "done before" (kept from an earlier run)
    seconds: float


MODULES_CSV = "flops_modules.csv"  # flops tables with a depth: MACs per module, per item
OUTPUTS = (SUITE_RESULTS, *(f"{name}.csv" for name in KEYS), MODULES_CSV, "environment.json", "suite.toml")
FINISHED = ("ok", "skipped")  # any other status (error, oom) runs again on --resume


def prepare_folder(out: Path, resume: bool, suite_name: str | None = None) -> pd.DataFrame:
    """Create ``out`` if needed; the rows already there when resuming (refused when not resuming, or when
    they are another suite's). Rows of an item with a damaged row are left out: that item runs again."""
    results = out / SUITE_RESULTS
    if out.exists() and not out.is_dir():
        raise UsageError(f"{opt('out')} '{out}' is a file; give a folder")
    present = [name for name in OUTPUTS if (out / name).exists()]
    if present and not resume:
        raise UsageError(
            f"'{out}' already holds {present[0]}; pass {opt('resume')} to finish that run, or another "
            f"{opt('out')}"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create '{out}': {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"cannot write into '{out}': permission denied")
    if resume and results.exists():
        frame, env = read_results(out)  # checks the schema
        if "suite_item" not in frame:
            raise UsageError(f"'{results}' was not written by `mubench run`; cannot resume it")
        _check_same_suite(out, frame, env, suite_name)
        _read_breakdowns(out / MODULES_CSV)  # a damaged one is refused before anything runs
        return without_damaged_items(frame)
    return pd.DataFrame()


def without_damaged_items(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` less every row of an item that has a damaged row (a line cut short: no item,
    command or status). Such a row is the item's by its run id, else by the rows written around it
    (an item's rows are written together), so that an item with a lost row never counts as finished."""
    torn = frame["suite_item"].isna() | frame["command"].isna() | frame["status"].isna()
    if not torn.any():
        return frame
    items = frame["suite_item"].tolist()
    damaged: set[str] = set()
    for position in [i for i, t in enumerate(torn.tolist()) if t]:
        run = frame["run_id"].iloc[position] if "run_id" in frame else None
        same_run = frame.loc[frame["run_id"] == run, "suite_item"].dropna() if pd.notna(run) else []
        if len(same_run):
            damaged |= set(same_run)
            continue
        before = [x for x in items[:position] if isinstance(x, str)]
        after = [x for x in items[position + 1 :] if isinstance(x, str)]
        damaged |= {x for x in (before[-1:] + after[:1]) if x}
        if items[position] is not None and isinstance(items[position], str):
            damaged.add(items[position])
    return frame[~torn & ~frame["suite_item"].isin(damaged)]


def _check_same_suite(out: Path, frame: pd.DataFrame, env: dict, suite_name: str | None) -> None:
    """Refuse to resume a folder holding another suite's rows."""
    if suite_name is None:
        return
    names = set(frame["suite"].dropna().astype(str)) if "suite" in frame else set()
    if isinstance(env.get("suite"), str):
        names.add(env["suite"])
    others = sorted(names - {suite_name})
    if others:
        raise UsageError(
            f"'{out}' holds the results of suite '{others[0]}', not '{suite_name}'; {opt('resume')} only "
            f"finishes a run of the same suite: give another {opt('out')}"
        )


def _read_breakdowns(path: Path) -> pd.DataFrame:
    """``flops_modules.csv`` of the folder (empty when there is none); one line if it is damaged."""
    if not path.is_file():
        if path.exists() or path.is_symlink():
            raise UsageError(f"'{path}' is not a file; move it away to resume")
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path, dtype={"suite_item": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UsageError(f"'{path}' is damaged ({type(exc).__name__}); move it away to resume") from None
    except OSError as exc:
        raise UsageError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if not frame.empty and "suite_item" not in frame:
        raise UsageError(f"'{path}' has no suite_item column, so it is not mubench's; move it away to resume")
    return frame


def finished_items(previous: pd.DataFrame) -> set[str]:
    """Ids of items whose rows all finished (ok or skipped); items with an error or oom row run again."""
    if previous.empty:
        return set()
    failed = set(previous.loc[~previous["status"].isin(FINISHED), "suite_item"])
    return set(previous["suite_item"]) - failed


def run_suite(
    suite: Suite, out: Path, resume: bool, tick: Tick
) -> tuple[pd.DataFrame, list[ItemOutcome], int]:
    """Run every item not finished before; write the folder after each. Returns all rows, the outcomes,
    and how many kept rows belong to items that are not in this suite (an edited file, or --only)."""
    previous = prepare_folder(out, resume, suite.name)
    done = finished_items(previous)
    ids = {item.item_id for item in suite.items}
    # Rows of items that run now are replaced; every other earlier row stays, failed ones included.
    kept = previous[~previous["suite_item"].isin(ids - done)] if not previous.empty else previous
    foreign = int((~kept["suite_item"].isin(ids)).sum()) if not kept.empty else 0
    frames = [kept] if not kept.empty else []
    _write_keeping_previous(out / "suite.toml", suite.text)
    _write_keeping_previous(out / "environment.json", json.dumps(_environment(suite), indent=2) + "\n",
                            same=_same_environment)  # fmt: skip
    outcomes = []
    completed = 0
    for item in suite.items:
        if item.item_id in done:
            rows = int((kept["suite_item"] == item.item_id).sum())
            outcomes.append(ItemOutcome(item, rows, "done before", 0.0))
            completed += 1
            tick(f"{item.label} (done before)", completed=completed)
            continue
        begin = time.perf_counter()
        label = item.label

        def relabel(detail: str, label: str = label, n: int = completed) -> None:
            tick(f"{label}: {detail}", completed=n)

        relabel("starting")
        # One run id per item: rows that share it were measured together (the same round-robin timing,
        # the same noisy images); the suite as a whole is named by the `suite` column.
        measured = measure(
            MEASUREMENTS[item.measurement], list(item.models), item.conds, new_run_id(), relabel
        )
        frame = pd.DataFrame(measured.rows)
        _write_breakdowns(out, item.item_id, [b for b in measured.breakdowns if not b.empty])
        options = json.dumps(item.options, sort_keys=True)
        frame = frame.assign(
            suite=suite.name, suite_item=item.item_id, suite_options=options, suite_note=item.note
        )
        frames.append(frame)
        _write_or_keep(out, pd.concat(frames, ignore_index=True))
        ok = (frame["status"] == "ok").all()
        outcomes.append(ItemOutcome(item, len(frame), "ok" if ok else "failed", time.perf_counter() - begin))
        completed += 1
        tick(label, completed=completed)
    # Written after every item that ran; when none ran, the folder already holds exactly these rows.
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return combined, outcomes, foreign


def condition_notes(outcomes: list[ItemOutcome]) -> list[str]:
    """What the items that ran now say of their conditions (robustness: LPIPS left out for want of its
    backbone file, naming the exact path to put it at), each distinct note once."""
    notes: list[str] = []
    for outcome in outcomes:
        if outcome.status == "done before":
            continue
        for note in MEASUREMENTS[outcome.item.measurement].notes(outcome.item.conds):
            if note not in notes:
                notes.append(note)
    return notes


def _write_keeping_previous(path: Path, text: str, same: Callable[[str, str], bool] = str.__eq__) -> None:
    """Write ``text`` to ``path``; a different earlier version (a run resumed with an edited suite or on
    another machine) is kept as ``<stem>.1<suffix>``, ``<stem>.2<suffix>``, ... for the rows it describes."""
    if path.is_file() and not same(path.read_bytes().decode("utf-8", errors="replace"), text):
        n = 1
        while (kept := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
            n += 1
        os.replace(path, kept)
    write_text_atomic(path, text)


def _same_environment(old: str, new: str) -> bool:
    """The same machine and software (the suite file may be named by another path)."""
    try:
        before = json.loads(old)
    except json.JSONDecodeError:
        return False
    after = json.loads(new)
    return isinstance(before, dict) and {**before, "suite_file": None} == {**after, "suite_file": None}


def _write_breakdowns(out: Path, item_id: str, breakdowns: list[pd.DataFrame]) -> None:
    """Keep a flops item's per-module MACs in ``flops_modules.csv`` (an item run again replaces its own)."""
    path = out / MODULES_CSV
    previous = _read_breakdowns(path)
    if not breakdowns and (previous.empty or item_id not in set(previous["suite_item"])):
        return
    kept = previous[previous["suite_item"] != item_id] if not previous.empty else previous
    new = [b.assign(suite_item=item_id) for b in breakdowns]
    write_csv(pd.concat([kept, *new], ignore_index=True), path)


def _write_or_keep(out: Path, combined: pd.DataFrame) -> None:
    """:func:`write_folder`; when the folder cannot be written (a full disk), the rows go to a file in the
    temporary folder, named in the one-line error that stops the run."""
    import tempfile

    from mubench.outputs import WriteError

    try:
        write_folder(out, combined)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"mubench-run-{new_run_id()}.csv"
        try:
            write_csv(with_declared_types(combined), fallback)
            kept = f"every row so far is in {fallback}"
        except OSError:
            kept = "nor in the temporary folder; the rows of the items written before stay in the folder"
        error = WriteError(out / SUITE_RESULTS, exc)
        error.message = f"{error.message}; {kept}"
        raise error from None


def write_folder(out: Path, combined: pd.DataFrame) -> None:
    """``results.csv`` and one CSV per measurement (only the columns that measurement fills)."""
    combined = with_declared_types(combined)
    write_csv(combined, out / SUITE_RESULTS)
    for name in KEYS:
        part = combined[combined["command"] == name]
        if not part.empty:
            write_csv(part.dropna(axis="columns", how="all"), out / f"{name}.csv")


def _environment(suite: Suite) -> dict:
    devices = {str(item.conds.device) for item in suite.items if hasattr(item.conds, "device")}
    gpu = next((d for d in sorted(devices) if d.startswith("cuda")), None)
    return {
        **full_environment(gpu or "cpu"),
        "suite": suite.name,
        "suite_file": str(suite.path),
        "suite_description": suite.description,
    }
