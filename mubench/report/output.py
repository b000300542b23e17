"""Writing the report into its folder: report.md, report.html and plots/*.png, atomically."""

from __future__ import annotations

import os
from pathlib import Path

from mubench.errors import UsageError, opt
from mubench.report.document import Document, to_html, to_markdown
from mubench.results import write_bytes_atomic, write_text_atomic

REPORT_MD, REPORT_HTML, PLOTS_DIR = "report.md", "report.html", "plots"


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir`` and its plots folder, or say in one line why they cannot be written."""
    plots_dir = out_dir / PLOTS_DIR
    try:
        plots_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report folder '{plots_dir}': {exc.strerror or exc}") from None
    if not all(os.access(path, os.W_OK) for path in (out_dir, plots_dir)):
        raise UsageError(f"cannot write into '{out_dir}': permission denied; give another {opt('out')}")


def write_report(doc: Document, out_dir: Path) -> list[Path]:
    """Write the plots, the Markdown and the HTML atomically into ``out_dir`` (prepared)."""
    written = []
    for image in doc.images():
        path = out_dir / image.path
        write_bytes_atomic(path, image.data)
        written.append(path)
    for name, render in ((REPORT_MD, to_markdown), (REPORT_HTML, to_html)):
        write_text_atomic(out_dir / name, render(doc))
        written.append(out_dir / name)
    return written
