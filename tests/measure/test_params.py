"""Exact parameter counts: every registry entry against its spec, and the known absolute values."""

from __future__ import annotations

import pytest
from torch import nn

from mubench.measure.counting.params import count_parameters, measure_params
from mubench.registry import get_model, get_spec, list_models
from mubench.results import KEY_COLUMNS


@pytest.fixture(scope="module")
def counts() -> dict[str, dict[str, int]]:
    """Parameter counts of every registered model, each built once."""
    return {name: count_parameters(get_model(name)) for name in list_models()}


@pytest.mark.parametrize("name", list_models())
def test_every_registry_entry_matches_its_expected_params(name, counts):
    spec = get_spec(name)
    assert spec.expected_params is not None, f"{name} states no expected parameter count"
    assert counts[name]["params_total"] == spec.expected_params
    if spec.expected_trainable is not None:
        assert counts[name]["params_trainable"] == spec.expected_trainable
    else:
        assert counts[name]["params_trainable"] == spec.expected_params


@pytest.mark.parametrize(
    ("name", "total", "trainable"),
    [
        ("ddpm-unet", 35_746_307, 35_746_307),
        ("lucid-unet", 35_710_339, 35_710_339),
        ("ode-u-ref", 8_811_875, 8_555_875),
        ("ode-u", 9_449_955, 9_449_955),
    ],
)
def test_known_absolute_counts(name, total, trainable, counts):
    assert counts[name]["params_total"] == total
    assert counts[name]["params_trainable"] == trainable
    assert counts[name]["params_frozen"] == total - trainable


def test_ode_u_ref_frozen_part_is_the_unused_time_table(counts):
    assert counts["ode-u-ref"]["params_frozen"] == 1000 * 256
    assert counts["ode-u"]["params_frozen"] == 0


@pytest.mark.parametrize(("ch", "total"), [(64, 8_952_067), (32, 2_245_763)])
def test_ddpm_unet_width_override(ch, total):
    assert count_parameters(get_model("ddpm-unet", ch=ch))["params_total"] == total


def test_count_parameters_dedups_shared_and_counts_frozen_and_buffers():
    shared = nn.Linear(4, 4)  # 20 parameters
    frozen = nn.Linear(4, 2)  # 10 parameters
    frozen.requires_grad_(False)
    model = nn.Sequential(shared, shared, frozen, nn.BatchNorm1d(2))  # BN: 4 params, 2 + 2 + 1 buffers
    assert count_parameters(model) == {
        "params_total": 20 + 10 + 4,
        "params_trainable": 20 + 4,
        "params_frozen": 10,
        "buffers_total": 5,
    }


def test_lucid_and_ddpm_have_no_buffers(counts):
    assert counts["lucid-unet"]["buffers_total"] == 0
    assert counts["ddpm-unet"]["buffers_total"] == 0


def test_measure_params_row_has_the_design_columns():
    row = measure_params("ode-u-ref-tiny", "run123")
    for column in (*KEY_COLUMNS, "params_total", "params_trainable", "params_frozen", "buffers_total"):
        assert column in row, column
    assert row["command"] == "params"
    assert row["model"] == "ode-u-ref-tiny"
    assert row["run_id"] == "run123"
    assert row["status"] == "ok"
    assert row["params_total"] == 201_995
    assert row["params_trainable"] == 137_995
    assert row["params_frozen"] == 64_000
