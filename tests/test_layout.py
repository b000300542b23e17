"""The package's layout rules, read from the source (nothing imported): benchmarks use mubench's public
names only, and only the CLI layer (mubench/cli/) imports typer or rich."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) per imported name; name None for a plain ``import module``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def test_benchmarks_import_only_public_mubench_names():
    private = [
        f"{path.name}: from {module} import {name}"
        for path in sorted((ROOT / "benchmarks").glob("*.py"))
        for module, name in imports(path)
        if module.split(".")[0] == "mubench"
        and any(part.startswith("_") for part in [*module.split("."), name or ""])
    ]
    assert private == []
    assert ("mubench.measure.runtime.prepare", "prepare") in imports(ROOT / "benchmarks" / "timer_check.py")


def test_only_the_cli_layer_imports_typer_or_rich():
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "mubench").rglob("*.py"))
        if "cli" not in path.relative_to(ROOT / "mubench").parts[:1]
        for module, _ in imports(path)
        if module.split(".")[0] in ("typer", "rich")
    ]
    assert offenders == []
