"""The model registry: names, specs, user models, entry points."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import pytest
import torch
from torch import nn

from mubench import registry
from mubench.errors import UsageError
from mubench.registry import ModelSpec, get_model, get_spec, list_models, register_model

BUILT_IN = [
    "ddpm-unet",
    "ddpm-unet-tiny",
    "lucid-unet",
    "lucid-unet-tiny",
    "ode-u",
    "ode-u-ref",
    "ode-u-ref-tiny",
    "ode-u-tiny",
]


def test_list_models_has_every_built_in_sorted():
    names = list_models()
    assert names == sorted(names)
    assert set(BUILT_IN) <= set(names)


def test_list_models_include_glob():
    assert list_models("ode-*") == ["ode-u", "ode-u-ref", "ode-u-ref-tiny", "ode-u-tiny"]


def test_list_models_exclude_glob():
    assert list_models("*", exclude="*-tiny") == ["ddpm-unet", "lucid-unet", "ode-u", "ode-u-ref"]


def test_list_models_several_patterns():
    assert list_models(["ddpm-*", "lucid-*"], exclude=["*tiny"]) == ["ddpm-unet", "lucid-unet"]


def test_list_models_no_match_is_empty():
    assert list_models("no-such-*") == []


def test_register_model_refuses_duplicate_of_built_in(clean_registry):
    before = dict(registry._REGISTRY)
    with pytest.raises(ValueError, match="already registered"):
        register_model("ode-u", family="unet", description="impostor")(lambda **kw: nn.Identity())
    assert registry._REGISTRY == before  # the original entry is untouched


def test_register_model_refuses_second_registration(clean_registry):
    @register_model("test-identity", family="unet", description="identity", resolution=8)
    def build(**overrides):
        return nn.Conv2d(3, 3, 1)

    assert "test-identity" in list_models()
    assert get_spec("test-identity").resolution == 8
    with pytest.raises(ValueError, match="test-identity"):
        register_model("test-identity", family="unet", description="again")(build)


def test_get_model_returns_module_in_eval_mode():
    model = get_model("ode-u-tiny")
    assert isinstance(model, nn.Module)
    assert not model.training


@pytest.mark.parametrize("name", ["ode-u-tiny", "ode-u-ref-tiny", "lucid-unet-tiny", "ddpm-unet-tiny"])
def test_models_map_x_t_to_x_shape(name):
    spec = get_spec(name)
    x = torch.randn(2, spec.channels, spec.resolution, spec.resolution)
    with torch.no_grad():
        out = get_model(name)(x, torch.tensor([3, 700]))
    assert out.shape == x.shape


def test_unknown_model_suggests_close_names():
    with pytest.raises(UsageError) as info:
        get_model("ode-uu")
    message = str(info.value)
    assert "unknown model 'ode-uu'" in message
    assert "'ode-u'" in message
    assert "\n" not in message


def test_unknown_model_far_from_everything_has_no_suggestion_but_says_where_to_look():
    with pytest.raises(UsageError) as info:
        get_spec("qqqqqqqq")
    assert "did you mean" not in str(info.value)
    assert "mubench models" in str(info.value)


def test_spec_of_ode_models_carries_solver_defaults():
    for name in ("ode-u", "ode-u-ref"):
        spec = get_spec(name)
        assert spec.is_ode
        assert spec.solver["method"] == "rk4"
        assert spec.solver["steps"] == 1
        assert spec.resolution == 64
        assert spec.resolution_multiple == 16


def test_check_resolution():
    spec = get_spec("ode-u")
    spec.check_resolution(64)
    with pytest.raises(UsageError, match="multiple of 16"):
        spec.check_resolution(60)
    with pytest.raises(UsageError, match="positive"):
        spec.check_resolution(0)


# --- user models: package.module:factory -------------------------------------------------------------


def test_user_model_by_module_factory(user_module):
    ref = f"{user_module}:good"
    spec = get_spec(ref)
    assert spec.family == "user"
    assert spec.description == "A one-conv user model."
    assert spec.resolution == 16  # from the factory's mubench_resolution attribute
    model = get_model(ref)
    assert sum(p.numel() for p in model.parameters()) == 3 * 3 * 9 + 3
    assert ref not in list_models()  # a user reference does not join the registry


def test_user_model_module_that_fails_to_import(user_module):
    with pytest.raises(UsageError, match="cannot import 'mubench_test_broken_module'"):
        get_spec("mubench_test_broken_module:factory")


def test_user_model_missing_module():
    with pytest.raises(UsageError, match="cannot import"):
        get_spec("no_such_module_for_mubench:factory")


def test_user_model_missing_attribute(user_module):
    with pytest.raises(UsageError, match="no attribute 'missing'"):
        get_spec(f"{user_module}:missing")


def test_user_model_not_callable(user_module):
    with pytest.raises(UsageError, match="not callable"):
        get_spec(f"{user_module}:NOT_CALLABLE")


def test_user_factory_returning_non_module(user_module):
    with pytest.raises(UsageError, match="not a torch.nn.Module"):
        get_model(f"{user_module}:not_a_module")


@pytest.mark.parametrize("ref", [":factory", "module:", "module.only:"])
def test_user_model_malformed_reference(ref):
    with pytest.raises(UsageError, match="package.module:factory"):
        get_spec(ref)


# --- entry points ------------------------------------------------------------------------------------


@pytest.fixture
def fake_entry_points(monkeypatch, clean_registry, user_module):
    """Make ``mubench.models`` entry points return what the test sets, and re-read them."""
    found: list[EntryPoint] = []
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    return found


def test_entry_point_model_is_listed_and_built(fake_entry_points, user_module):
    fake_entry_points.append(
        EntryPoint(name="ep-one-conv", value=f"{user_module}:good", group="mubench.models")
    )
    assert "ep-one-conv" in list_models()
    spec = get_spec("ep-one-conv")
    assert spec.name == "ep-one-conv"
    assert spec.family == "user"
    assert isinstance(get_model("ep-one-conv"), nn.Module)


def test_entry_point_may_give_a_spec(fake_entry_points, monkeypatch):
    holder = types.ModuleType("mubench_test_ep_specs")
    holder.SPEC = ModelSpec(
        name="whatever", builder=lambda **kw: nn.Conv2d(3, 3, 1), family="unet", description="a spec",
        expected_params=12,
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "mubench_test_ep_specs", holder)
    fake_entry_points.append(
        EntryPoint(name="ep-spec", value="mubench_test_ep_specs:SPEC", group="mubench.models")
    )
    assert "ep-spec" in list_models("ep-*")
    spec = get_spec("ep-spec")
    assert spec.name == "ep-spec"  # renamed to the entry point's name
    assert spec.expected_params == 12


def test_entry_point_does_not_shadow_built_in(fake_entry_points, user_module):
    fake_entry_points.append(EntryPoint(name="ode-u", value=f"{user_module}:good", group="mubench.models"))
    assert get_spec("ode-u").family == "ode-unet"


def test_broken_entry_point_is_skipped_with_a_warning(fake_entry_points):
    fake_entry_points.append(
        EntryPoint(name="ep-broken", value="mubench_test_broken_module:f", group="mubench.models")
    )
    with pytest.warns(UserWarning, match="ep-broken"):
        names = list_models()
    assert "ep-broken" not in names and "ode-u" in names  # the other models still work
