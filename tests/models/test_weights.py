"""Weights in the registry: each spec's shipped weights against the real files, the pretrained listing,
and the default pairs against the registry's marks."""

from __future__ import annotations

import sys
import types
from importlib import resources
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from safetensors.torch import load_file
from torch import nn

from mubench import registry
from mubench.checkpoints import load_checkpoint, read_meta, shipped_checkpoint, sidecar
from mubench.cli.app import app
from mubench.defaults import DEFAULT_PAIR, SHIPPED_PAIR
from mubench.registry import ModelSpec, get_spec, list_models, paper_pair, pretrained_pair
from mubench.report.measurements.flops import AUTHORS_MACS
from mubench.report.measurements.params import AUTHORS_PARAMS
from mubench.report.verdicts import AUTHORS_MODEL, BASELINE, CANDIDATE, QUALITY_PAIRS

SHIPPED = [(name, w) for name in list_models() for w in get_spec(name).weights]
SHIPPED_IDS = [f"{name}.{w.tag}" for name, w in SHIPPED]


def _spec(name: str, **fields) -> ModelSpec:
    return ModelSpec(name=name, **{"builder": nn.Identity, "family": "unet", "description": "x", **fields})


def test_the_shipped_pair_declares_its_weights():
    assert [name for name, _ in SHIPPED] == ["lucid-unet-tiny", "ode-u-tiny"]


# --- the declared metadata against the files (as torchvision's test_extended_models) -------------------


@pytest.mark.parametrize(("name", "weights"), SHIPPED, ids=SHIPPED_IDS)
def test_weights_file_is_in_the_package(name, weights):
    assert not Path(weights.file).is_absolute() and weights.file.endswith(".safetensors")
    assert weights.path == Path(str(resources.files("mubench") / weights.file))
    assert weights.path.is_file()
    assert sidecar(weights.path).is_file()


@pytest.mark.parametrize(("name", "weights"), SHIPPED, ids=SHIPPED_IDS)
def test_sidecar_agrees_with_the_declared_metadata(name, weights):
    meta = read_meta(weights.path)
    assert meta["model"] == name
    declared = {
        "dataset": weights.dataset,
        "steps": weights.steps,
        "schedule": weights.schedule,
        "prediction": weights.prediction,
        "resolution": weights.resolution,
        "seed": weights.seed,
        "final_loss": weights.final_loss,
    }
    assert {key: meta.get(key) for key in declared} == declared
    assert meta["config"]["dataset"] == weights.dataset and meta["config"]["steps"] == weights.steps


@pytest.mark.parametrize(("name", "weights"), SHIPPED, ids=SHIPPED_IDS)
def test_weights_were_trained_as_the_model_is_registered(name, weights):
    spec = get_spec(name)
    assert (weights.schedule, weights.prediction) == (spec.schedule, spec.prediction)
    spec.check_resolution(weights.resolution)


@pytest.mark.parametrize(("name", "weights"), SHIPPED, ids=SHIPPED_IDS)
def test_weights_load_with_no_missing_or_unexpected_keys(name, weights):
    model = get_spec(name).build()
    result = model.load_state_dict(load_file(str(weights.path)), strict=False)
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    assert load_checkpoint(weights.path, get_spec(name).build(), name)["steps"] == weights.steps


def test_every_weights_file_in_the_package_is_declared():
    folder = Path(str(resources.files("mubench") / "weights"))
    assert sorted(folder.glob("*.safetensors")) == sorted(w.path for _, w in SHIPPED)


# --- resolving through the registry --------------------------------------------------------------------


def test_shipped_checkpoint_is_the_default_weights_file():
    for name in list_models():
        weights = get_spec(name).default_weights
        assert shipped_checkpoint(name) == (weights.path if weights else None)
    assert shipped_checkpoint("ode-u") is None


def test_shipped_checkpoint_follows_the_spec_not_the_file_name(clean_registry):
    lucid = get_spec("lucid-unet-tiny")
    registry.add_spec(_spec("renamed-tiny", builder=lucid.builder, weights=lucid.weights))
    assert shipped_checkpoint("renamed-tiny") == lucid.default_weights.path


def test_list_models_pretrained():
    assert list_models(pretrained=True) == ["lucid-unet-tiny", "ode-u-tiny"]
    assert list_models("ode-*", pretrained=True) == ["ode-u-tiny"]
    assert list_models(exclude="ode-*", pretrained=True) == ["lucid-unet-tiny"]
    assert list_models("ddpm-*", pretrained=True) == []


def test_a_spec_refuses_two_weights_with_one_tag(clean_registry):
    weights = get_spec("ode-u-tiny").default_weights
    spec = _spec("twice", weights=(weights,) * 2)
    with pytest.raises(ValueError, match="tagged alike"):
        registry.add_spec(spec)
    assert "twice" not in list_models()


# --- the default pairs ---------------------------------------------------------------------------------


def test_default_pair_is_the_registrys_paper_pair():
    assert DEFAULT_PAIR == paper_pair()
    assert {get_spec(name).paper_role for name in DEFAULT_PAIR} == {"baseline", "candidate"}
    assert [name for name in list_models() if get_spec(name).paper_role] == sorted(DEFAULT_PAIR)


def test_shipped_pair_is_the_registrys_models_with_weights():
    assert SHIPPED_PAIR == pretrained_pair()
    assert sorted(SHIPPED_PAIR) == list_models(pretrained=True)


def test_claims_compare_the_registrys_pairs():
    assert (BASELINE, CANDIDATE) == paper_pair()
    assert QUALITY_PAIRS == ((CANDIDATE, BASELINE), pretrained_pair()[::-1])


def test_claims_quote_the_authors_counts_from_the_registry():
    ref, base = get_spec(AUTHORS_MODEL), get_spec(BASELINE)
    assert AUTHORS_PARAMS == "24.7% (8,811,875 / 35,710,339; ode-u-ref)"
    assert AUTHORS_MACS == "39.3% (thop MACs 2,830,983,168 / 7,206,256,640)"
    assert f"{ref.expected_params:,} / {base.expected_params:,}" in AUTHORS_PARAMS
    assert f"{ref.paper_macs:,} / {base.paper_macs:,}" in AUTHORS_MACS


@pytest.mark.parametrize("role", ["baseline", "candidate"])
def test_a_paper_role_has_one_holder(clean_registry, role):
    holder = dict(zip(("baseline", "candidate"), paper_pair()))[role]
    spec = _spec("pretender", paper_role=role)
    with pytest.raises(ValueError, match=f"the paper's {role} is already '{holder}'"):
        registry.add_spec(spec)
    assert paper_pair() == DEFAULT_PAIR


def test_an_unknown_paper_role_is_refused(clean_registry):
    spec = _spec("odd", paper_role="referee")
    with pytest.raises(ValueError, match="paper_role 'referee' is none of baseline, candidate"):
        registry.add_spec(spec)


def test_an_entry_point_claiming_a_paper_role_is_skipped(clean_registry, monkeypatch):
    holder = types.ModuleType("mubench_test_ep_roles")
    holder.SPEC = _spec("x", paper_role="baseline")
    monkeypatch.setitem(sys.modules, "mubench_test_ep_roles", holder)
    found = [EntryPoint(name="ep-baseline", value="mubench_test_ep_roles:SPEC", group="mubench.models")]
    monkeypatch.setattr(registry, "entry_points", lambda group: found)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    with pytest.warns(UserWarning, match="skipped model entry point 'ep-baseline'.*already 'lucid-unet'"):
        names = list_models()
    assert "ep-baseline" not in names and paper_pair() == DEFAULT_PAIR


def test_pretrained_pair_names_the_trouble_when_the_weights_do_not_make_a_pair(clean_registry):
    ode = get_spec("ode-u-tiny")
    registry.add_spec(_spec("another-ode", builder=ode.builder, family="ode-unet", weights=ode.weights))
    with pytest.raises(LookupError, match="another-ode, lucid-unet-tiny, ode-u-tiny"):
        pretrained_pair()


# --- mubench models --pretrained -----------------------------------------------------------------------


def test_models_pretrained_lists_the_weights(runner, clean_exit):
    result = runner.invoke(app, ["models", "--pretrained"])
    clean_exit(result, 0)
    lines = [line for line in result.output.splitlines() if "-tiny " in line]
    assert [line.split()[1] for line in lines] == ["lucid-unet-tiny", "ode-u-tiny"]
    for line, (_, weights) in zip(lines, SHIPPED):
        assert weights.tag in line and f" {weights.dataset} " in line and f"{weights.steps:,}" in line
    assert "ode-u-ref" not in result.output and "ddpm-unet" not in result.output
    assert "weights" in result.output and "trained on" in result.output


def test_models_pretrained_takes_the_pattern(runner, clean_exit):
    result = runner.invoke(app, ["models", "--pretrained", "ode-*"])
    clean_exit(result, 0)
    assert " ode-u-tiny " in result.output and "lucid-unet-tiny" not in result.output


def test_models_without_pretrained_has_no_weights_columns(runner, clean_exit):
    result = runner.invoke(app, ["models", "*-tiny"])
    clean_exit(result, 0)
    assert " ode-u-ref-tiny " in result.output and " ddpm-unet-tiny " in result.output
    assert "patches32-1200" not in result.output and "trained on" not in result.output
