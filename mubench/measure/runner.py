"""Running one item of a multi-item measurement so that its failure becomes a row, not a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mubench.errors import UsageError
from mubench.results import make_row

Rows = list[dict[str, Any]]


def failure_row(
    command: str, run_id: str, model: str, exc: BaseException, **conditions: Any
) -> dict[str, Any]:
    """A row recording why the measurement of ``model`` failed (status ``oom`` or ``error``)."""
    status = "oom" if isinstance(exc, torch.cuda.OutOfMemoryError) else "error"
    if isinstance(exc, SystemExit):  # a user's model that calls exit()
        message = f"the model raised SystemExit({exc.code!r}) (it called exit)"
    else:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return make_row(command, run_id, model=model, status=status, message=message, **conditions)


def run_item(command: str, run_id: str, model: str, measure: Callable[[], Rows], **conditions: Any) -> Rows:
    """``measure()``'s rows; a failure other than bad input becomes one failure row and the run goes on."""
    try:
        return measure()
    except UsageError:
        raise
    except Exception as exc:
        return [failure_row(command, run_id, model, exc, **conditions)]
