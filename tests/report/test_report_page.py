"""The HTML report stands on its own (no external URL, every image embedded and decodable) and its
claims table reads at a glance (a summary line, short cells, coloured verdicts, collapsible details).
Checked on the committed paper report and on one written from the test fixture; no browser needed."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mubench.cli.app import app
from mubench.report.verdicts import CELL_LIMIT

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "results" / "cpu" / "paper"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "report"


class Page(HTMLParser):
    """The parts of a page these tests read: URLs, image sources, the claims table's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images: list[str] = []
        self.claims: list[list[tuple[str, str]]] = []  # rows of (class, text)
        self.details = 0
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("href", "src", "action", "poster") and v]
        if tag == "img":
            self.images.append(found.get("src") or "")
        if tag == "details":
            self.details += 1
        if tag == "table":
            self._table = found.get("id")
        if self._table == "claims" and tag == "tr":
            self.claims.append([])
        if self._table == "claims" and tag == "td":
            self._cell, self._class = [], found.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.claims[-1].append((self._class, "".join(self._cell)))
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def fixture_page(tmp_path_factory) -> str:
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(app, ["report", str(FIXTURE), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return (out / "report.html").read_text()


def _pages(fixture_page: str) -> dict[str, str]:
    return {"paper": (PAPER / "report.html").read_text(), "fixture": fixture_page}


@pytest.mark.parametrize("which", ["paper", "fixture"])
def test_the_page_is_self_contained(which, fixture_page):
    page = _pages(fixture_page)[which]
    parsed = Page()
    parsed.feed(page)
    external = [u for u in parsed.urls if not u.startswith(("data:", "#"))]
    assert not external, external
    assert not re.search(r"url\(|@import|https?://", page.split("<body>")[0])  # nothing fetched by the CSS
    assert parsed.images
    for src in parsed.images:  # every image resolves: an embedded PNG that decodes
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64", head
        assert base64.b64decode(data, validate=True).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("which", ["paper", "fixture"])
def test_the_claims_read_at_a_glance(which, fixture_page):
    page = _pages(fixture_page)[which]
    parsed = Page()
    parsed.feed(page)
    rows = [row for row in parsed.claims if row]
    assert len(rows) == 6
    for row in rows:
        for _, text in row:
            assert len(text) <= CELL_LIMIT, text
    verdicts = [row[-1] for row in rows]
    assert all(css.startswith("verdict-") for css, _ in verdicts), verdicts
    counts = {kind: sum(css == f"verdict-{kind}" for css, _ in verdicts) for kind in ("holds", "fails")}
    summary = re.search(r"Of 6 claims: (\d+) hold, (\d+) do not hold, (\d+) inconclusive", page)
    assert summary and page.index(summary.group(0)) < page.index('id="claims"')
    assert (int(summary.group(1)), int(summary.group(2))) == (counts["holds"], counts["fails"])
    assert parsed.details == 6  # one collapsible block of details per claim
    for css in {css for css, _ in verdicts}:
        assert re.search(rf"td\.{css} {{[^}}]*background", page), css  # coloured
