"""The root command: a table of sub-commands, each imported only when it runs or its help is shown."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer

from mubench.cli.common import err_console
from mubench.distributed import SHARDED_COMMANDS, under_torchrun

# Command name -> "module:function" under mubench.cli, in the order `mubench --help` lists them. A module
# is imported when its command runs or a help page shows it, so `mubench --version` and
# `mubench latency --help` load one command module or none.
COMMANDS: dict[str, str] = {
    "models": "models_cmd:models",
    "params": "params_cmd:params",
    "flops": "flops_cmd:flops",
    "latency": "latency_cmd:latency",
    "profile": "profile_cmd:profile",
    "robustness": "robustness_cmd:robustness",
    "sample": "sample_cmd:sample",
    "fid-ref": "fid_cmd:fid_ref",
    "fid": "fid_cmd:fid",
    "report": "report_cmd:report",
    "train": "train_cmd:train_command",
    "run": "run_cmd:run",
    "compare": "compare_cmd:compare",
    "convert": "convert_cmd:convert",
}
_built: dict[str, Any] = {}


def command(name: str) -> Any:
    """The click command ``mubench NAME`` (built once); None for a name that is not a command."""
    if name not in COMMANDS:
        return None
    if name not in _built:
        module, function = COMMANDS[name].split(":")
        single = typer.Typer(add_completion=False)
        single.command(name)(getattr(importlib.import_module(f"mubench.cli.{module}"), function))
        _built[name] = typer.main.get_command(single)
    return _built[name]


class _Group(typer.core.TyperGroup):
    """The sub-commands of COMMANDS, built when asked for. The parser's own usage errors (an unknown
    option or command, a value of the wrong type or out of range) get one line and exit 2, like every
    other bad input, instead of a usage box: for the executable and for anything that invokes the app
    (tests, scripts)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return command(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if under_torchrun() and name not in SHARDED_COMMANDS:
            err_console.print(
                f"error: mubench {name} does not run under torchrun (its ranks would compete for the device "
                f"and write the same files); run it as one process. Under torchrun: "
                f"{', '.join(SHARDED_COMMANDS)}",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            sys.exit(2)
        return name, cmd, rest

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            # typer gives --help and its completion flags the default None, which it coerces through
            # pydantic before any command runs: about 85 ms at every start. False means the same to
            # their callbacks and needs no coercion.
            if getattr(param, "is_flag", False) and param.default is None:
                param.default = False
        return params

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        given = args[0] if args and args[0] is not None else kwargs.get("args") or sys.argv[1:]
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as exc:
            sys.exit(_parser_exit(exc, [str(a) for a in given]))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="mubench",
    help="Benchmark diffusion denoisers: parameters, MACs/FLOPs, latency and noise robustness of baseline "
    "U-Nets and ODE-based continuous U-Nets (arXiv 2310.20092).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mubench import __version__

        typer.echo(f"mubench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """mubench: is this denoiser really smaller, cheaper, faster, and as good?"""


def main() -> None:
    """The ``mubench`` executable."""
    app(prog_name="mubench")


_NOT_NUMBERS = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _not_a_number(exc: Exception, args: list[str]) -> str | None:
    """The value given to the option ``exc`` is about, when it is NaN or an infinity: the range check
    would otherwise call NaN too small ("should be >= 0")."""
    names = getattr(getattr(exc, "param", None), "opts", None) or []
    for i, arg in enumerate(args):
        name, sep, value = arg.partition("=")
        if name in names:
            value = value if sep else (args[i + 1] if i + 1 < len(args) else "")
            if value.strip().lower() in _NOT_NUMBERS:
                return f"Invalid value for '{name}': {value} is not a finite number"
    return None


def _parser_exit(exc: Exception, args: list[str] | None = None) -> int:
    """Show what the parser raised as standalone click would, a usage error as one line, and return its
    exit code; re-raise anything else. Known by duck type: click's classes live in typer's vendored copy
    or in the click package, depending on typer's version."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help is printed already
        return int(getattr(exc, "exit_code", 2))
    if type(exc).__name__ == "Abort":
        err_console.print("Aborted!", markup=False, highlight=False)
        return 1
    exit_code = getattr(exc, "exit_code", None)
    if not hasattr(exc, "format_message") or not isinstance(exit_code, int):
        raise exc
    if exit_code == 2:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = _not_a_number(exc, args or []) or exc.format_message()
        err_console.print(f"error: {message}{hint}", markup=False, highlight=False, soft_wrap=True)
    else:
        exc.show()
    return exit_code
