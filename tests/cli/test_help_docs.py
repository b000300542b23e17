"""docs/cli/*.txt are the commands' --help as the code renders it now."""

from __future__ import annotations

from pathlib import Path

from mubench.cli.help_docs import DEFAULT_OUT, REFRESH, render_help, stale_pages


def test_the_committed_help_pages_match_the_code():
    pages = render_help()
    assert {"mubench.txt", "params.txt", "latency.txt", "compare.txt"} <= set(pages)
    assert "Usage: mubench latency [OPTIONS]" in pages["latency.txt"]
    assert "--trajectory-repeats" in pages["latency.txt"]
    stale = stale_pages(DEFAULT_OUT, pages)
    assert not stale, f"docs/cli is stale ({', '.join(stale)}): refresh it with `{REFRESH}`"


def test_a_changed_missing_or_orphan_page_is_stale(tmp_path: Path):
    pages = {"mubench.txt": "root\n", "params.txt": "params\n", "flops.txt": "flops\n"}
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    assert stale_pages(tmp_path, pages) == []
    (tmp_path / "params.txt").write_text("params, older\n")
    (tmp_path / "flops.txt").unlink()
    (tmp_path / "gone.txt").write_text("a command that was removed\n")
    assert stale_pages(tmp_path, pages) == ["flops.txt", "gone.txt", "params.txt"]


ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_and_docs_link_to_files_that_exist():
    import re

    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert len(PAGES) >= 8
    assert not broken


def test_the_docs_cite_no_file_outside_the_project():
    """Every Markdown file a page names, linked or in backticks, is one of the project's own."""
    import re

    own = {path.name for path in ROOT.rglob("*.md") if ".venv" not in path.parts}
    cited = []
    for page in PAGES:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if "://" not in target and ROOT not in (page.parent / target).resolve().parents:
                cited.append(f"{page.relative_to(ROOT)}: {target}")
        names = re.findall(r"`[^`]*?([\w.-]+\.md)`", text)
        cited += [f"{page.relative_to(ROOT)}: {name}" for name in names if name not in own]
    assert not cited
