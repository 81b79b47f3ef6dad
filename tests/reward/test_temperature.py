"""Temperature scaling: the fitted T undoes an over-confident reward scale, folding it into the head is exact, and
the reported calibrated ECE comes from held-out pairs the temperature never saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from constitution.reward.evaluate import calibration
from constitution.reward.temperature import (
    MIN_PAIRS,
    apply_temperature,
    calibration_split,
    fit_temperature,
    heldout_report,
    pair_nll,
    scalar_head,
)


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


def test_calibrated_ece_is_measured_on_pairs_the_temperature_never_saw():
    # The fitting half is over-confident by 3x, the reporting half is calibrated as it is: a temperature fitted on
    # the first half (~3) makes the second half under-confident, which only an out-of-sample ECE shows.
    n, seed = 600, 4
    fit, report = calibration_split(n, seed)
    assert len(fit) + len(report) == n and not set(fit) & set(report)
    rng = np.random.default_rng(0)
    d = rng.normal(0.0, 2.0, size=n)
    over_confidence = np.where(np.isin(np.arange(n), fit), 3.0, 1.0)
    labels = (rng.random(n) < 1 / (1 + np.exp(-d / over_confidence))).astype(float)
    zeros = np.zeros(n)

    metrics, record = heldout_report(d, zeros, labels, calibrate=True, seed=seed)

    temperature = fit_temperature(d[fit], zeros[fit], labels[fit])
    assert record.temperature == temperature and temperature > 2.0
    assert (record.fit_pairs, record.report_pairs) == (len(fit), len(report)) and "out-of-sample" in record.ece_is
    out_of_sample = calibration(d[report] / temperature, zeros[report], labels[report])[0]
    in_sample = calibration(d[fit] / temperature, zeros[fit], labels[fit])[0]
    t_all = fit_temperature(d, zeros, labels)
    fit_and_report_on_all = calibration(d / t_all, zeros, labels)[0]
    assert metrics["ece"] == pytest.approx(out_of_sample)
    assert abs(out_of_sample - in_sample) > 0.05 and abs(out_of_sample - fit_and_report_on_all) > 0.05
    assert metrics["ece_uncalibrated"] == pytest.approx(calibration(d[report], zeros[report], labels[report])[0])
    assert metrics["nll"] == pytest.approx(pair_nll(d[report] / temperature, labels[report]))
    assert metrics["accuracy"] == pytest.approx(np.mean((d > 0) == (labels > 0.5)))  # all held-out pairs


def test_too_few_heldout_pairs_report_uncalibrated_figures_and_say_so():
    rng = np.random.default_rng(1)
    n = 2 * MIN_PAIRS - 1
    d, labels = rng.normal(0.0, 3.0, size=n), (rng.random(n) < 0.5).astype(float)
    metrics, record = heldout_report(d, np.zeros(n), labels, calibrate=True, seed=0)
    assert (record.temperature, record.fit_pairs, record.report_pairs) == (1.0, 0, n)
    assert "uncalibrated" in record.ece_is and "too few" in record.ece_is
    assert "ece_uncalibrated" not in metrics and metrics["ece"] == pytest.approx(calibration(d, np.zeros(n), labels)[0])
    _, off = heldout_report(d, np.zeros(n), labels, calibrate=False, seed=0)
    assert off.fit_pairs == 0 and "off" in off.ece_is
