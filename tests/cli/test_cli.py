"""The commands, through typer's CliRunner: what they print and the files they write."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import mubench
from mubench.cli.app import COMMANDS, app
from mubench.registry import list_models
from mubench.results import KEY_COLUMNS, SCHEMA_VERSION

PARAMS_COLUMNS = ("params_total", "params_trainable", "params_frozen", "buffers_total")
FLOPS_COLUMNS = (
    "counter",
    "macs",
    "flops",
    "nfe",
    "macs_per_trajectory",
    "flops_per_trajectory",
    "coverage",
    "unsupported_ops",
)


def _ode_u_tiny_macs(side: int) -> dict[str, int]:
    """MACs of one ode-u-tiny call (rk4, one step: 4 evaluations per block) at side x side, by hand.

    Widths 8, 16, 32 at side, side/2, side/4; bottleneck 64 at side/8; attention (2 heads x 16) at side/4.
    """
    px = side * side
    ode = 7 * 4 * 2 * 9 * 8 * 8 * px  # every block's two 3x3 convs cost the same: 2*9*c^2 * (px / scale^2)
    stem = 8 * 3 * 9 * px + 8 * 8 * px
    down = 3 * 16 * 8 * px  # 8->16 at px, 16->32 at px/4, 32->64 at px/16: each 128 px
    up = 3 * 24 * 8 * px  # (16+8)->8 at px, (32+16)->16 at px/4, (64+32)->32 at px/16: each 192 px
    head = 3 * 8 * px
    attn_px = px // 16
    attn_conv = 2 * (32 * 96 + 32 * 32) * attn_px
    conv = ode + stem + down + up + head + attn_conv
    attention = 2 * 2 * attn_px * attn_px * (16 + 16)
    linear = 2 * 64 * 64 + 64 * 2 * (8 + 16 + 32 + 64 + 32 + 16 + 8)
    return {"conv": conv, "linear": linear, "attention": attention, "total": conv + linear + attention}


def test_hand_count_of_ode_u_tiny_is_self_consistent():
    assert _ode_u_tiny_macs(32)["total"] == 35_403_776


# --- root --------------------------------------------------------------------------------------------


def test_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"mubench {mubench.__version__}"


def test_no_arguments_shows_help(runner):
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    for command in ("models", "params", "flops"):
        assert command in result.output


def flat(output: str) -> str:
    """The output with runs of whitespace as one space: captions wrap to the table's width."""
    return " ".join(output.split())


def _command_names() -> list[str]:
    return sorted(COMMANDS)


def test_the_commands_exist():
    assert {"models", "params", "flops"} <= set(_command_names())


@pytest.mark.parametrize("command", _command_names())
def test_every_command_help_shows_examples(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples" in result.output
    assert f"mubench {command}" in result.output


# --- models ------------------------------------------------------------------------------------------


def test_models_lists_every_registered_model(runner):
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    for name in list_models():
        assert f" {name} " in result.output, name
    for count in ("35,746,307", "35,710,339", "8,811,875", "9,449,955"):
        assert count in result.output


def test_models_pattern(runner):
    result = runner.invoke(app, ["models", "ode-*"])
    assert result.exit_code == 0, result.output
    assert " ode-u-ref " in result.output
    assert "ddpm-unet" not in result.output
    assert "lucid-unet" not in result.output


# --- params ------------------------------------------------------------------------------------------


def test_params_default_pair_with_ratio(runner):
    result = runner.invoke(app, ["params", "--quiet"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "lucid-unet" in out and "ode-u" in out
    assert out.index("lucid-unet") < out.index("ode-u")  # the baseline first
    assert "35,710,339" in out and "9,449,955" in out
    assert "vs base: total / that of lucid-unet" in out
    assert f"{100 * 9_449_955 / 35_710_339:.1f}%" in out  # 26.5%


def test_params_csv_and_json(runner, tmp_path):
    csv, js = tmp_path / "params.csv", tmp_path / "params.json"
    result = runner.invoke(
        app, ["params", "-m", "ode-u-ref-tiny", "-m", "ddpm-unet-tiny", "--csv", str(csv), "--json", str(js)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(csv)
    assert tuple(frame.columns[: len(KEY_COLUMNS)]) == KEY_COLUMNS
    for column in PARAMS_COLUMNS:
        assert column in frame.columns
    assert frame["model"].tolist() == ["ode-u-ref-tiny", "ddpm-unet-tiny"]
    assert frame["params_total"].tolist() == [201_995, 1_113_955]
    assert frame["params_trainable"].tolist() == [137_995, 1_113_955]
    assert frame["params_frozen"].tolist() == [64_000, 0]
    assert (frame["command"] == "params").all()
    assert (frame["status"] == "ok").all()
    assert (frame["schema_version"] == SCHEMA_VERSION).all()
    assert (frame["mubench_version"] == mubench.__version__).all()
    assert frame["run_id"].nunique() == 1 and frame["run_id"].iloc[0]

    payload = json.loads(js.read_text())
    assert payload["schema_version"] == SCHEMA_VERSION
    assert payload["environment"]["torch_version"]
    assert payload["environment"]["num_threads"] >= 1
    rows = payload["rows"]
    assert [r["params_total"] for r in rows] == [201_995, 1_113_955]
    assert set(KEY_COLUMNS) | set(PARAMS_COLUMNS) <= set(rows[0])
    assert rows[0]["run_id"] == frame["run_id"].iloc[0]
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_params_user_model(runner, user_module):
    result = runner.invoke(app, ["params", "-m", f"{user_module}:good"])
    assert result.exit_code == 0, result.output
    assert f"{user_module}:good" in result.output
    assert " 84 " in result.output  # 3*3*9 weights + 3 biases


# --- flops -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flops_tiny(tmp_path_factory):
    """`mubench flops --model ode-u-tiny --steps 10 --depth 1 --csv` run once: (result, frame)."""
    from typer.testing import CliRunner

    csv = tmp_path_factory.mktemp("flops") / "flops.csv"
    result = CliRunner().invoke(
        app, ["flops", "--model", "ode-u-tiny", "--steps", "10", "--depth", "1", "--csv", str(csv)]
    )
    assert result.exit_code == 0, result.output
    return result, pd.read_csv(csv)


def test_flops_rows_and_columns(flops_tiny):
    _, frame = flops_tiny
    assert tuple(frame.columns[: len(KEY_COLUMNS)]) == KEY_COLUMNS
    for column in FLOPS_COLUMNS:
        assert column in frame.columns
    assert frame["counter"].tolist() == ["fvcore", "torch"]
    assert (frame["command"] == "flops").all()
    assert (frame["status"] == "ok").all()
    assert (frame["resolution"] == 32).all()  # a single model: its own resolution
    assert (frame["steps"] == 10).all()
    assert (frame["solver"] == "rk4(steps=1)").all()


def test_flops_macs_match_the_hand_count(flops_tiny):
    _, frame = flops_tiny
    hand = _ode_u_tiny_macs(32)
    for _, row in frame.iterrows():
        assert row["macs"] == hand["total"]
        assert row["macs_conv"] == hand["conv"]
        assert row["macs_linear"] == hand["linear"]
        assert row["macs_attention"] == hand["attention"]


def test_flops_is_twice_macs_and_trajectory_is_per_call_times_steps(flops_tiny):
    _, frame = flops_tiny
    for _, row in frame.iterrows():
        assert row["flops"] == 2 * row["macs"]
        assert row["macs_per_trajectory"] == 10 * row["macs"]
        assert row["flops_per_trajectory"] == 20 * row["macs"]


def test_flops_nfe_and_cross_check(flops_tiny):
    _, frame = flops_tiny
    fv = frame[frame["counter"] == "fvcore"].iloc[0]
    assert fv["nfe"] == 28  # seven ODE blocks x four rk4 evaluations
    assert fv["nfe_per_block"] == "4,4,4,4,4,4,4"
    assert fv["nfe_per_trajectory"] == 280
    assert fv["coverage"] == 1.0
    assert abs(fv["xcheck_ratio"] - 1) < 1e-9
    assert fv["params_total"] == 169_899


def test_flops_table_names_macs_and_flops(flops_tiny):
    result, _ = flops_tiny
    out = flat(result.output)
    assert "MACs/call" in out
    assert "35,403,776" in out
    assert "FLOPs = 2 x MACs" in out
    assert "NFE" in out


def test_flops_depth_prints_per_module_table(flops_tiny):
    out = flops_tiny[0].output
    assert "MACs per module: ode-u-tiny" in out
    for module in ("initial_velocity", "down_blocks", "middle", "up_blocks", "head"):
        assert module in out
    assert "down_blocks.0" not in out  # depth 1 only
    assert "286,720" in out  # initial_velocity: 8*3*9*1024 + 8*8*1024


def test_flops_depth_in_tier_all_names_what_it_adds(runner):
    result = runner.invoke(app, ["flops", "-m", "ode-u-tiny", "--tier", "all", "--depth", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "MACs + elementwise ops per module: ode-u-tiny" in " ".join(result.output.split())


def test_flops_without_depth_has_no_module_table(runner):
    result = runner.invoke(app, ["flops", "-m", "lucid-unet-tiny", "-q"])
    assert result.exit_code == 0, result.output
    assert "MACs per module" not in result.output


def test_flops_several_models_share_the_paper_resolution(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(
        app, ["flops", "-m", "ode-u-tiny", "-m", "lucid-unet-tiny", "-q", "--csv", str(csv)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Compute per denoiser call") == 1
    assert "64x64, shared by all models" in flat(result.output)
    frame = pd.read_csv(csv)
    assert (frame["resolution"] == 64).all()
    assert frame["model"].tolist() == ["ode-u-tiny", "ode-u-tiny", "lucid-unet-tiny", "lucid-unet-tiny"]
    assert frame["run_id"].nunique() == 1
    fv = frame[(frame["model"] == "ode-u-tiny") & (frame["counter"] == "fvcore")].iloc[0]
    assert fv["macs"] == _ode_u_tiny_macs(64)["total"]


def test_flops_several_models_with_explicit_resolution(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(
        app,
        [
            "flops",
            "-m",
            "ode-u-ref-tiny",
            "-m",
            "ddpm-unet-tiny",
            "--resolution",
            "32",
            "-q",
            "--csv",
            str(csv),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "32x32, shared by all models" in flat(result.output)
    assert (pd.read_csv(csv)["resolution"] == 32).all()


def test_flops_solver_options_change_nfe_and_macs(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(
        app, ["flops", "-m", "ode-u-tiny", "--solver", "euler", "--ode-steps", "3", "-q", "--csv", str(csv)]
    )
    assert result.exit_code == 0, result.output
    fv = pd.read_csv(csv).iloc[0]
    assert fv["solver"] == "euler(steps=3)"
    assert fv["nfe"] == 21
    assert fv["nfe_per_block"] == "3,3,3,3,3,3,3"
    ode_per_eval = 7 * 2 * 9 * 8 * 8 * 32 * 32
    assert fv["macs"] == _ode_u_tiny_macs(32)["total"] - ode_per_eval  # 3 evaluations a block, not 4


@pytest.mark.slow
def test_flops_adaptive_solver_reports_nfe_distribution(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(
        app, ["flops", "-m", "ode-u-tiny", "--solver", "dopri5", "--resolution", "8", "-q", "--csv", str(csv)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(csv)
    fv = frame[frame["counter"] == "fvcore"].iloc[0]
    assert fv["solver"] == "dopri5(rtol=0.001,atol=0.0001)"
    for column in ("nfe_min", "nfe_median", "nfe_max"):
        assert column in frame.columns
    assert 7 * 6 <= fv["nfe_min"] <= fv["nfe_median"] <= fv["nfe_max"]
    assert "adaptive" in fv["message"]
    assert "adaptive" in result.output


def test_flops_of_a_unet_has_no_nfe(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(app, ["flops", "-m", "ddpm-unet-tiny", "-q", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(csv)
    assert frame["nfe"].isna().all()
    assert frame["solver"].isna().all()


def test_flops_batch_size_scales_macs(runner, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(app, ["flops", "-m", "ode-u-tiny", "--batch-size", "2", "-q", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    fv = pd.read_csv(csv).iloc[0]
    assert fv["batch_size"] == 2
    assert fv["macs"] == 2 * _ode_u_tiny_macs(32)["total"]


def test_flops_json(runner, tmp_path):
    js = tmp_path / "f.json"
    result = runner.invoke(app, ["flops", "-m", "lucid-unet-tiny", "-q", "--json", str(js)])
    assert result.exit_code == 0, result.output
    payload = json.loads(js.read_text())
    assert payload["schema_version"] == SCHEMA_VERSION
    assert [r["counter"] for r in payload["rows"]] == ["fvcore", "torch"]
    assert payload["rows"][0]["flops"] == 2 * payload["rows"][0]["macs"]


def test_flops_user_model(runner, user_module, tmp_path):
    csv = tmp_path / "f.csv"
    result = runner.invoke(app, ["flops", "-m", f"{user_module}:good", "-q", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    fv = pd.read_csv(csv).iloc[0]
    assert fv["resolution"] == 16  # the factory's mubench_resolution
    assert fv["macs"] == 3 * 16 * 16 * 3 * 9
    assert math.isnan(fv["nfe"])


def test_flops_failed_model_becomes_a_row_and_the_run_goes_on(runner, user_module, tmp_path, clean_exit):
    """A model whose state changes while counted is refused; the other model is still measured."""
    csv = tmp_path / "f.csv"
    result = runner.invoke(
        app, ["flops", "-m", "ode-u-tiny", "-m", f"{user_module}:mutating", "-q", "--csv", str(csv)]
    )
    clean_exit(result, 1)
    frame = pd.read_csv(csv)
    ok = frame[frame["model"] == "ode-u-tiny"]
    assert (ok["status"] == "ok").all() and len(ok) == 2
    failed = frame[frame["model"] == f"{user_module}:mutating"]
    assert failed["status"].tolist() == ["error"]
    assert "changed the state" in failed["message"].iloc[0]


def test_a_table_shows_a_caption_holding_brackets_as_written():
    """A caption may hold a user's path, e.g. DIR/[/b]: plain text, never rich markup."""
    import pandas as pd
    from rich.console import Console

    from mubench.cli.render import table
    from mubench.formatting import text

    console = Console(width=100, record=True)
    console.print(table(pd.DataFrame({"model": ["m"]}), [("model", "model", text)], "[b]x", "in DIR/[/b]"))
    shown = " ".join(console.export_text().split())  # the caption wraps at the table's width
    assert "in DIR/[/b]" in shown and "[b]x" in shown
