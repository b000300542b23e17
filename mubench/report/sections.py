"""The report's document: its sections in order (summary, claims, size, latency, profile, quality,
convergence, sample quality, cost, training curves, failures, environment). The measurements' sections
are their modules' (:mod:`mubench.report.measurements`); the summary, claims, failures and environment
are made here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mubench.formatting import fixed, integer, missing, text
from mubench.report.claims import evaluate_claims
from mubench.report.document import Code, Document, Heading, Note, Paragraph, Table
from mubench.report.glance import claim_details, glance_table, summary_line, verdict_classes
from mubench.report.measurements.convergence import convergence_section
from mubench.report.measurements.cost import cost_section
from mubench.report.measurements.fid import sample_quality_section
from mubench.report.measurements.flops import size_section
from mubench.report.measurements.latency import latency_section
from mubench.report.measurements.profile import profile_section
from mubench.report.measurements.robustness import quality_section
from mubench.report.measurements.training import training_section
from mubench.report.rows import failed_rows
from mubench.report.tables import distinct_values, format_table


def make_document(
    rows: pd.DataFrame,
    env: Mapping[str, Any],
    images: Mapping[str, bytes],
    title: str = "mubench report",
    source: Path | None = None,
) -> Document:
    """The report as a document: environment, claims, size and compute, latency, quality, failures.
    ``images`` maps plot names (see :data:`plots.PLOTS`) to PNG bytes; absent plots are left out."""
    doc = Document(title)
    if source is not None:
        doc.add(Paragraph(f"Results read from {source}; this report measures nothing."))
    sections = (
        summary_section,
        claims_section,
        size_section,
        latency_section,
        profile_section,
        quality_section,
        convergence_section,
        sample_quality_section,
        cost_section,
        training_section,
        failures_section,
        environment_section,
    )
    for section in sections:
        doc.add(*section(rows, env, images))
    return doc


def _command_line(env: Mapping[str, Any]) -> str | None:
    """The command that made the folder: ``mubench run`` records its suite file; others may say."""
    if env.get("suite_file"):
        return f"mubench run {env['suite_file']}"
    for key in ("command", "command_line", "argv"):
        value = env.get(key)
        if value:
            return " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return None


ENV_ITEMS = (  # (label, rows column / environment.json key)
    ("device name", "device_name"),
    ("torch", "torch_version"),
    ("threads", "num_threads"),
    ("mubench", "mubench_version"),
    ("CUDA", "cuda_version"),
    ("cuDNN", "cudnn_version"),
    ("driver", "driver_version"),
    ("python", "python_version"),
    ("platform", "platform"),
    ("CPU count", "cpu_count"),
)


def summary_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Under the title: where the rows were measured, by which software, and how they were made."""
    counts = rows["command"].value_counts()
    made = ", ".join(f"{n} {command}" for command, n in counts.items())
    machine = (
        f"Measured on {distinct_values(rows, 'device_name')} ({distinct_values(rows, 'device')}); torch "
        f"{distinct_values(rows, 'torch_version')}, {distinct_values(rows, 'num_threads')} threads, mubench "
        f"{distinct_values(rows, 'mubench_version')}. {len(rows)} rows: {made}."
    )
    blocks: list = [Paragraph(machine)]
    if env.get("suite"):
        description = f": {env['suite_description']}" if env.get("suite_description") else ""
        blocks.append(Paragraph(f"Suite {env['suite']}{description}"))
    command = _command_line(env)
    if command:
        blocks += [Paragraph("Made by:"), Code(command)]
    return blocks


def environment_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    """Versions and machine, as the rows record them and as environment.json does."""
    items = []
    for label, key in ENV_ITEMS:
        in_rows = distinct_values(rows, key)
        in_env = "—" if missing(env.get(key)) else str(env.get(key))
        if in_rows != "—" or in_env != "—":
            items.append({"": label, "in the rows": in_rows, "environment.json": in_env})
    if not items:
        return []
    return [Heading("Environment"), Table(pd.DataFrame(items), table_id="environment")]


def claims_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    claims = evaluate_claims(rows)
    return [
        Heading("Claims of the paper"),
        Paragraph(summary_line(claims)),
        Table(glance_table(claims), table_id="claims", cell_class=verdict_classes(claims)),
        Note(
            "The paper's figures and those of the authors' released code are quoted (not measured here); "
            "'measured' is computed from the rows of this folder, and each verdict by the rule under the "
            "claim's details below."
        ),
        *(claim_details(i, claim) for i, claim in enumerate(claims, 1)),
    ]


def failures_section(rows: pd.DataFrame, env: Mapping[str, Any], images: Mapping[str, bytes]) -> list:
    failed = failed_rows(rows)
    if failed.empty:
        return []
    columns = [
        ("command", "command", text),
        ("model", "model", text),
        ("status", "status", text),
        ("device", "device", text),
        ("dtype", "dtype", text),
        ("batch_size", "batch", integer),
        ("resolution", "resolution", integer),
        ("sigma", "sigma", fixed(2)),
        ("message", "message", text),
    ]
    return [
        Heading("Failed measurements"),
        Paragraph(f"{len(failed)} row(s) did not measure; they are left out of the figures and the claims."),
        Table(format_table(failed, columns), table_id="failed"),
    ]
