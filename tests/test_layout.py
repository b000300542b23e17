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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``: imports for annotations only, never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    return skipped


def import_graph() -> dict[str, set[str]]:
    """Module -> the mubench modules it imports, at the top or inside a function (a cycle through a
    function-level import is still a cycle)."""
    paths = {_module_name(p): p for p in (ROOT / "mubench").rglob("*.py")}

    def owner(name: str) -> str | None:  # the module a dotted name lives in
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        found: set[str | None] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found |= {owner(a.name) for a in node.names if a.name.split(".")[0] == "mubench"}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mubench":
                found |= {owner(f"{node.module}.{a.name}") for a in node.names}
        graph[module] = {m for m in found if m and m != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle_under_mubench():
    graph = import_graph()
    assert "mubench.measure.latency.workers" in graph["mubench.measure.latency.run"]  # the graph is read
    assert cycles(graph) == []


def test_importing_the_report_the_registry_or_the_options_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, mubench.report, mubench.registry, mubench.options.catalog, "
        "mubench.models.solver_config; mubench.registry.list_models(); "
        "print(sorted(m for m in ('torch', 'torchdiffeq') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


MAX_MODULE_LINES = 400


def test_no_module_under_mubench_exceeds_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in sorted((ROOT / "mubench").rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_measurement_options_are_declared_in_the_catalog_only():
    """A measurement command's signature is built from the declarations (no typer.Option of its own), and
    every range is declared beside its option."""
    measurement_commands = ["params_cmd", "flops_cmd", "latency_cmd", "profile_cmd", "robustness_cmd"]
    for name in measurement_commands:
        source = (ROOT / "mubench" / "cli" / f"{name}.py").read_text()
        assert "typer.Option(" not in source and "Annotated[" not in source, name
    ranges = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "mubench").rglob("*.py"))
        if path.name != "declare.py" and "Range(" in path.read_text()
    ]
    assert ranges == ["mubench/options/catalog.py"]


def test_an_option_name_has_one_range_wherever_it_is_declared():
    from mubench.options.catalog import COMMAND_OPTIONS, COMMAND_RANGES, MEASUREMENT_OPTIONS

    by_name: dict[str, set] = {}
    for options in (*MEASUREMENT_OPTIONS.values(), *COMMAND_OPTIONS.values()):
        for option in options:
            if option.range is not None:
                by_name.setdefault(option.name, set()).add(option.range)
    for name, found in COMMAND_RANGES.items():
        by_name.setdefault(name, set()).add(found)
    assert {name: found for name, found in by_name.items() if len(found) > 1} == {}
