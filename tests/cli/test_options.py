"""One definition per measurement: the commands and suite files accept the same options, with the same
defaults and the same checks (both go through the measurement objects of mubench.measure.measurements),
and bad numbers get one line."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from mubench.cli.app import COMMANDS, app, command
from mubench.defaults import SHIPPED_PAIR
from mubench.errors import UsageError
from mubench.measure.measurements import MEASUREMENTS
from mubench.ranges import RANGES
from mubench.suite.spec import load_suite
from mubench.suite.tables import KEYS

OUTPUT_ONLY = {"csv", "json", "quiet", "wide"}  # where rows go and how they show: the command's alone
MODELS = {"params": ["ode-u-tiny"], "flops": ["ode-u-tiny"], "latency": ["ode-u-tiny"],
          "robustness": list(SHIPPED_PAIR), "profile": ["ode-u-tiny"]}  # fmt: skip


KINDS = tuple(MEASUREMENTS)
OPTIONS = {name: {o.name: o for o in m.options} for name, m in MEASUREMENTS.items()}


def conditions(kind: str, models: list[str], options: dict) -> object:
    return MEASUREMENTS[kind].conditions(models, options)


def command_params(kind: str) -> dict:
    built = command(kind)
    return {param.name: param for param in built.params}


@pytest.mark.parametrize("kind", KINDS)
def test_the_command_and_the_suite_accept_exactly_the_same_options(kind):
    from_command = set(command_params(kind)) - OUTPUT_ONLY - {"model"}
    assert from_command == set(OPTIONS[kind]), "a command option without a suite key, or the reverse"
    suite_keys = set(KEYS[kind]) - {"models", "note"}
    assert suite_keys == {name.replace("_", "-") for name in OPTIONS[kind]}


def _parser_range(param) -> tuple:
    bounded = param if hasattr(param, "min") else param.type  # typer's own option, or click's IntRange
    return getattr(bounded, "min", None), getattr(bounded, "max", None)


@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_the_parser_checks_each_numeric_options_declared_range(kind):
    """The range of a numeric option is declared once (RANGES): the command's parser gets it."""
    for name, param in command_params(kind).items():
        if param.type_descriptor.annotation in (int, float, int | None, float | None, list[float]):
            assert name in RANGES, f"{kind} --{name}: declare its range in mubench.ranges.RANGES"
            low, high = RANGES[name].parser_bounds().values()
            assert _parser_range(param) == (low, high), name


@pytest.mark.parametrize("kind", [k for k in KINDS if OPTIONS[k]])
def test_the_commands_defaults_are_the_measurements_own(kind):
    """Giving an option its command-line default builds the same conditions as leaving it out (as a
    suite table does)."""
    base = conditions(kind, MODELS[kind], {})
    for name, param in command_params(kind).items():
        if name not in OPTIONS[kind] or param.default is None or param.default == []:
            continue
        assert conditions(kind, MODELS[kind], {name: param.default}) == base, name


def _bad_values(option) -> list:
    if option.type is int:
        return [-1, 0, 10**30]
    if option.type is float:
        return [math.nan, math.inf, -math.inf, -1.0, 1e300]
    return []


CASES = [(kind, name, value) for kind in KINDS for name, option in OPTIONS[kind].items()
         if not option.is_list for value in _bad_values(option)]  # fmt: skip


def _toml(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


@pytest.mark.parametrize(("kind", "name", "value"), CASES, ids=[f"{k}-{n}-{v}" for k, n, v in CASES])
def test_a_refused_number_is_refused_alike_by_the_command_and_the_suite(
    kind, name, value, runner, tmp_path: Path, clean_exit
):
    """Every numeric option given NaN, an infinity, -1, 0 or a huge number: either both accept it, or
    both refuse it before measuring, with one line naming the option as each spells it."""
    try:
        conditions(kind, MODELS[kind], {name: value})
    except UsageError as exc:
        refusal: UsageError | None = exc
    else:
        refusal = None
    suite = tmp_path / "s.toml"
    models = ", ".join(f'"{m}"' for m in MODELS[kind])
    suite.write_text(f"[[{kind}]]\nmodels = [{models}]\n{name.replace('_', '-')} = {_toml(value)}\n")
    if abs(value) < 2**63:  # TOML holds 64-bit integers only
        if refusal is None:
            load_suite(suite)
        else:
            with pytest.raises(UsageError) as caught:
                load_suite(suite)
            assert refusal.render("suite") in str(caught.value)
    if refusal is None:
        return  # accepted: running it would measure, which other tests do
    flag = "--" + name.replace("_", "-")
    args = [kind, *[part for m in MODELS[kind] for part in ("-m", m)], flag, _toml(value), "--quiet"]
    result = runner.invoke(app, args)
    clean_exit(result, 2)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and flag in lines[0], result.output


def test_a_message_names_its_option_as_each_caller_spells_it():
    from mubench.errors import opt

    exc = UsageError(f"{opt('batch_size')} must be positive; see {opt('model')}")
    assert exc.field == "batch_size"
    assert str(exc) == "batch_size must be positive; see model"
    assert exc.render("cli") == "--batch-size must be positive; see --model"
    assert exc.render("suite") == "batch-size must be positive; see models"


def test_a_suite_flops_table_with_a_depth_keeps_the_macs_per_module(runner, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[flops]]\nmodels = ["ode-u-tiny", "lucid-unet-tiny"]\ndepth = 1\n')
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(suite), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    modules = pd.read_csv(out / "flops_modules.csv")
    rows = pd.read_csv(out / "results.csv")
    assert set(modules["model"]) == {"ode-u-tiny", "lucid-unet-tiny"} and (modules["depth"] == 1).all()
    assert set(modules["suite_item"]) == set(rows["suite_item"])
    for model, group in modules.groupby("model"):  # the top-level modules hold every counted MAC
        fvcore = rows[(rows["model"] == model) & (rows["counter"] == "fvcore")]
        assert group["macs"].sum() == fvcore["macs"].iloc[0]
