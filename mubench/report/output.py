"""Writing the report into its folder: report.md, report.html and plots/*.png, atomically."""

from __future__ import annotations

import os
from pathlib import Path

from mubench.errors import UsageError, opt
from mubench.own_files import check_own_files, record_own_files
from mubench.report.document import Document, to_html, to_markdown
from mubench.results import write_bytes_atomic

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
    """Write the plots, the Markdown and the HTML atomically into ``out_dir`` (prepared). A file of those
    names that mubench did not write there (or that was changed since) is refused before anything is
    written: see :mod:`mubench.outputs`."""
    images = [(out_dir / image.path, image.data) for image in doc.images()]
    texts = [(out_dir / name, render(doc).encode("utf-8")) for name, render in
             ((REPORT_MD, to_markdown), (REPORT_HTML, to_html))]  # fmt: skip
    check_own_files(out_dir, [path for path, _ in images + texts], legacy=_older_report(out_dir))
    written = []
    try:
        for path, data in images + texts:
            write_bytes_atomic(path, data)
            written.append(path)
    finally:
        if written:
            record_own_files(out_dir, written)
    return written


def _older_report(out_dir: Path) -> bool:
    """A report written before mubench kept its record of files: report.md opens with its title."""
    try:
        with (out_dir / REPORT_MD).open(encoding="utf-8") as handle:
            return handle.readline().startswith("# mubench report")
    except (OSError, UnicodeDecodeError):
        return False
