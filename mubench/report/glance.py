"""The claims read at a glance: a summary line, one short row per claim, and each claim's details (its
conditions, a numbered table of its condition groups, its rule as a footnote) under the table."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mubench.report.document import Block, Details, Note, Paragraph, Table
from mubench.report.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURED, Claim

# What a verdict is, for counting and colouring: every verdict is one of these.
KINDS = {"holds": "hold", "fails": "do not hold", "partial": "hold in part", "inconclusive": "inconclusive",
         "unmeasured": "not measured"}  # fmt: skip


def verdict_kind(verdict: str) -> str:
    """holds, fails, partial (in some conditions / sigmas, or without wall time), inconclusive or
    unmeasured."""
    exact = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive", NOT_MEASURED: "unmeasured"}
    return exact.get(verdict, "partial")


def summary_line(claims: Sequence[Claim]) -> str:
    """ "Of 6 claims: 2 hold, 3 do not hold, 0 inconclusive, 1 not measured." (hold in part when any)."""
    counts = {kind: 0 for kind in KINDS}
    for claim in claims:
        counts[verdict_kind(claim.verdict)] += 1
    shown = [kind for kind in KINDS if kind != "partial" or counts[kind]]
    return f"Of {len(claims)} claims: " + ", ".join(f"{counts[k]} {KINDS[k]}" for k in shown) + "."


GLANCE_COLUMNS = ["#", "claim", "paper", "authors' code", "measured", "verdict"]


def glance_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """One row per claim, every cell short: the claim, the paper's and the authors' figures, what the
    rows measured in one line, and the verdict."""
    rows = [[str(i), c.claim, c.paper, c.authors_code, c.summary, c.verdict] for i, c in enumerate(claims, 1)]
    return pd.DataFrame(rows, columns=GLANCE_COLUMNS)


def verdict_classes(claims: Sequence[Claim]) -> dict[str, dict[str, str]]:
    """The HTML class of each verdict cell: ``verdict-holds``, ``verdict-fails``..."""
    return {"verdict": {c.verdict: f"verdict-{verdict_kind(c.verdict)}" for c in claims}}


def claim_details(number: int, claim: Claim) -> Details:
    """Under the table: the claim's conditions, its figures per condition group (numbered as the
    verdict names them), and its rule."""
    blocks: list[Block] = [Paragraph(f"Conditions: {claim.conditions}." if claim.conditions else "")]
    if claim.details:
        frame = pd.DataFrame(
            [[str(i), d.condition, d.figures, d.outcome] for i, d in enumerate(claim.details, 1)],
            columns=["#", "condition", "measured", "outcome"],
        )
        blocks.append(Table(frame, table_id=f"claim-{number}-groups"))
    blocks.append(Note(f"Rule: {claim.rule}."))
    return Details(f"{number}. {claim.claim}: {claim.verdict}", tuple(b for b in blocks if _said(b)))


def _said(block: Block) -> bool:
    return not isinstance(block, Paragraph) or bool(block.text)
