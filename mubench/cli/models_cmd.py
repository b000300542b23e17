"""`mubench models`: the registry as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from mubench.cli.common import console, friendly_errors
from mubench.cli.render import table
from mubench.formatting import integer, text


@friendly_errors
def models(
    pattern: Annotated[str, typer.Argument(help="Glob over model names, e.g. 'ode-*'.")] = "*",
) -> None:
    """List the registered models: name, family, parameters, default resolution, description.

    Examples:

        mubench models

        mubench models 'ode-*'
    """
    import pandas as pd

    from mubench.registry import get_spec, list_models

    rows = []
    for name in list_models(pattern):
        spec = get_spec(name)
        rows.append(
            {
                "model": name,
                "family": spec.family,
                "params": spec.expected_params,
                "resolution": f"{spec.resolution}x{spec.resolution}",
                "description": spec.description,
            }
        )
    frame = pd.DataFrame(rows, columns=["model", "family", "params", "resolution", "description"])
    columns = [
        ("model", "model", text),
        ("family", "family", text),
        ("params", "params", integer),
        ("resolution", "default res.", text),
        ("description", "description", text),
    ]
    console.print(table(frame, columns, title="mubench model registry"))
