"""The root command: wires the sub-commands, nothing else."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from mubench.cli.common import err_console
from mubench.cli.compare_cmd import compare
from mubench.cli.convert_cmd import convert
from mubench.cli.fid_cmd import fid, fid_ref
from mubench.cli.flops_cmd import flops
from mubench.cli.latency_cmd import latency
from mubench.cli.models_cmd import models
from mubench.cli.params_cmd import params
from mubench.cli.profile_cmd import profile
from mubench.cli.report_cmd import report
from mubench.cli.robustness_cmd import robustness
from mubench.cli.run_cmd import run
from mubench.cli.sample_cmd import sample
from mubench.cli.train_cmd import train_command


class _OneLineErrors(typer.core.TyperGroup):
    """The parser's own usage errors (an unknown option or command, a value of the wrong type or out of
    range) get one line and exit 2, like every other bad input, instead of a usage box: for the
    executable and for anything that invokes the app (tests, scripts)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as exc:
            sys.exit(_parser_exit(exc))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
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


app.command()(models)
app.command()(params)
app.command()(flops)
app.command()(latency)
app.command()(profile)
app.command()(robustness)
app.command()(sample)
app.command("fid-ref")(fid_ref)
app.command()(fid)
app.command()(report)
app.command("train")(train_command)
app.command()(run)
app.command()(compare)
app.command()(convert)


def main() -> None:
    """The ``mubench`` executable."""
    app(prog_name="mubench")


def _parser_exit(exc: Exception) -> int:
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
        err_console.print(
            f"error: {exc.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True
        )
    else:
        exc.show()
    return exit_code
