"""The `--help` of every command as text files under docs/cli/, the pages the README links to.

    python -m mubench.cli.help_docs [--out docs/cli] [--check]

Rendered in-process at a fixed width (``WIDTH`` columns, no colour, trailing spaces stripped), so the
files are the same on every machine; tests/cli/test_help_docs.py fails when they differ from the code.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
import typer.rich_utils
from typer.testing import CliRunner

WIDTH = 100
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "cli"
REFRESH = "python -m mubench.cli.help_docs"


@contextlib.contextmanager
def _fixed_terminal() -> Iterator[None]:
    """Typer reads the help's width and colour from the environment once, at import: fix both while
    rendering (no colour even under GITHUB_ACTIONS or FORCE_COLOR)."""
    saved = typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL
    typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL = WIDTH, False
    try:
        yield
    finally:
        typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL = saved


def render_help() -> dict[str, str]:
    """``{file name: help text}``: ``mubench.txt`` for the root, ``<command>.txt`` for each command."""
    from mubench.cli.app import COMMANDS, app

    commands = sorted(COMMANDS)
    runner = CliRunner()
    pages = {}
    with _fixed_terminal():
        for name, args in [("mubench", []), *((command, [command]) for command in commands)]:
            result = runner.invoke(app, [*args, "--help"], prog_name="mubench", env={"COLUMNS": str(WIDTH)})
            if result.exit_code != 0:
                raise RuntimeError(
                    f"mubench {' '.join(args)} --help exited {result.exit_code}: {result.output}"
                )
            lines = [line.rstrip() for line in result.output.strip("\n").splitlines()]
            pages[f"{name}.txt"] = "\n".join(lines) + "\n"
    return pages


def stale_pages(out: Path, pages: dict[str, str]) -> list[str]:
    """The files under ``out`` that differ from ``pages``, are missing, or belong to no command."""
    found = {path.name for path in out.glob("*.txt")} if out.is_dir() else set()
    changed = [
        name for name, text in pages.items() if not (out / name).is_file() or (out / name).read_text() != text
    ]
    return sorted({*changed, *(found - set(pages))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Folder of the pages (docs/cli).")
    parser.add_argument("--check", action="store_true", help="Write nothing; exit 1 if a page is stale.")
    args = parser.parse_args(argv)
    pages = render_help()
    stale = stale_pages(args.out, pages)
    if args.check:
        for name in stale:
            print(f"stale: {args.out / name} (refresh: {REFRESH})", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.out.glob("*.txt"):
        if path.name not in pages:
            path.unlink()
    for name, text in pages.items():
        (args.out / name).write_text(text)
    print(f"wrote {len(pages)} pages to {args.out} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
