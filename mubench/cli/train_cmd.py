"""`mubench train`: train a registry model as a denoiser, on one process or many (torchrun).

Its options besides --model, --out and --resume are declared in :mod:`mubench.options.catalog` (TRAIN),
where their help, defaults and ranges live.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from mubench.cli.common import console, friendly_errors, progress
from mubench.cli.declared import typer_parameter
from mubench.errors import UsageError, opt
from mubench.options import Option
from mubench.options.catalog import TRAIN

_OWN = (
    Option("model", str, "Registry name of the model to train.", short="-m"),
    Option("out", str, "Checkpoint to write (.safetensors, with a .json sidecar); an existing one needs "
           "--resume.", is_path=True),
)  # fmt: skip
_AFTER = (
    Option("resume", bool, "Continue the run saved at --out.", default=False),
    Option("quiet", bool, "No progress bar.", default=False, short="-q"),
)
# Options the configuration takes under another name.
_RENAMED = {"eval_sigma": "eval_sigmas"}


def _train(**values: Any) -> None:
    """Train a model to denoise: epsilon or v objective, Adam, EMA, gradient clipping; seeded, resumable,
    on one process or many (torchrun), with budgets in steps, images, minutes or training compute.

    Examples:

        mubench train --model ode-u-tiny --out ode-u-tiny.safetensors --steps 3000

        mubench train --model lucid-unet-tiny --out lucid.safetensors --minutes 10 --resume

        mubench train -m ode-u --dataset folder:photos --resolution 64 --images 1000000 --device cuda
        --dtype bf16 --compile --eval-every 1000 --log ode-u.curve.csv --out ode-u.safetensors
    """
    from mubench.distributed import is_main
    from mubench.results import check_writable, new_run_id
    from mubench.training import TrainConfig, train

    model, out, log = values["model"], values["out"], values["log"]
    if model is None:
        raise UsageError(f"give {opt('model')}: the registry name of the model to train")
    if out is None:
        raise UsageError(f"give {opt('out')}: the checkpoint to write (.safetensors)")
    if out.suffix != ".safetensors":
        raise UsageError(f"{opt('out')} '{out}' must end in .safetensors (checkpoints are safetensors files)")
    if log is not None and values["eval_every"] == 0:
        raise UsageError(f"{opt('log')} holds the curve rows: give {opt('eval_every')} N too")
    check_writable(out)
    check_writable(log)
    settings = {_RENAMED.get(o.name, o.name): values[o.name] for o in TRAIN if o.name != "log"}
    settings = {k: v for k, v in settings.items() if v is not None}
    settings["eval_sigmas"] = tuple(settings.get("eval_sigmas") or ()) or TrainConfig.eval_sigmas
    if "data_root" in settings:
        settings["data_root"] = str(settings["data_root"])
    cfg = TrainConfig(model=model, **settings)
    quiet = values["quiet"] or not is_main()
    counted = [n for n in (cfg.steps, cfg.images and -(-cfg.images // cfg.batch_size)) if n]
    began, first = time.monotonic(), {}
    with progress(min(counted, default=None), f"training {model}", quiet) as tick:

        def show(step: int, loss: float, reached: dict[str, float]) -> None:
            seconds = time.monotonic() - began
            first.setdefault("step", step - 1)
            rate = (step - first["step"]) * cfg.batch_size / max(seconds, 1e-9)
            tick(f"loss {loss:.4f} · {rate:,.0f} images/s{_left(cfg, reached, seconds)}", completed=step)

        meta = train(cfg, out, values["resume"], show, log=log, run_id=new_run_id())
    if not is_main():
        return
    loss = "n/a" if meta["final_loss"] is None else f"{meta['final_loss']:.4f}"
    training = meta["training"]
    rate = training["images_per_s"]
    console.print(
        f"trained {model} for {meta['steps']} steps on {cfg.dataset} ({meta['prediction']} objective, "
        f"{meta['schedule']} schedule, {training['device']} {cfg.dtype}): final loss {loss}; "
        f"{'' if rate is None else f'{rate:,.1f} images/s; '}stopped by {training['stopped_by']}; wrote {out}"
        + (f" and {log}" if log else "")
    )


def _left(cfg: Any, reached: dict[str, float], seconds: float) -> str:
    """What is left of the budgets given (minutes: of this run's), as the progress bar shows it."""
    left = []
    if cfg.steps is not None:
        left.append(f"{cfg.steps - reached['steps']:,} steps")
    if cfg.images is not None:
        left.append(f"{cfg.images - reached['images']:,} images")
    if cfg.minutes is not None:
        left.append(f"{max(cfg.minutes - seconds / 60, 0):.1f} min")
    if cfg.train_tmacs is not None:
        left.append(f"{max(cfg.train_tmacs - reached['train_tmacs'], 0):.3g} TMACs")
    return f" · left: {', '.join(left)}" if left else ""


_PARAMETERS = [typer_parameter(option) for option in (*_OWN, *TRAIN, *_AFTER)]
_train.__signature__ = inspect.Signature(_PARAMETERS)  # type: ignore[attr-defined]
_train.__annotations__ = {p.name: p.annotation for p in _PARAMETERS}
train_command = friendly_errors(_train)
