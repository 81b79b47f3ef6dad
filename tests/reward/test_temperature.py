"""Temperature scaling: the fitted T undoes an over-confident reward scale, and folding it into the head is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from constitution.reward.temperature import MIN_PAIRS, apply_temperature, fit_temperature, pair_nll, scalar_head


def test_fit_recovers_the_over_confidence_factor():
    rng = np.random.default_rng(0)
    true_gap = rng.normal(0.0, 1.5, size=4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_gap))).astype(float)
    temperature = fit_temperature(3.0 * true_gap, np.zeros(4000), labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert pair_nll(3.0 * true_gap / temperature, labels) < pair_nll(3.0 * true_gap, labels)


def test_too_few_or_degenerate_pairs_leave_the_scale_alone():
    assert fit_temperature([1.0] * (MIN_PAIRS - 1), [0.0] * (MIN_PAIRS - 1), [1.0] * (MIN_PAIRS - 1)) == 1.0
    assert fit_temperature([0.0] * 100, [0.0] * 100, [1.0] * 100) == 1.0
    assert fit_temperature([float("nan")] * 100, [0.0] * 100, [1.0] * 100) == 1.0


def test_folding_into_the_head_divides_every_reward():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(5, 4)
    before = model(x).detach()
    apply_temperature(model, 2.5)
    assert scalar_head(model) is model[2]
    assert torch.allclose(model(x), before / 2.5, atol=1e-6)


def test_a_model_without_a_scalar_head_is_refused():
    with pytest.raises(ValueError, match="reward head"):
        scalar_head(torch.nn.Linear(4, 2))
