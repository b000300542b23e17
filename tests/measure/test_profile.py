"""`mubench profile`: time per operator category from torch.profiler, beside FLOPs and bytes shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from mubench import schema
from mubench.cli.app import app
from mubench.measure.counting.counters import count_torch
from mubench.measure.measurements import measurement
from mubench.measure.profile import categories as cat
from mubench.measure.profile.run import measure_profile
from mubench.measure.runtime.build import build_model, example_inputs
from mubench.registry import get_spec

FAST = {"threads": 1, "repeats": 3, "warmup": 1, "batch_size": 1}
MODULE = "mubench_test_profile_models"
SOURCE = '''
from torch import nn


class ConvSiLU(nn.Module):
    """Two convolutions around a SiLU and a residual add: one fused kernel once compiled."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 32, 3, padding=1)
        self.b = nn.Conv2d(32, 3, 3, padding=1)

    def forward(self, x, t):
        return x + self.b(nn.functional.silu(self.a(x)))


def conv_silu():
    return ConvSiLU()


conv_silu.mubench_resolution = 64
'''


@pytest.fixture
def conv_silu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield f"{MODULE}:conv_silu"
    sys.modules.pop(MODULE, None)


def profile_rows(models: list[str], **options) -> pd.DataFrame:
    conds = measurement("profile").conditions(models, {**FAST, **options})
    return pd.DataFrame(measure_profile(models, conds, "test"))


def check_sums(frame: pd.DataFrame) -> None:
    """Per model: the categories sum to within 10% of the profiled call time; FLOPs and bytes shares
    sum to one."""
    for model, rows in frame.groupby("model"):
        assert (rows["status"] == "ok").all(), rows["message"].iloc[0]
        call_ms = rows["profile_call_ms"].iloc[0]
        assert rows["category_ms"].sum() == pytest.approx(call_ms, rel=0.10), model
        assert rows["category_time_share"].sum() == pytest.approx(1.0)
        assert rows["category_bytes_share"].sum() == pytest.approx(1.0)
        assert rows["category_flops_share"].sum() == pytest.approx(1.0)


@pytest.mark.slow
def test_eager_categories_sum_to_the_profiled_call_and_count_every_flop():
    models = ["ode-u-tiny", "lucid-unet-tiny"]
    frame = profile_rows(models)
    check_sums(frame)
    assert schema.undeclared(list(frame.columns)) == []
    for model in models:
        rows = frame[frame["model"] == model].set_index("category")
        spec = get_spec(model)
        x, t = example_inputs(1, spec.channels, 64, 0)
        assert rows["category_flops"].sum() == count_torch(build_model(spec), (x, t)).flops  # exact
        assert rows.loc[cat.CONVOLUTION, "category_ms"] > 0
        assert "aten::" in rows.loc[cat.CONVOLUTION, "category_top_ops"]
        assert rows.loc[cat.FRAMEWORK, "category_flops"] == 0
    ode = frame[frame["model"] == "ode-u-tiny"]
    assert "activation Softplus" in set(ode["category"])  # the activation named
    assert "activation SiLU" in set(frame[frame["model"] == "lucid-unet-tiny"]["category"])


def test_prepacked_convolutions_are_profiled_and_their_flops_counted():
    frame = profile_rows(["lucid-unet-tiny"], channels_last=True, prepack=True, resolution=32)
    check_sums(frame)
    rows = frame.set_index("category")
    assert "mkldnn::_convolution_pointwise" in rows.loc[cat.CONVOLUTION, "category_top_ops"]
    spec = get_spec("lucid-unet-tiny")
    x, t = example_inputs(1, spec.channels, 32, 0)
    assert rows["category_flops"].sum() == count_torch(build_model(spec), (x, t)).flops


def test_compiled_kernels_go_to_the_categories_they_fuse(conv_silu):
    frame = profile_rows([conv_silu], compile=True)
    check_sums(frame)
    rows = frame.set_index("category")
    assert frame["mode"].iloc[0] == "compile"
    # inductor's C++ kernel that fuses the SiLU (with the convolution's bias) is named, and goes to SiLU
    assert "cpp_fused" in rows.loc["activation SiLU", "category_top_ops"]
    assert "cpp_fused" in rows.loc[cat.ELEMENTWISE, "category_top_ops"]  # the residual add
    assert rows.loc[cat.CONVOLUTION, "category_ms"] > 0
    assert rows.loc[cat.CONVOLUTION, "category_flops_share"] == 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("compiled", [False, True])
def test_profile_on_gpu(compiled):
    frame = profile_rows(["ode-u-tiny", "lucid-unet-tiny"], device="cuda", compile=compiled)
    check_sums(frame)
    assert (frame["profile_time_source"] == "CUDA kernel time").all()
    assert (frame[frame["category"] == cat.CONVOLUTION]["category_ms"] > 0).all()


def test_the_command_writes_rows_and_prints_the_table(runner, tmp_path, clean_exit):
    csv, js = tmp_path / "p.csv", tmp_path / "p.json"
    args = ["profile", "-m", "lucid-unet-tiny", "--threads", "1", "--repeats", "2", "--resolution", "32"]
    result = runner.invoke(app, [*args, "--csv", str(csv), "--json", str(js), "-q"])
    clean_exit(result, 0)
    assert "by operator category" in result.output and "activation SiLU" in result.output
    frame = pd.read_csv(csv)
    assert (frame["command"] == "profile").all() and (frame["resolution"] == 32).all()
    assert schema.undeclared(list(frame.columns)) == []
    assert len(json.loads(js.read_text())["rows"]) == len(frame)


BAD = [
    (["-m", "ode-uu"], "did you mean 'ode-u'"),
    (["-m", "ode-u-tiny", "--repeats", "0"], "'--repeats'"),
    (["-m", "ode-u-tiny", "--device", "cuda:99"], "--device"),
    (["-m", "ode-u-tiny", "--dtype", "fp64"], "unknown --dtype 'fp64'"),
    (["-m", "ode-u-tiny", "--compile-option", "freezing=true"], "only applies with --compile"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_leaves_files_alone(args, message, runner, tmp_path, clean_exit):
    csv = tmp_path / "mine.csv"
    csv.write_text("the user's own file\n")
    result = runner.invoke(app, ["profile", *args, "--csv", str(csv)])
    clean_exit(result, 2)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert csv.read_text() == "the user's own file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.csv"]


def test_a_suite_accepts_profile_tables(runner, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[profile]]\nmodels = ["ode-u-tiny"]\nrepeats = 2\nthreads = 1\nresolution = 16\n')
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(suite), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "profile.csv")
    assert set(rows["model"]) == {"ode-u-tiny"} and rows["category"].is_unique
    assert (rows["profile_calls"] == 2).all()
