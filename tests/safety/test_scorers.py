"""One unsafe-score formula, one threshold rule, and eval-safety's data as arguments."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.safety.scorers import resolve_threshold, unsafe_score


def test_a_stored_threshold_of_zero_is_a_threshold():
    assert resolve_threshold(None, 0.0) == 0.0  # was `stored or 0.5`: a calibrated 0.0 became 0.5
    assert resolve_threshold(0.3, 0.0) == 0.3
    assert resolve_threshold(None, None) == 0.5
    assert resolve_threshold(0.0, 0.7) == 0.0


def test_unsafe_score_is_sigmoid_of_minus_the_reward_without_overflow():
    assert unsafe_score(0.0) == 0.5
    assert unsafe_score(2.0) == pytest.approx(1 / (1 + math.exp(2.0)))
    assert unsafe_score(-2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert unsafe_score(1e4) == pytest.approx(0.0, abs=1e-300) and unsafe_score(-1e4) == 1.0


def test_eval_safety_needs_its_data_as_arguments(tmp_path: Path, reward_folder, capsys):
    assert main(["eval-safety", "--model", str(reward_folder)]) == 2
    assert "--moderation FILE and/or --xstest FILE" in capsys.readouterr().err
    missing = tmp_path / "nope.jsonl"
    assert main(["eval-safety", "--model", str(reward_folder), "--moderation", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
