"""The installed entry points, run as a user would: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import mubench


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mubench", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_python_m_mubench_help():
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    for command in ("models", "params", "flops"):
        assert command in proc.stdout
    assert "Traceback" not in proc.stderr


def test_python_m_mubench_version():
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"mubench {mubench.__version__}"


def test_bad_input_in_a_real_process_has_no_traceback():
    proc = _run("flops", "-m", "ode-uu")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "did you mean 'ode-u'" in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["latency", "--repeats", "abc"], "Invalid value for '--repeats'"),
        (["nope"], "No such command 'nope'"),
        (["latency", "--nope"], "No such option: --nope"),
    ],
)
def test_the_executable_gives_the_parsers_errors_as_one_line(args, needle):
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert "(see 'mubench" in lines[0]


def test_bare_mubench_shows_the_help_and_exits_2():
    bare = _run()
    assert bare.returncode == 2 and "Commands" in bare.stdout + bare.stderr


# Imported only by the commands that measure, read or write rows: `--help` and `--version` need none.
HEAVY = ("torch", "pandas", "numpy", "matplotlib", "fvcore", "skimage", "torchvision", "torchdiffeq")
HEAVY_MUBENCH = ("measure", "report", "suite", "results", "models", "registry", "data", "train", "compare")

_HELP_PROBE = """
import contextlib, io, json, sys
import typer
from mubench.cli.app import COMMANDS, app, main

commands = sorted(COMMANDS)
heavy = tuple(sys.argv[1].split(","))
found = {}
for args in (["--version"], ["--help"], *([name, "--help"] for name in commands)):
    sys.argv = ["mubench", *args]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main()
    found[" ".join(args)] = sorted(m for m in sys.modules if m.startswith(heavy))
print(json.dumps({"commands": commands, "imported": found}))
"""


def test_help_and_version_import_neither_torch_nor_pandas():
    """`mubench --help`, `--version` and every `mubench COMMAND --help` start fast because they import
    no heavy module: the commands import those in their bodies (a structural check, not a timing)."""
    prefixes = [*HEAVY, *(f"mubench.{m}" for m in HEAVY_MUBENCH)]
    proc = subprocess.run(
        [sys.executable, "-c", _HELP_PROBE, ",".join(prefixes)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stdout.splitlines()[-1])
    expected = {"models", "params", "flops", "latency", "robustness", "report", "train", "run", "compare"}
    assert expected <= set(probe["commands"])
    assert len(probe["imported"]) == len(probe["commands"]) + 2
    # Cumulative: the first invocation listed with modules is the one that imported them.
    assert {args: mods for args, mods in probe["imported"].items() if mods} == {}


_START_PROBE = """
import contextlib, io, json, sys
from mubench.cli.app import main

sys.argv = ["mubench", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps(sorted(m for m in sys.modules if m.endswith("_cmd") or m.startswith("pydantic"))))
"""


STARTS = [
    (["--version"], []),
    (["latency", "--help"], ["mubench.cli.latency_cmd"]),
    (["fid", "--help"], ["mubench.cli.fid_cmd"]),
]


@pytest.mark.parametrize(("args", "modules"), STARTS)
def test_a_start_imports_only_the_command_it_runs_and_not_pydantic(args, modules):
    """Commands are imported when they run or their help is shown, and typer's pydantic coercion is not
    reached before a command runs (a structural check of the fast start, not a timing)."""
    proc = subprocess.run(
        [sys.executable, "-c", _START_PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == modules
