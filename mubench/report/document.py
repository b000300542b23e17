"""A tiny document model (headings, paragraphs, tables, images) and its Markdown and HTML renderers.

The report is built once as a :class:`Document`; both files are rendered from it, so they always agree.
Table cells are pre-formatted strings: the renderers never reformat numbers.
"""

from __future__ import annotations

import base64
import html
import re
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
class Table:
    frame: pd.DataFrame
    caption: str = ""
    table_id: str = ""


@dataclass(frozen=True)
class Image:
    path: str  # relative to the report, e.g. "plots/latency.png"
    data: bytes  # PNG
    alt: str
    caption: str = ""


Block = Heading | Paragraph | Code | Table | Image


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def images(self) -> list[Image]:
        return [block for block in self.blocks if isinstance(block, Image)]


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
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _html_table(table: Table) -> str:
    body = table.frame.to_html(index=False, escape=True, border=0, table_id=table.table_id or None)
    caption = f'\n<p class="caption">{html.escape(table.caption)}</p>' if table.caption else ""
    return body + caption


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
