"""Diffusion core: schedules against hand-computed values, samplers, the sigma -> t* mapping."""

from __future__ import annotations

import math

import pytest
import torch

from mubench.diffusion.samplers import Sampler, ddim_timesteps, predict_x0_eps
from mubench.diffusion.schedules import NoiseSchedule
from mubench.errors import UsageError


def hand_linear_alpha_bar(t: int, num_steps: int = 1000) -> float:
    betas = [1e-4 + (0.02 - 1e-4) * i / (num_steps - 1) for i in range(num_steps)]
    return math.prod(1 - b for b in betas[: t + 1])


@pytest.mark.parametrize("t", [0, 1, 10, 500, 999])
def test_linear_alpha_bar_matches_hand_computation(t):
    assert NoiseSchedule.create("linear").alpha_bar[t].item() == pytest.approx(
        hand_linear_alpha_bar(t), rel=1e-12
    )


def test_linear_alpha_bar_known_values():
    abar = NoiseSchedule.create("linear").alpha_bar
    assert abar[0].item() == pytest.approx(0.9999, abs=1e-15)
    assert abar[999].item() == pytest.approx(4.0358e-5, rel=1e-3)  # DDPM's well-known final alpha-bar


@pytest.mark.parametrize("name", ["cosine", "sigmoid"])
def test_other_schedules_fall_from_one_towards_zero(name):
    abar = NoiseSchedule.create(name).alpha_bar
    assert abar[0] > 0.999 and abar[-1] < 1e-5
    assert torch.all(abar[1:] < abar[:-1])
    assert abar[499].item() == pytest.approx(0.5, abs=0.01)  # both are symmetric about the middle


def test_posterior_matches_hand_formula():
    s = NoiseSchedule.create("linear")
    t = 57
    beta = 1e-4 + (0.02 - 1e-4) * t / 999
    abar, abar_prev = hand_linear_alpha_bar(t), hand_linear_alpha_bar(t - 1)
    c0, ct, var = s.posterior(t)
    assert c0 == pytest.approx(beta * math.sqrt(abar_prev) / (1 - abar), rel=1e-10)
    assert ct == pytest.approx((1 - abar_prev) * math.sqrt(1 - beta) / (1 - abar), rel=1e-10)
    assert var == pytest.approx(beta * (1 - abar_prev) / (1 - abar), rel=1e-10)
    assert s.posterior(0) == pytest.approx((1.0, 0.0, 0.0))


@pytest.mark.parametrize(
    ("sigma", "t_star"), [(0.02, 8), (0.05, 26), (0.1, 57), (0.15, 88), (0.2, 117), (0.3, 170)]
)
def test_sigma_to_start_step_matches_paper_notes_table(sigma, t_star):
    assert NoiseSchedule.create("linear").step_for_sigma(sigma) == t_star


@pytest.mark.parametrize("sigma", [0.0, -0.1, 1.5])
def test_sigma_outside_pixel_range_is_refused(sigma):
    with pytest.raises(UsageError, match="sigma"):
        NoiseSchedule.create("linear").step_for_sigma(sigma)


def test_parameterisations_invert_each_other():
    x0, eps = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    abar = 0.3
    x_t = math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps
    v = math.sqrt(abar) * eps - math.sqrt(1 - abar) * x0
    for prediction, output in (("eps", eps), ("v", v)):
        got_x0, got_eps = predict_x0_eps(output, x_t, abar, prediction)
        torch.testing.assert_close(got_x0, x0, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_eps, eps, rtol=1e-5, atol=1e-5)


def oracle(x0: torch.Tensor, schedule: NoiseSchedule, prediction: str):
    """A denoiser that knows the clean image: returns the exact eps (or v) for any x_t."""
    abar = schedule.alpha_bar

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = abar[t[0]].item()
        eps = (x_t - math.sqrt(a) * x0) / math.sqrt(1 - a)
        return eps if prediction == "eps" else math.sqrt(a) * eps - math.sqrt(1 - a) * x0

    return model


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize(
    "sampler", [Sampler("ddim", steps=7), Sampler("ddpm"), Sampler("ddim", steps=5, eta=1.0)]
)
def test_samplers_recover_the_clean_image_with_an_oracle(prediction, sampler):
    schedule = NoiseSchedule.create("linear")
    x0 = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 2 - 1
    t_start = 57
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_t = schedule.alpha_bar[t_start].sqrt() * x0 + (1 - schedule.alpha_bar[t_start]).sqrt() * noise
    result = sampler.sample(oracle(x0, schedule, prediction), schedule, x_t, t_start, prediction,
                            torch.Generator().manual_seed(0))  # fmt: skip
    torch.testing.assert_close(result.x0, x0, rtol=1e-6, atol=1e-6)


def test_ddim_with_eta_zero_is_deterministic_and_ddpm_is_seeded():
    schedule = NoiseSchedule.create("linear")
    model = lambda x, t: 0.5 * x  # noqa: E731
    x = torch.randn(1, 3, 8, 8)
    ddim = Sampler("ddim", steps=10)
    a = ddim.sample(model, schedule, x, 100, "eps", torch.Generator().manual_seed(0)).x0
    b = ddim.sample(model, schedule, x, 100, "eps", torch.Generator().manual_seed(1)).x0
    assert torch.equal(a, b)
    ddpm = Sampler("ddpm")
    c = ddpm.sample(model, schedule, x, 20, "eps", torch.Generator().manual_seed(0)).x0
    d = ddpm.sample(model, schedule, x, 20, "eps", torch.Generator().manual_seed(0)).x0
    e = ddpm.sample(model, schedule, x, 20, "eps", torch.Generator().manual_seed(1)).x0
    assert torch.equal(c, d) and not torch.equal(c, e)


def test_samplers_count_denoiser_calls_from_any_start():
    schedule = NoiseSchedule.create("linear")
    calls = []

    def model(x, t):
        calls.append(int(t[0]))
        return torch.zeros_like(x)

    x = torch.randn(1, 3, 4, 4)
    result = Sampler("ddpm").sample(model, schedule, x, 57, "eps")
    assert result.denoiser_calls == 58 == len(calls)
    assert calls == list(range(57, -1, -1))
    calls.clear()
    result = Sampler("ddim", steps=10).sample(model, schedule, x, 999, "eps")
    assert result.denoiser_calls == 10 == len(calls)
    assert calls[0] == 999 and calls[-1] == 0


def test_ddim_timesteps_are_distinct_and_descending():
    steps = ddim_timesteps(57, 20)
    assert steps[0] == 57 and steps[-1] == 0 and len(steps) == 20
    assert all(a > b for a, b in zip(steps, steps[1:]))
    assert ddim_timesteps(3, 4) == [3, 2, 1, 0]


def test_sampler_bad_input():
    with pytest.raises(UsageError, match="sampler"):
        Sampler("euler")
    with pytest.raises(UsageError, match="ddpm sampler runs every step"):
        Sampler("ddpm", steps=50).timesteps(999)
    with pytest.raises(UsageError, match="more than"):
        ddim_timesteps(10, 12)
    with pytest.raises(UsageError, match="positive"):
        Sampler("ddim", steps=0)
    with pytest.raises(UsageError, match="schedule"):
        NoiseSchedule.create("quadratic")
