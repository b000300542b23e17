"""Running one item of a multi-item measurement so that its failure becomes a row, not a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mubench.errors import UsageError
from mubench.results import make_row

Rows = list[dict[str, Any]]
# What a model's own code may raise that fails its measurement only: a plugin that calls sys.exit() must
# not end the run (silently, with exit 0); KeyboardInterrupt still stops it.
MODEL_FAILURES = (Exception, SystemExit)


def failure_row(
    command: str, run_id: str, model: str, exc: BaseException, **conditions: Any
) -> dict[str, Any]:
    """A row recording why the measurement of ``model`` failed (status ``oom`` or ``error``)."""
    import torch  # here: declaring a measurement must not import torch

    status = "oom" if isinstance(exc, torch.cuda.OutOfMemoryError) else "error"
    message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit):  # a user's model that calls exit()
        message = f"the model called sys.exit({exc.code!r})"
    return make_row(command, run_id, model=model, status=status, message=message, **conditions)


def run_item(command: str, run_id: str, model: str, measure: Callable[[], Rows], **conditions: Any) -> Rows:
    """``measure()``'s rows; a failure other than bad input becomes one failure row and the run goes on."""
    try:
        return measure()
    except UsageError:
        raise
    except MODEL_FAILURES as exc:
        return [failure_row(command, run_id, model, exc, **conditions)]


def failure_of(
    work: Callable[[], object], fail: Callable[[BaseException], dict[str, Any]]
) -> dict[str, Any] | None:
    """Run ``work``: None when it succeeds; else the row ``fail`` makes of its error, with GPU memory
    freed. Bad input (UsageError) is raised, not recorded."""
    try:
        work()
    except UsageError:
        raise
    except MODEL_FAILURES as exc:
        failed = fail(exc)
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return failed
    return None
