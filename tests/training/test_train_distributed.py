"""Training under torchrun: the same weights from 2 processes as from 1 for the same seed and global
batch, a resume under another number of processes, a batch that does not divide refused, and a failing
rank ending the job with its name and the files at --out as they were."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.slow  # torchrun starts processes: seconds each

PLUGINS = Path(__file__).parents[1] / "fixtures" / "plugins"
ARGS = ("-q", "--batch-size", "8", "--lr", "1e-3", "--save-every", "1000")


def _train(tmp_path: Path, out: str, *args: str, processes: int = 1, model: str = "ode-u-tiny"):
    """``mubench train`` on ``processes`` processes (torchrun's, gloo) into ``tmp_path / out``."""
    launch = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    command = [sys.executable, *(launch if processes > 1 else []), "-m", "mubench", "train", "-m", model,
               "--out", str(tmp_path / out), *ARGS, *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(PLUGINS), *sys.path])}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def _assert_same_weights(first: Path, second: Path) -> None:
    """The files hold the same tensors: weights within 1e-5 of each tensor's largest value, Adam's moments
    (squares of gradients summed in another order) within 1e-4."""
    a, b = load_file(str(first)), load_file(str(second))
    assert a.keys() == b.keys()
    for name in a:
        scale = float(a[name].float().abs().max()) or 1.0
        tolerance = 1e-4 if name.startswith("adam/") else 1e-5
        assert float((a[name].float() - b[name].float()).abs().max()) <= tolerance * scale, name


def test_two_processes_train_the_weights_one_does(tmp_path):
    one = _train(tmp_path, "one.safetensors", "--steps", "5")
    two = _train(tmp_path, "two.safetensors", "--steps", "5", processes=2)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    _assert_same_weights(tmp_path / "one.safetensors", tmp_path / "two.safetensors")
    for state in ("one", "two"):
        assert (tmp_path / f"{state}.state.safetensors").exists()
    _assert_same_weights(tmp_path / "one.state.safetensors", tmp_path / "two.state.safetensors")
    assert "trained ode-u-tiny for 5 steps" in two.stdout and two.stdout.count("trained") == 1  # rank 0 alone


def test_a_run_resumes_under_another_number_of_processes(tmp_path):
    assert _train(tmp_path, "whole.safetensors", "--steps", "4").returncode == 0
    first = _train(tmp_path, "split.safetensors", "--steps", "2", processes=2)
    then = _train(tmp_path, "split.safetensors", "--steps", "4", "--resume")
    assert first.returncode == 0 and then.returncode == 0, first.stderr + then.stderr
    _assert_same_weights(tmp_path / "whole.safetensors", tmp_path / "split.safetensors")


def test_a_global_batch_that_does_not_divide_is_refused(tmp_path):
    proc = _train(tmp_path, "odd.safetensors", "--steps", "2", "--batch-size", "7", processes=2)
    assert proc.returncode != 0
    assert "error: --batch-size 7 (the global batch) does not divide over 2 processes" in proc.stderr
    assert "mubench/" not in proc.stderr  # no traceback of mubench's (torchrun prints its own summary)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_rank_ends_the_job_with_its_name_and_leaves_the_files(tmp_path, tree_digest):
    model = "mubench_test_hostile_models:nan_on_rank_1_from_third_call"
    assert _train(tmp_path, "run.safetensors", "--steps", "2", model=model).returncode == 0
    before = tree_digest(tmp_path)
    # resumed on 2 processes: steps 3 and 4 are saved, then rank 1's third call gives NaN at step 5
    proc = _train(tmp_path, "run.safetensors", "--steps", "6", "--save-every", "1", "--resume", processes=2,
                  model=model)  # fmt: skip
    assert proc.returncode != 0
    assert "rank 1 of 2: error: training stopped at step 5: the loss is nan" in proc.stderr, proc.stderr
    assert "mubench/" not in proc.stderr
    assert tree_digest(tmp_path) == before
