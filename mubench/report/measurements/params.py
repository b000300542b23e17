"""Parameters (``mubench params`` rows): the latest count per model and the claim of about a quarter of the
baseline's parameters.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from mubench.formatting import percent
from mubench.report.rows import column, latest, ok_rows
from mubench.report.verdicts import (
    AUTHORS_MODEL,
    BASELINE,
    CANDIDATE,
    FAILS,
    HOLDS,
    Claim,
    Detail,
    authors_ratio,
    new_claim,
    not_measured,
)


def params_by_model(rows: pd.DataFrame) -> pd.DataFrame:
    """The latest ok params row of each model (that has a total)."""
    params = ok_rows(rows, "params")
    params = params[column(params, "params_total").notna()]
    return latest(params, ["model"], ["timestamp"])


# The paper's figure (its abstract, arXiv 2310.20092) and that of the authors' released code (see
# docs/models.md). Quoted, never measured; the authors' count is the registry's expected_params.
_PARAMS = authors_ratio("expected_params")
PAPER_PARAMS = "~25%"
AUTHORS_PARAMS = f"{_PARAMS[0]} ({_PARAMS[1]}; {AUTHORS_MODEL})"

# Rule. "About" a figure: the claim plus a fifth of it.
PARAMS_LIMIT = 0.30


def params_claim(rows: pd.DataFrame) -> Claim:
    base = new_claim(
        "params",
        "About a quarter of the baseline's parameters",
        PAPER_PARAMS,
        AUTHORS_PARAMS,
        f"holds if params_total({CANDIDATE}) / params_total({BASELINE}) <= {PARAMS_LIMIT:.2f} "
        "(a quarter plus a fifth of it), else does not hold",
    )
    params = params_by_model(rows).set_index("model")["params_total"].dropna()
    if CANDIDATE not in params or BASELINE not in params or not params[BASELINE]:
        return not_measured(base, f"needs ok params rows of {CANDIDATE} and {BASELINE}")
    ratio = params[CANDIDATE] / params[BASELINE]
    measured = f"{percent(ratio)} ({int(params[CANDIDATE]):,} / {int(params[BASELINE]):,})"
    if AUTHORS_MODEL in params:
        measured += f"; {AUTHORS_MODEL} {percent(params[AUTHORS_MODEL] / params[BASELINE])}"
    conditions = f"{CANDIDATE} vs {BASELINE}: params_total (every parameter, frozen included, shared once)"
    verdict = HOLDS if ratio <= PARAMS_LIMIT else FAILS
    detail = Detail(f"{CANDIDATE} vs {BASELINE}", measured, verdict)
    return replace(base, measured=measured, conditions=conditions, verdict=verdict, summary=measured,
                   details=(detail,))  # fmt: skip
