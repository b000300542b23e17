"""Suites: parsing and checking suite files, running them into a folder, resuming an interrupted run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from mubench.cli.app import app
from mubench.errors import UsageError
from mubench.measure.counting import params as params_module
from mubench.results import SCHEMA_VERSION, read_results
from mubench.suite import tables
from mubench.suite.spec import load_suite

TINY = '["lucid-unet-tiny", "ode-u-tiny"]'


def write(tmp_path: Path, body: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_tables_expand_into_items(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            f"""
            [suite]
            name = "demo"
            [defaults]
            models = {TINY}
            resolution = 32
            seed = 1
            [[params]]
            [[flops]]
            steps = [1, 1000]
            [[latency]]
            batch_size = [1, 8]
            dtype = "fp32"
            [[robustness]]
            sigma = [0.1, 0.3]
            reference = ["identity"]
            """,
        )
    )
    assert suite.name == "demo"
    kinds_ = [item.measurement for item in suite.items]
    # params and flops: one item per model (x 2 steps values); latency and robustness measure the models
    # together (round-robin timing, shared noisy images): one item per condition.
    assert kinds_ == ["params"] * 2 + ["flops"] * 4 + ["latency"] * 2 + ["robustness"] * 2
    flops = [item for item in suite.items if item.measurement == "flops"]
    assert [(i.models, i.conds.steps, i.conds.resolution, i.conds.seed) for i in flops] == [
        (("lucid-unet-tiny",), 1, 32, 1),
        (("ode-u-tiny",), 1, 32, 1),
        (("lucid-unet-tiny",), 1000, 32, 1),
        (("ode-u-tiny",), 1000, 32, 1),
    ]
    latency = [item for item in suite.items if item.measurement == "latency"]
    assert [i.conds.batch_size for i in latency] == [1, 8]
    assert all(i.models == ("lucid-unet-tiny", "ode-u-tiny") for i in latency)
    robustness = [item for item in suite.items if item.measurement == "robustness"]
    assert [i.conds.sigmas for i in robustness] == [(0.1,), (0.3,)]
    assert robustness[0].conds.references == ("identity",)
    assert not hasattr(suite.items[0].conds, "resolution")  # params takes no conditions: defaults skip it
    assert len({item.item_id for item in suite.items}) == len(suite.items)


def test_compile_options_reach_the_conditions_in_any_order(tmp_path):
    table = "[[latency]]\nmodels = {}\ncompile = true\ncompile-option = {}\n"
    first = load_suite(write(tmp_path, table.format(TINY, '["freezing=true", "cpp_wrapper=true"]'), "a.toml"))
    other = load_suite(write(tmp_path, table.format(TINY, '["cpp_wrapper=true", "freezing=true"]'), "b.toml"))
    (item,) = first.items
    assert item.conds.compile_options == (("cpp_wrapper", True), ("freezing", True))
    assert item.conds.mode() == "compile(cpp_wrapper=True,freezing=True)"
    assert [i.item_id for i in other.items] == [item.item_id]  # the same settings are the same item
    orders = ('["freezing=true", "cpp_wrapper=true"]', '["cpp_wrapper=true", "freezing=true"]')
    both = write(tmp_path, "".join(table.format(TINY, order) for order in orders))
    with pytest.raises(UsageError, match="repeat"):
        load_suite(both)


def test_prepack_reaches_the_conditions_and_the_mode(tmp_path):
    suite = load_suite(
        write(tmp_path, f"[[latency]]\nmodels = {TINY}\nchannels-last = true\nprepack = [false, true]\n")
    )
    assert [(i.conds.prepack, i.conds.mode()) for i in suite.items] == [
        (False, "channels_last"),
        (True, "channels_last+prepack"),
    ]


def test_item_ids_depend_on_what_is_measured_only(tmp_path):
    a = load_suite(write(tmp_path, f"[[flops]]\nmodels = {TINY}\nsteps = 10\n", "a.toml"))
    b = load_suite(
        write(tmp_path, f'[suite]\nname = "x"\n[[flops]]\nsteps = 10\nmodels = {TINY}\n', "b.toml")
    )
    c = load_suite(write(tmp_path, f"[[flops]]\nmodels = {TINY}\nsteps = 11\n", "c.toml"))
    assert [i.item_id for i in a.items] == [i.item_id for i in b.items]
    assert not {i.item_id for i in a.items} & {i.item_id for i in c.items}


def test_device_option_replaces_the_latency_device(tmp_path):
    path = write(tmp_path, f'[[latency]]\nmodels = {TINY}\ndevice = "cuda"\n[[flops]]\nmodels = {TINY}\n')
    suite = load_suite(path, device="cpu")
    assert [getattr(i.conds, "device", None) for i in suite.items] == ["cpu", None, None]


def test_only_keeps_the_tables_of_the_measurements_named(tmp_path, runner, clean_exit):
    path = write(
        tmp_path, f"[[params]]\nmodels = {TINY}\n[[flops]]\nmodels = {TINY}\n[[latency]]\nmodels = {TINY}\n"
    )
    kept = load_suite(path, only=("flops", "latency")).items
    assert [i.measurement for i in kept] == ["flops", "flops", "latency"]
    with pytest.raises(UsageError, match="only speed: not a measurement"):
        load_suite(path, only=("speed",))
    with pytest.raises(UsageError, match=r"no \[\[robustness\]\] tables"):
        load_suite(path, only=("robustness",))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_suite_for_a_missing_gpu_is_refused_before_running(tmp_path):
    with pytest.raises(UsageError, match=r"\[\[latency\]\] #1: device cuda: CUDA is not available"):
        load_suite(write(tmp_path, f"[[latency]]\nmodels = {TINY}\n"), device="cuda")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[[flops]\nmodels = []", "not valid TOML"),
        (
            f"[[latency]]\nmodels = {TINY}\nbatchsize = 2",
            "[[latency]] #1: unknown key 'batchsize'; known keys:",
        ),
        (
            f"[[flops]]\nmodels = {TINY}\n[[flops]]\nmodels = {TINY}\ntier = 3",
            "[[flops]] #2: 'tier' must be a string",
        ),
        (f"[[latency]]\nmodels = {TINY}\nbatch-size = 'eight'", "'batch-size' must be an integer"),
        (f"[[latency]]\nmodels = {TINY}\ncompile = 1", "'compile' must be true or false"),
        (
            f"[[latency]]\nmodels = {TINY}\nprepack = true\ndtype = 'bf16'",
            "[[latency]] #1: prepack runs float32 convolutions; drop it for dtype bf16",
        ),
        (f"[[latency]]\nmodels = {TINY}\ncompile-option = ['freezing=true']", "only applies with compile"),
        (
            f"[[latency]]\nmodels = {TINY}\ncompile = true\ncompile-option = []",
            "'compile-option' is an empty list",
        ),
        (
            f"[[latency]]\nmodels = {TINY}\ncompile = true\ncompile-option = 'freezing=true'",
            "a list of strings",
        ),
        (
            f"[[latency]]\nmodels = {TINY}\ncompile = true\ncompile-option = ['no_such_setting=1']",
            "[[latency]] #1: compile-option: torch._inductor.config has no setting 'no_such_setting'",
        ),
        (f"[[latency]]\nmodels = {TINY}\nbatch-size = []", "'batch-size' is an empty list"),
        (f"[[robustness]]\nmodels = {TINY}\nreference = 'identity'", "'reference' must be a list of strings"),
        (f"[[benchmark]]\nmodels = {TINY}", "unknown table 'benchmark'"),
        ('[suite]\nname = "x"\nowner = "me"', "[suite]: unknown key 'owner'"),
        (
            "[defaults]\nsigmas = [0.1]\n[[params]]\nmodels = ['ode-u']",
            "[defaults]: key 'sigmas' is not accepted",
        ),
        ("[[params]]\n", "[[params]] #1: give the models to measure"),
        ("[[params]]\nmodels = ['no-such-model']", "[[params]] #1: unknown model 'no-such-model'"),
        (f"[[latency]]\nmodels = {TINY}\nsteps = 0", "[[latency]] #1: steps must be positive"),
        (f"[[flops]]\nmodels = {TINY}\nresolution = 30", "needs a resolution that is a multiple of"),
        (f"[[robustness]]\nmodels = {TINY}\nsigma = 2.0", "sigma must be in (0, 1]"),
        (f"[[robustness]]\nmodels = {TINY}\ndataset = 'imagenet'", "[[robustness]] #1: unknown dataset"),
        (
            f"[[params]]\nmodels = {TINY}\n[[params]]\nmodels = ['ode-u-tiny']",
            "[[params]] #2 repeats [[params]] #1",
        ),
        ("", "no measurement tables"),
        (f"[[latency]]\nmodels = {TINY}\ndtype = 'fp64'", "[[latency]] #1: unknown dtype 'fp64'"),
        (f"[[latency]]\nmodels = {TINY}\nthreads = 0", "[[latency]] #1: threads must be positive"),
        ("[[robustness]]\nmodels = ['ode-u']", "[[robustness]] #1: no checkpoint for ode-u: pass checkpoint"),
        (
            f"[[robustness]]\nmodels = {TINY}\ncheckpoint = ['ode-u-tiny=missing.safetensors']",
            "missing.safetensors' does not exist",
        ),
        ("[[params]]\nmodels = ['ode-u', 'ode-u']", "[[params]] #1: models ode-u given more than once"),
    ],
)
def test_bad_suite_files_get_one_line_naming_file_and_key(body, needle, runner, tmp_path, clean_exit):
    path = write(tmp_path, body)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "-q"])
    clean_exit(result, 2)
    line = result.output.strip()
    assert len(line.splitlines()) == 1, line
    assert line.startswith(f"error: {path}") or line.startswith(f"error: cannot read {path}"), line
    assert needle in line, line
    assert not (tmp_path / "out").exists()  # nothing written before the file checks out


def test_missing_suite_file(runner, tmp_path, clean_exit):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out")])
    clean_exit(result, 2)
    assert "suite file" in result.output and "not found" in result.output


SUITE = f"""
[suite]
name = "small"
[[params]]
models = {TINY}
[[flops]]
models = {TINY}
resolution = 32
steps = 1000
note = "MACs x 1000 steps"
"""


def test_run_writes_every_file_and_row(runner, tmp_path, clean_exit):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(write(tmp_path, SUITE)), "--out", str(out), "-q"])
    clean_exit(result, 0)
    assert sorted(p.name for p in out.iterdir()) == [
        "environment.json", "flops.csv", "params.csv", "results.csv", "suite.toml"
    ]  # fmt: skip
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 2 + 4  # 2 params rows, 2 models x (fvcore, torch) flops rows
    assert set(rows["suite"]) == {"small"} and rows["suite_item"].nunique() == 4
    assert (rows["status"] == "ok").all()
    flops = pd.read_csv(out / "flops.csv")
    assert len(flops) == 4 and "params_expected" not in flops  # only the columns flops fills
    assert set(flops["suite_note"]) == {"MACs x 1000 steps"}
    fv = flops[flops["counter"] == "fvcore"].set_index("model")
    assert (fv["macs_per_trajectory"] == fv["macs"] * 1000).all()
    assert (out / "suite.toml").read_text() == textwrap.dedent(SUITE)
    text = (out / "results.csv").read_text()  # whole numbers stay whole beside rows that lack them
    assert ",1000," in text and "1000.0" not in text and "655171.0" not in text


@pytest.mark.parametrize("name", ["results.csv", "params.csv", "environment.json", "suite.toml"])
def test_existing_results_are_never_overwritten_without_resume(name, runner, tmp_path, clean_exit):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("precious\n")
    result = runner.invoke(app, ["run", str(write(tmp_path, SUITE)), "--out", str(out), "-q"])
    clean_exit(result, 2)
    assert f"already holds {name}" in result.output and "--resume" in result.output
    assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == "precious\n"


def test_a_suite_name_that_is_not_a_plain_folder_name_is_refused(runner, tmp_path, clean_exit):
    result = runner.invoke(
        app, ["run", str(write(tmp_path, '[suite]\nname = "../x"\n[[params]]\nmodels = ["ode-u"]'))]
    )
    clean_exit(result, 2)
    assert "[suite]: name '../x' must be" in result.output


def recorded(calls: list, real):
    """``real`` (the suite's measure), noting each call's measurement name and models in ``calls``."""

    def measure(measurement, models, *rest):
        calls.append((measurement.name, models))
        return real(measurement, models, *rest)

    return measure


def test_interrupted_run_keeps_finished_rows_and_resume_runs_the_rest(
    runner, tmp_path, monkeypatch, clean_exit
):
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    real = tables.measure
    calls: list[tuple[str, tuple]] = []

    def interrupted_at_third(measurement, models, conds, run_id, tick):
        calls.append((measurement.name, tuple(models)))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(measurement, models, conds, run_id, tick)

    monkeypatch.setattr("mubench.suite.runner.measure", interrupted_at_third)
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-q"])
    clean_exit(result, 130)  # interrupted, not crashed
    assert f"the finished items are in {out}/ (add --resume" in " ".join(result.output.split())
    first = pd.read_csv(out / "results.csv")
    assert list(first["command"]) == ["params", "params"]  # the two finished items, nothing half-written
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    calls.clear()
    monkeypatch.setattr("mubench.suite.runner.measure", recorded(calls, real))
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--resume", "-q"])
    assert result.exit_code == 0, result.output
    assert [(kind, tuple(models)) for kind, models in calls] == [
        ("flops", ("lucid-unet-tiny",)),
        ("flops", ("ode-u-tiny",)),
    ]  # only what had not finished
    rows = pd.read_csv(out / "results.csv")
    assert list(rows["command"]) == ["params"] * 2 + ["flops"] * 4
    kept = ["model", "run_id", "timestamp", "params_total"]  # same run and time: kept, not re-measured
    assert rows.iloc[:2][kept].values.tolist() == first[kept].values.tolist()
    assert rows["run_id"].nunique() == 4  # one per item
    assert "done before" in result.output


def test_a_failed_item_becomes_error_rows_the_suite_goes_on_and_resume_retries_it(
    runner, tmp_path, monkeypatch, clean_exit
):
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    real = params_module.measure_params

    def broken_for_ode(name, run_id):
        if name == "ode-u-tiny":
            raise RuntimeError("boom")
        return real(name, run_id)

    monkeypatch.setattr(params_module, "measure_params", broken_for_ode)
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-q"])
    clean_exit(result, 1)
    rows = pd.read_csv(out / "results.csv", keep_default_na=False)
    failed = rows[rows["status"] == "error"]
    assert list(failed["model"]) == ["ode-u-tiny"] and "RuntimeError: boom" in failed["message"].iloc[0]
    assert len(rows[rows["command"] == "flops"]) == 4  # the items after it ran

    monkeypatch.setattr(params_module, "measure_params", real)
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--resume", "-q"])
    clean_exit(result, 0)
    rows = pd.read_csv(out / "results.csv")
    assert (rows["status"] == "ok").all() and len(rows) == 6
    assert rows.loc[rows["command"] == "params", "model"].tolist() == ["lucid-unet-tiny", "ode-u-tiny"]


def test_resume_reruns_oom_items_and_keeps_rows_of_items_it_does_not_run(
    runner, tmp_path, monkeypatch, clean_exit
):
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    clean_exit(runner.invoke(app, ["run", str(path), "--out", str(out), "-q"]), 0)
    rows = pd.read_csv(out / "results.csv", keep_default_na=False)
    rows.loc[rows["command"] == "params", "status"] = ["oom", "error"]
    rows.to_csv(out / "results.csv", index=False)

    calls = []
    real = tables.measure
    monkeypatch.setattr("mubench.suite.runner.measure", recorded(calls, real))
    # Only the flops tables: the failed params items are not run, and their rows stay as they were.
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--resume", "--only", "flops", "-q"])
    clean_exit(result, 1)
    assert calls == []  # every flops item had finished
    kept = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert sorted(kept.loc[kept["command"] == "params", "status"]) == ["error", "oom"]
    assert "2 of them belong to items that are not in" in " ".join(result.output.split())

    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--resume", "-q"])
    clean_exit(result, 0)
    assert [(kind, tuple(models)) for kind, models in calls] == [
        ("params", ("lucid-unet-tiny",)),
        ("params", ("ode-u-tiny",)),
    ]  # oom reruns like error
    assert (pd.read_csv(out / "results.csv")["status"] == "ok").all()


def test_latency_tables_default_to_the_commands_resolution(tmp_path):
    path = write(tmp_path, f"[[latency]]\nmodels = {TINY}\n[[latency]]\nmodels = ['ode-u-tiny']\n")
    together, alone = load_suite(path).items
    assert together.conds.resolution == 64  # as `mubench latency -m A -m B`: the paper's size
    assert alone.conds.resolution is None  # one model: its own size, as the command


@pytest.mark.slow
def test_resume_with_an_edited_suite_keeps_the_earlier_suite_file(runner, tmp_path, clean_exit, monkeypatch):
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    clean_exit(runner.invoke(app, ["run", str(path), "--out", str(out), "-q"]), 0)
    environment = (out / "environment.json").read_text()
    edited = write(tmp_path, SUITE.replace("steps = 1000", "steps = 10"))
    clean_exit(runner.invoke(app, ["run", str(edited), "--out", str(out), "--resume", "-q"]), 0)
    assert (out / "suite.1.toml").read_text() == textwrap.dedent(SUITE)  # behind the rows kept
    assert (out / "suite.toml").read_text() == edited.read_text()
    assert (out / "environment.json").read_text() == environment  # same machine: one file
    monkeypatch.chdir(tmp_path)  # the same file named by a relative path: still the same environment
    clean_exit(runner.invoke(app, ["run", edited.name, "--out", str(out), "--resume", "-q"]), 0)
    assert not (out / "environment.1.json").exists() and not (out / "suite.2.toml").exists()
    assert (out / "environment.json").read_text() != environment  # the path as given this time


def test_item_ids_of_digits_only_read_back_as_text(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "command,model,status,schema_version,suite_item,run_id\n"
        f"params,m,ok,{SCHEMA_VERSION},012345678901,0042\n"
    )
    frame, _ = read_results(path)
    assert frame["suite_item"].tolist() == ["012345678901"] and frame["run_id"].tolist() == ["0042"]


def test_a_device_override_leaves_out_the_tables_that_device_cannot_run(tmp_path, monkeypatch):
    monkeypatch.setattr("mubench.measure.runtime.device.resolve_device", torch.device)  # as on a GPU machine
    body = f"[[latency]]\nmodels = {TINY}\n" * 2 + "channels-last = true\nprepack = true\n"
    suite = load_suite(write(tmp_path, body), device="cuda")
    assert [i.conds.device for i in suite.items] == ["cuda"]
    assert suite.left_out == ("[[latency]] #2: prepack runs on cpu only; left out on device cuda",)
    graphs = f"[[params]]\nmodels = {TINY}\n[[latency]]\nmodels = {TINY}\ncuda-graphs = true\n"
    suite = load_suite(write(tmp_path, graphs, "g.toml"), device="cpu")
    assert [i.measurement for i in suite.items] == ["params", "params"] and len(suite.left_out) == 1
    both = f"[[latency]]\nmodels = {TINY}\nchannels-last = true\nprepack = [false, true]\n"
    suite = load_suite(write(tmp_path, both, "b.toml"), device="cuda")
    assert [i.conds.prepack for i in suite.items] == [False] and len(suite.left_out) == 1
    only_cpu = f"[[latency]]\nmodels = {TINY}\nchannels-last = true\nprepack = true\n"
    with pytest.raises(UsageError, match="nothing to run: \\[\\[latency\\]\\] #1: prepack runs on cpu only"):
        load_suite(write(tmp_path, only_cpu, "c.toml"), device="cuda")
    with pytest.raises(UsageError, match="prepack is a CPU mode"):  # a table that asks for both: an error
        load_suite(write(tmp_path, only_cpu + "device = 'cuda'\n", "d.toml"))


def test_the_paper_suite_loads_for_a_gpu_run(monkeypatch):
    """benchmarks/gpu_paper.sh: `mubench run benchmarks/paper.toml --device cuda --only ...`."""
    monkeypatch.setattr("mubench.measure.runtime.device.resolve_device", torch.device)
    paper = Path(__file__).parents[2] / "benchmarks" / "paper.toml"
    suite = load_suite(paper, device="cuda", only=("params", "flops", "latency"))
    latency = [i for i in suite.items if i.measurement == "latency"]
    assert latency and all(i.conds.device == "cuda" and not i.conds.prepack for i in latency)
    assert len(suite.left_out) == 2  # the two prepacked CPU tables


def test_flags_and_counts_keep_their_type_beside_rows_without_them(tmp_path):
    """A resumed run puts its new rows after the earlier ones, whose flag columns are all missing;
    pandas then turns True into 1.0 and 1000 into 1000.0 (seen in a resumed paper suite)."""
    from mubench.suite.runner import write_folder

    nan = float("nan")
    earlier = pd.DataFrame({"command": ["params"], "call_ms_unstable": [nan], "steps": [nan]})
    new = pd.DataFrame({"command": ["latency"] * 2, "call_ms_unstable": [True, False], "steps": [1000, 1]})
    write_folder(tmp_path, pd.concat([earlier, new], ignore_index=True))
    assert (tmp_path / "latency.csv").read_text().splitlines() == [
        "command,call_ms_unstable,steps",
        "latency,True,1000",
        "latency,False,1",
    ]
    combined = (tmp_path / "results.csv").read_text().splitlines()
    assert combined[1:] == ["params,,", "latency,True,1000", "latency,False,1"]
