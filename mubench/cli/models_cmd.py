"""`mubench models`: the registry as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from mubench.cli.common import console, friendly_errors
from mubench.cli.render import Column, table
from mubench.errors import UsageError
from mubench.formatting import integer, text


@friendly_errors
def models(
    pattern: Annotated[str, typer.Argument(help="Glob over model names, e.g. 'ode-*'.")] = "*",
    pretrained: Annotated[
        bool,
        typer.Option(
            "--pretrained", help="Only the models with weights mubench ships, with the weights' tag and data."
        ),
    ] = False,
) -> None:
    """List the registered models: name, family, parameters, default resolution, description.

    With --pretrained: only the models mubench ships trained weights for, each with its weights (tag,
    training dataset, training steps) in place of the resolution and description.

    Examples:

        mubench models

        mubench models 'ode-*'

        mubench models --pretrained
    """
    import pandas as pd

    from mubench.registry import get_spec, list_models

    names = list_models(pattern, pretrained=pretrained)
    if not names:
        what = "model with shipped weights" if pretrained else "registered model"
        raise UsageError(f"no {what} matches '{pattern}'; `mubench models` lists them all")
    rows = []
    for name in names:
        spec = get_spec(name)
        row = {
            "model": name,
            "family": spec.family,
            "params": spec.expected_params,
            "resolution": f"{spec.resolution}x{spec.resolution}",
            "description": spec.description,
        }
        if pretrained:
            for weights in spec.weights:  # one row per weights, the default first
                rows.append(
                    {**row, "weights": weights.tag, "dataset": weights.dataset, "steps": weights.steps}
                )
        else:
            rows.append(row)
    columns: list[Column] = [
        ("model", "model", text),
        ("family", "family", text),
        ("params", "params", integer),
    ]
    if pretrained:  # the weights in place of the default resolution and the description
        columns += [
            ("weights", "weights", text),
            ("dataset", "trained on", text),
            ("steps", "steps", integer),
        ]
    else:
        columns += [("resolution", "default res.", text), ("description", "description", text)]
    frame = pd.DataFrame(rows, columns=[name for name, _, _ in columns])
    title = "mubench models with shipped weights" if pretrained else "mubench model registry"
    console.print(table(frame, columns, title=title))
