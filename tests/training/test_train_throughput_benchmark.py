"""benchmarks/train_throughput.py without timing anything: its settings checks, the images/s arithmetic
of the difference method, the parameter-count check and the commands it runs for each tool."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_images_per_second_is_the_difference_of_two_runs(bench):
    # 16 images x (13 - 3) steps in 30 - 10 seconds
    assert bench.images_per_second(16, 3, 13, 10.0, 30.0) == pytest.approx(8.0)
    assert bench.images_per_second(64, 20, 220, 41.5, 141.5) == pytest.approx(128.0)


@pytest.mark.parametrize(
    ("k1", "k2", "t1", "t2"), [(3, 13, 30.0, 30.0), (3, 13, 31.0, 30.0), (5, 5, 1.0, 2.0)]
)
def test_images_per_second_refuses_what_it_cannot_divide(bench, k1, k2, t1, t2):
    with pytest.raises(ValueError):
        bench.images_per_second(16, k1, k2, t1, t2)


def test_the_settings_that_work_pass(bench):
    bench.check_settings(16, 32, 3, 13, 3, save_every=500)
    bench.check_settings(64, 64, 20, 220, 3, save_every=500)


@pytest.mark.parametrize(
    ("batch_size", "resolution", "k1", "k2", "repeats", "words"),
    [
        (0, 32, 3, 13, 3, "--batch-size"),
        (16, 32, 3, 13, 0, "--repeats"),
        (16, 48, 3, 13, 3, "--resolution"),
        (16, 32, 0, 13, 3, "--k1"),
        (16, 32, 13, 13, 3, "--k2"),
        (16, 32, 3, 500, 3, "saves a checkpoint every 500"),
    ],
)
def test_settings_the_difference_method_cannot_use_are_refused(
    bench, batch_size, resolution, k1, k2, repeats, words
):
    with pytest.raises(SystemExit, match=words):
        bench.check_settings(batch_size, resolution, k1, k2, repeats, save_every=500)


def test_networks_of_different_sizes_are_refused(bench):
    bench.check_same_network(35_710_339, 35_710_339)
    with pytest.raises(SystemExit, match="the networks differ"):
        bench.check_same_network(35_710_339, 35_710_338)


def test_the_images_are_cut_to_whole_batches(bench):
    assert bench.whole_batches(2999, 16) == 2992
    assert bench.whole_batches(2984, 64) == 2944
    assert bench.whole_batches(64, 64) == 64
    with pytest.raises(SystemExit, match="exceeds"):
        bench.whole_batches(10, 16)


def test_summary_medians_and_ratios(bench):
    summary = bench.summarise({"mubench": [10.0, 12.0, 11.0], "peer": [8.0, 10.0, 11.0]})
    assert summary["median_images_per_s"] == {"mubench": 11.0, "peer": 10.0}
    assert summary["ratio"] == pytest.approx(1.1)
    assert summary["round_ratios"] == pytest.approx([1.25, 1.2, 1.0])
    assert (summary["ratio_min"], summary["ratio_max"]) == pytest.approx((1.0, 1.25))


def test_options_are_read_from_help_text(bench):
    text = (
        "│ *  --model       -m      TEXT     Registry name [required]   │\n"
        "│    --batch-size          INTEGER  Images per step.           │\n"
        "│                                   --resume to continue.       │\n"
        "│    --quiet       -q               No progress bar; see --out  │\n"
        "│    --compile/--no-compile         torch.compile the model     │\n"
    )
    assert bench.options_in_help(text) == {"--model", "--batch-size", "--quiet", "--compile"}


def test_defaults_follow_the_device(bench):
    cpu = bench.parse_args([])
    assert (cpu.batch_size, cpu.resolution, cpu.k1, cpu.k2) == (16, 32, 3, 13)
    gpu = bench.parse_args(["--device", "cuda", "--k2", "120"])
    assert (gpu.batch_size, gpu.resolution, gpu.k1, gpu.k2) == (64, 64, 20, 120)


def test_the_mubench_command(bench, tmp_path):
    args = bench.parse_args([])
    plain = bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, args, {"--steps"})
    assert plain[:4] == [sys.executable, "-m", "mubench", "train"]
    assert plain[4:] == [
        "--model", "lucid-unet", "--out", str(tmp_path / "x.safetensors"), "--steps", "7",
        "--batch-size", "16", "--dataset", f"folder:{tmp_path}", "--seed", "0", "--quiet",
    ]  # fmt: skip
    full = bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, args, {"--resolution", "--workers"})
    assert full[-2:] == ["--resolution", "32"]  # on the CPU, no --workers: its default, none
    gpu = bench.parse_args(["--device", "cuda"])
    options = {"--resolution", "--workers", "--device", "--dtype", "--compile"}
    on_gpu = bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, gpu, options)
    assert on_gpu[on_gpu.index("--workers") + 1] == str(os.cpu_count())


def test_the_mubench_command_refuses_what_this_checkout_cannot_do(bench, tmp_path):
    at64 = bench.parse_args(["--resolution", "64"])
    with pytest.raises(SystemExit, match="--resolution"):
        bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, at64, set())
    gpu = bench.parse_args(["--device", "cuda"])
    with pytest.raises(SystemExit, match="--dtype, --compile"):
        bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, gpu, {"--resolution", "--device"})
    options = {"--resolution", "--device", "--dtype", "--compile"}
    command = bench.mubench_command(7, tmp_path / "x.safetensors", tmp_path, gpu, options)
    assert command[-5:] == ["--device", "cuda", "--dtype", "bf16", "--compile"]


def test_the_peer_command(bench, tmp_path):
    cpu = bench.peer_command(5, tmp_path / "r", tmp_path, bench.parse_args([]))
    assert cpu[1:3] == [str(SCRIPT), "--peer-worker"] and "--amp" not in cpu
    assert cpu[cpu.index("--steps") + 1] == "5" and cpu[cpu.index("--batch-size") + 1] == "16"
    gpu = bench.peer_command(5, tmp_path / "r", tmp_path, bench.parse_args(["--device", "cuda"]))
    assert gpu[-3:] == ["--amp", "--mixed-precision", "fp16"]


@pytest.mark.slow
def test_both_tools_build_the_same_number_of_parameters(bench):
    pytest.importorskip("denoising_diffusion_pytorch")
    ours, peer = bench.parameter_counts()
    assert ours == peer == 35_710_339
