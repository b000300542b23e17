"""Terminal tables never cut a figure: every command's table rendered at 80 and 100 columns and at its
natural width shows every cell and header whole, its default columns, and its caption in full."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from mubench.cli import common
from mubench.cli.app import app
from mubench.cli.output import UNBOUNDED, WholeTable, columns_from_env

PAIR = ["-m", "ode-u-tiny", "-m", "lucid-unet-tiny"]
ELLIPSIS = "…"

# (command line, headers a person needs first: every one in the default table, headers only --wide adds)
COMMANDS = {
    "models": (["models"], ["model", "family", "params", "default res.", "description"], []),
    "params": (["params", *PAIR], ["model", "total", "trainable", "frozen", "buffers", "vs base"], []),
    "flops": (
        ["flops", *PAIR, "--steps", "10"],
        ["model", "NFE", "MACs/call", "vs base", "MACs x10", "torch/fv", "cov."],
        ["MiB moved", "FLOP/B", "act. MiB"],
    ),
    "latency": (
        ["latency", *PAIR, "--repeats", "2", "--warmup", "1", "--trajectory-repeats", "1", "--steps", "2"],
        ["model", "call ms", "p10", "p90", "vs base", "MACs vs base", "traj. s (2)", "NFE"],
        ["roofline vs base", "of peak", "x roofline", "act. MiB"],
    ),
    "robustness": (
        ["robustness", *PAIR, "--num-images", "2", "--steps", "1", "--sigma", "0.1"],
        ["sigma", "model", "steps", "PSNR dB", "±95%", "SSIM", "Δ PSNR"],
        ["t*", "weights"],
    ),
    "profile": (
        ["profile", *PAIR, "--repeats", "1", "--warmup", "1"],
        ["model", "category", "ms per call", "of time", "of FLOPs", "of bytes"],
        [],
    ),
}


def _printed(monkeypatch: pytest.MonkeyPatch, runner, args: list[str]) -> list[WholeTable]:
    """The tables a command prints (as rich renderables, to render at any width)."""
    shown: list[WholeTable] = []
    original = common.console.print

    def record(*objects, **kwargs):
        shown.extend(o for o in objects if isinstance(o, WholeTable))
        return original(*objects, **kwargs)

    monkeypatch.setattr(common.console, "print", record)
    result = runner.invoke(app, [*args, "-q"] if args[0] not in ("models", "compare") else args)
    assert result.exit_code == 0, result.output
    assert shown, result.output
    return shown


def _render(renderable: WholeTable, width: int | None) -> str:
    console = Console(width=width or UNBOUNDED, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_table_is_whole_at_80_and_100_columns_and_unbounded(name, runner, monkeypatch):
    args, needed, wide_only = COMMANDS[name]
    first = _printed(monkeypatch, runner, args)[0]
    headers = [str(column.header) for column in first.table.columns]
    assert set(needed) <= set(headers), headers
    assert not set(wide_only) & set(headers), headers
    cells = {cell for column in first.table.columns for cell in map(str, column._cells)}
    for width in (80, 100, None):
        out = _render(first, width)
        assert ELLIPSIS not in out, f"{name} at {width}:\n{out}"
        if width is not None:
            assert max(len(line.rstrip()) for line in out.splitlines()) <= width, f"{name} at {width}:\n{out}"
        words = _flat(out).split()
        for header in headers:  # headers may wrap between words, never within one
            assert all(word in words for word in header.split()), f"{header!r} at {width}:\n{out}"
        for cell in cells:  # a figure is never split nor cut; long text may fold
            if " " not in cell and len(cell) <= 16:
                assert cell in out, f"{cell!r} at {width}:\n{out}"
        caption = str(first.table.caption or "")
        assert _flat(caption) in _flat(out), f"caption of {name} at {width}:\n{out}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["params", "flops", "latency", "robustness"])
def test_the_default_table_of_two_models_fits_100_columns(name, runner, monkeypatch):
    first = _printed(monkeypatch, runner, COMMANDS[name][0])[0]
    out = _render(first, None)  # natural width: nothing wrapped
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 100, out


@pytest.mark.slow
def test_wide_shows_the_other_columns(runner, monkeypatch):
    args, needed, wide_only = COMMANDS["flops"]
    first = _printed(monkeypatch, runner, [*args, "--wide"])[0]
    headers = [str(column.header) for column in first.table.columns]
    assert set(needed) | set(wide_only) <= set(headers)
    assert "--wide adds" not in str(first.table.caption)


@pytest.mark.parametrize(
    ("value", "width"), [("abc", None), ("0", None), ("-3", None), ("", None), ("90", 90), (" 120 ", 120)]
)
def test_columns_is_read_when_it_is_a_positive_number(value, width):
    assert columns_from_env({"COLUMNS": value}) == width


def _mubench(args: list[str], columns: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-m", "mubench", *args], capture_output=True, text=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("columns", [None, "80", "abc", "0"])
def test_piped_output_is_whole_whatever_columns_says(columns):
    """Piped (as in a CI log): the table at its natural width, or COLUMNS when valid; a bad COLUMNS is
    ignored, not a crash."""
    result = _mubench(["flops", *PAIR, "-q", "--wide"], columns)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert ELLIPSIS not in out
    widest = max(len(line.rstrip()) for line in out.splitlines())
    assert widest <= 80 if columns == "80" else widest > 80, out  # natural width: wider than rich's 80
    assert "act. MiB: peak live tensors of one eager call." in _flat(out)


def test_the_compare_table_is_whole_at_80_columns(runner, monkeypatch, tmp_path):
    for name in ("a", "b"):
        result = runner.invoke(app, ["params", *PAIR, "-q", "--csv", str(tmp_path / f"{name}.csv")])
        assert result.exit_code == 0, result.output
    first = _printed(monkeypatch, runner, ["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])[0]
    for width in (80, None):
        out = _render(first, width)
        assert ELLIPSIS not in out and "35,710,339" not in out  # the tiny pair's counts, not another's
        assert "655,171" in out and "1.0000" in out, out


def test_a_table_wider_than_the_screen_is_split_never_cropped():
    import pandas as pd

    from mubench.cli.render import table
    from mubench.formatting import integer, text

    big = {k: [7_296_565_248, i] for i, k in enumerate("abcd")}
    frame = pd.DataFrame({"model": ["lucid-unet", "ode-u"], **big, "e": [1, 2]})  # a narrow last column
    columns = [("model", "model", text), *((k, f"head {k} long", integer) for k in "abcde")]
    caption = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    shown = table(frame, columns, title="T", caption=caption)
    for width in range(30, 121, 5):
        out = _render(shown, width)
        assert max(len(line.rstrip()) for line in out.splitlines()) <= width, out
        assert ELLIPSIS not in out and out.count("7,296,565,248") == 4, out
        words = _flat(out).split()
        assert words.count("head") == words.count("long") == 5, out  # every header whole, maybe wrapped
        assert caption in _flat(out)
