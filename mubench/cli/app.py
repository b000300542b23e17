"""The root command: wires the sub-commands, nothing else."""

from __future__ import annotations

from typing import Annotated

import typer

from mubench import __version__
from mubench.cli.compare_cmd import compare
from mubench.cli.flops_cmd import flops
from mubench.cli.latency_cmd import latency
from mubench.cli.models_cmd import models
from mubench.cli.params_cmd import params
from mubench.cli.report_cmd import report
from mubench.cli.robustness_cmd import robustness
from mubench.cli.run_cmd import run
from mubench.cli.train_cmd import train_command

app = typer.Typer(
    name="mubench",
    help="Benchmark diffusion denoisers: parameters, MACs/FLOPs, latency and noise robustness of baseline "
    "U-Nets and ODE-based continuous U-Nets (arXiv 2310.20092).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
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
app.command()(robustness)
app.command()(report)
app.command("train")(train_command)
app.command()(run)
app.command()(compare)


def main() -> None:
    app()
