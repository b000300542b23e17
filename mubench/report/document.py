"""A tiny document model (headings, paragraphs, tables, images) and its Markdown and HTML renderers.

The report is built once as a :class:`Document`; both files are rendered from it, so they always agree.
Table cells are pre-formatted strings: the renderers never reformat numbers.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Code:
    """A line of shell (the command that made the results)."""

    text: str


@dataclass(frozen=True)
class Note:
    """Small print under a table (a rule, a footnote)."""

    text: str


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    caption: str = ""
    table_id: str = ""
    cell_class: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # column -> cell -> HTML class


@dataclass(frozen=True)
class Details:
    """A titled group of blocks: collapsible in HTML, a heading in Markdown."""

    summary: str
    blocks: tuple[Block, ...]
    open: bool = False


@dataclass(frozen=True)
class Image:
    path: str  # relative to the report, e.g. "plots/latency.png"
    data: bytes  # PNG
    alt: str
    caption: str = ""


Block = Heading | Paragraph | Code | Note | Table | Image | Details


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def images(self) -> list[Image]:
        return [block for block in _flat(self.blocks) if isinstance(block, Image)]


def _flat(blocks: Sequence[Block]) -> list[Block]:
    """The blocks, those inside each Details too."""
    out: list[Block] = []
    for block in blocks:
        out += [block, *_flat(block.blocks)] if isinstance(block, Details) else [block]
    return out


# ---------------------------------------------------------------- Markdown


def _md_cell(value: object) -> str:
    return str(value).replace("|", r"\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    frame = table.frame.apply(lambda column: column.map(_md_cell))
    frame.columns = [_md_cell(c) for c in frame.columns]
    # disable_numparse: cells are already formatted; tabulate would otherwise re-print "0.10" as "0.1".
    text = frame.to_markdown(index=False, disable_numparse=True)
    return f"{text}\n\n{table.caption}" if table.caption else text


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Code):
        return f"```\n{block.text}\n```"
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Note):
        return f"> {block.text}"
    if isinstance(block, Details):
        return "\n\n".join([f"### {block.summary}", *(_md_block(b) for b in block.blocks)])
    image = f"![{block.alt}]({block.path})"
    return f"{image}\n\n{block.caption}" if block.caption else image


def to_markdown(doc: Document) -> str:
    parts = [f"# {doc.title}", *(_md_block(block) for block in doc.blocks)]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f4f4f6; padding: .6em; overflow-x: auto; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: .9em; }
.note { color: #555; font-size: .82em; margin-top: -.4em; }
.summary-line { font-size: 1.05em; }
table td.verdict-holds { background: #dcf5dc; color: #14521b; font-weight: 600; }
table td.verdict-fails { background: #fbe0de; color: #8a1c12; font-weight: 600; }
table td.verdict-partial { background: #fdf2cf; color: #6b4e00; font-weight: 600; }
table td.verdict-inconclusive { background: #ececf0; color: #3d3d45; font-weight: 600; }
table td.verdict-unmeasured { background: #f6f6f8; color: #77777f; font-style: italic; }
td[class^="verdict-"] { white-space: nowrap; }
details { margin: .6em 0; border: 1px solid #e3e3e8; border-radius: 4px; padding: .3em .8em; }
details > summary { cursor: pointer; font-weight: 600; }
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _html_table(table: Table) -> str:
    if table.cell_class:
        body = _html_classed_table(table)
    else:
        body = table.frame.to_html(index=False, escape=True, border=0, table_id=table.table_id or None)
    caption = f'\n<p class="caption">{html.escape(table.caption)}</p>' if table.caption else ""
    return body + caption


def _html_classed_table(table: Table) -> str:
    """A table whose cells in ``table.cell_class``'s columns carry a class by their text (verdicts)."""
    ident = f' id="{html.escape(table.table_id, quote=True)}"' if table.table_id else ""
    head = "".join(f"<th>{html.escape(str(c), quote=False)}</th>" for c in table.frame.columns)
    lines = []
    for values in table.frame.itertuples(index=False):
        cells = []
        for column, value in zip(table.frame.columns, values):
            name = table.cell_class.get(column, {}).get(str(value))
            attr = f' class="{html.escape(name, quote=True)}"' if name else ""
            cells.append(f"<td{attr}>{html.escape(str(value), quote=False)}</td>")
        lines.append(f"<tr>{''.join(cells)}</tr>")
    rows = "\n".join(lines)
    return f"<table{ident}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>"


def _html_image(image: Image) -> str:
    data = base64.b64encode(image.data).decode("ascii")
    caption = f"<figcaption>{html.escape(image.caption)}</figcaption>" if image.caption else ""
    alt = html.escape(image.alt, quote=True)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">{caption}</figure>'


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 6)
        return f'<h{level} id="{_slug(block.text)}">{html.escape(block.text)}</h{level}>'
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Note):
        return f'<p class="note">{html.escape(block.text, quote=False)}</p>'
    if isinstance(block, Details):
        inner = "\n".join(_html_block(b) for b in block.blocks)
        summary = f"<summary>{html.escape(block.summary, quote=False)}</summary>"
        return f"<details{' open' if block.open else ''}>{summary}\n{inner}\n</details>"
    return _html_image(block)


def to_html(doc: Document) -> str:
    """A self-contained page: inline CSS, images embedded as data URIs."""
    title = html.escape(doc.title)
    body = "\n".join(_html_block(block) for block in doc.blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n"
    )
