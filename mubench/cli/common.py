"""What every command shares: options, friendly errors, progress, output files."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.markup import escape

from mubench.cli.declared import typer_annotation
from mubench.cli.output import OutputConsole, columns_from_env
from mubench.defaults import DEFAULT_PAIR
from mubench.distributed import launched
from mubench.errors import MubenchError, UsageError
from mubench.options.catalog import OUTPUTS

if TYPE_CHECKING:  # imported where used: `mubench --help` starts without pandas and torch
    import pandas as pd


# An invalid COLUMNS (text, 0, negative) is dropped before rich or typer read it, so that the help pages
# use the terminal's width, or 80, instead of failing or printing nothing.
if "COLUMNS" in os.environ and columns_from_env() is None:
    del os.environ["COLUMNS"]

console = OutputConsole()  # tables whole when piped; COLUMNS when valid
err_console = OutputConsole(stderr=True)  # notes on one line each when logged


# Where rows go, declared once (mubench.options.catalog) for the measurement commands and the others.
CsvOpt, JsonOpt, QuietOpt = (typer_annotation(option) for option in OUTPUTS)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn mubench's known errors into one line on stderr and their exit code (2: bad input)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _partial_files.clear()  # only this command's files (tests run many commands in one process)
        _partial_for.clear()
        _partial_failed.clear()
        try:
            return func(*args, **kwargs)
        except MubenchError as exc:
            world = launched()
            where = f"rank {world.rank} of {world.world_size}: " if world.world_size > 1 else ""
            err_console.print(
                f"[bold red]{where}error:[/] {escape(exc.render('cli'))}{escape(_where_partial_rows())}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a file that could not be read or written, wherever it was met
            from mubench.outputs import MACHINE_ERRNOS

            named = f" '{exc.filename}'" if exc.filename else ""
            err_console.print(f"error: cannot use{named}: {exc.strerror or exc}{_where_partial_rows()}",
                              highlight=False, markup=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(1 if exc.errno in MACHINE_ERRNOS else 2) from None
        except KeyboardInterrupt:
            err_console.print(f"interrupted{_where_partial_rows()}", highlight=False, markup=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def models_or_default(models: list[str] | None, default: tuple[str, ...] = DEFAULT_PAIR) -> list[str]:
    """The --model names given, or ``default`` (the paper's comparison pair); the measurement checks them."""
    return list(models) if models else list(default)


def check_outputs(*paths: Path | None, inputs: tuple[str | Path, ...] = ()) -> None:
    """Fail before measuring if an output file could not be written, is one of ``inputs`` (or inside an
    input folder), or two outputs are one file; choose where this run keeps its unfinished rows (a
    ``*.partial.*`` name that no file has yet)."""
    from mubench.outputs import check_not_input
    from mubench.results import check_writable

    given = [p for p in paths if p is not None]
    for path in given:
        check_not_input(path, inputs)
    resolved = [p.resolve() for p in given]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise UsageError(f"'{given[i]}' is named for two outputs; give each its own file")
    for path in given:
        check_writable(path)
        _partial_for[path] = _free_partial_name(path)
        check_writable(_partial_for[path])


_partial_files: set[Path] = set()  # written by this process: named if the run is interrupted
_partial_for: dict[Path, Path] = {}  # requested file -> where this run keeps its unfinished rows
_partial_failed: list[str] = []  # why the unfinished rows could not be written (said once)


def _free_partial_name(path: Path) -> Path:
    """``flops.csv`` -> ``flops.partial.csv``, or ``flops.partial-2.csv`` ... when the user has that file:
    a run never overwrites nor deletes a file it did not create."""
    candidate, n = path.with_name(_fitting(path.stem, ".partial", path.suffix)), 1
    while candidate.exists() and candidate not in _partial_files:
        n += 1
        candidate = path.with_name(_fitting(path.stem, f".partial-{n}", path.suffix))
    return candidate


NAME_MAX = 255  # bytes in one file name on common file systems


def _fitting(stem: str, tag: str, suffix: str) -> str:
    """``stem + tag + suffix``, the stem shortened when the whole would be longer than a file name may be
    (a name the user could give must not be refused because its partial file's name is longer)."""
    room = NAME_MAX - len((tag + suffix).encode())
    encoded = stem.encode()
    if len(encoded) > room:
        stem = encoded[:room].decode(errors="ignore")
    return f"{stem}{tag}{suffix}"


def _where_partial_rows() -> str:
    """``; the finished rows are in ...`` for a run that stops early after writing partial files."""
    kept = sorted(str(p) for p in _partial_files if p.exists())
    return f"; the finished rows are in {', '.join(kept)}" if kept else ""


def partial_path(path: Path) -> Path:
    """Where this run keeps the unfinished rows of ``path``: ``flops.csv`` -> ``flops.partial.csv``
    (another name if the user has that file; chosen by :func:`check_outputs`)."""
    return _partial_for.get(path) or path.with_name(f"{path.stem}.partial{path.suffix}")


def _save(frame: pd.DataFrame, csv: Path | None, json: Path | None, device: str) -> None:
    from mubench.results import full_environment, write_csv, write_json

    if csv is not None:
        write_csv(frame, csv)
    if json is not None:
        write_json(frame, json, full_environment(device))


def save_partial(frame: pd.DataFrame, csv: Path | None, json: Path | None, device: str = "cpu") -> None:
    """(Re)write the rows so far, atomically, beside each requested file (``*.partial.*``): an interrupted
    run keeps them, and the files the user already has stay as they were until the run completes."""
    paths = [partial_path(p) if p is not None else None for p in (csv, json)]
    try:
        _save(frame, paths[0], paths[1], device)
    except OSError as exc:  # the rows stay in memory; finish() writes them, or falls back
        if not _partial_failed:
            err_console.print(f"note: cannot keep the unfinished rows on disk ({exc.strerror or exc}); "
                              "the run goes on", highlight=False, markup=False, soft_wrap=True)  # fmt: skip
        _partial_failed.append(str(exc))
        return
    _partial_files.update(p for p in paths if p is not None)


def finish(frame: pd.DataFrame, csv: Path | None, json: Path | None, device: str = "cpu") -> None:
    """Write the rows to the requested files (removing the run's partial ones); name every failed
    measurement in one line each, and exit 1 if any failed (its row says why). If a file cannot be
    written after all, the rows go to a fallback file in the temporary folder, named, and exit 1."""
    for model, message in _failures(frame):
        err_console.print(f"failed ({model}): {message}", highlight=False, markup=False, soft_wrap=True)
    try:
        _save(frame, csv, json, device)
    except OSError as exc:
        _fall_back(frame, exc, device)
    for path in (csv, json):
        if path is not None:
            if partial_path(path) in _partial_files:  # only a file this run created
                partial_path(path).unlink(missing_ok=True)
                _partial_files.discard(partial_path(path))
            err_console.print(f"wrote {len(frame)} rows to {path}", highlight=False, markup=False)
    if (frame["status"] != "ok").any():
        raise typer.Exit(1)


def _fall_back(frame: pd.DataFrame, exc: OSError, device: str) -> None:
    """Keep the rows that could not be written: in a file of the temporary folder, or, when that cannot
    be written either, as CSV on stdout. Exits 1."""
    fallback = _fallback_path(frame)
    try:
        _save(frame, fallback, None, device)
        where = f"they are in {fallback}"
    except OSError as again:
        where = f"nor in {fallback} ({again.strerror or again}); they follow as CSV"
        print(frame.to_csv(index=False), end="")
    err_console.print(f"error: cannot write the rows ({exc.strerror or exc}); {where}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    raise typer.Exit(1) from None


def _failures(frame: pd.DataFrame) -> list[tuple[str, str]]:
    failed = frame[frame["status"] != "ok"] if "status" in frame else frame.iloc[:0]
    return [(str(r.get("model")), str(r.get("message") or r.get("status"))) for _, r in failed.iterrows()]


def _fallback_path(frame: pd.DataFrame) -> Path:
    import tempfile

    run = frame["run_id"].iloc[0] if "run_id" in frame and len(frame) else "rows"
    command = frame["command"].iloc[0] if "command" in frame and len(frame) else "mubench"
    return Path(tempfile.gettempdir()) / f"mubench-{command}-{run}.csv"


@contextlib.contextmanager
def progress(total: int | None, description: str, quiet: bool) -> Iterator[Callable[..., None]]:
    """A rich progress bar (elapsed, ETA) on stderr unless quiet; yields ``tick(label)`` = one step done,
    or ``tick(label, completed=n)`` = n steps done in all."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task(description, total=total)

        def tick(label: str, completed: int | None = None) -> None:
            step = {"advance": 1} if completed is None else {"completed": completed}
            bar.update(task, description=f"{description}: {label}", **step)

        yield tick
