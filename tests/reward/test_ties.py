"""A reward tie counts half everywhere (accuracy, calibration bins, per-source and length splits, head agreement), as
in ``bench`` and the length-bias figures: never as "B preferred". Real models, on pairs whose two responses are the
same text, so every reward ties exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from constitution.cli import main
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_principle_jsonl


def _tied_rows(n: int, p_a: float) -> list[dict]:
    """Rows whose response_b is response_a (with a longer twin for the length split) and whose label is ``p_a``."""
    rows = principle_rows(n, 51, TRAIN_WEIGHTS)
    for row in rows:
        row["response_b"] = row["response_a"]
        row["p_a"] = p_a
        row["per_principle"] = {p: p_a for p in TRAIN_WEIGHTS}
    return rows


@pytest.mark.parametrize("p_a", [0.2, 0.8])
def test_eval_counts_a_reward_tie_half_whichever_side_the_label_prefers(scalar, tmp_path, capsys, p_a):
    data = write_principle_jsonl(_tied_rows(12, p_a), tmp_path / "tied.jsonl")
    assert main(["eval", str(scalar[0]), str(data)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == 0.5
    assert report["bins"] == [{"lo": 0.5, "hi": 0.55, "n": 12, "confidence": 0.5, "accuracy": 0.5}]
    assert report["ece"] == pytest.approx(0.0)
    assert [s["accuracy"] for s in report["per_source"].values()] == [0.5]


def test_head_agreement_counts_a_tie_half(headed, tmp_path):
    from constitution.reward.head_eval import heads_report
    from constitution.reward.model import RewardModel
    from constitution.reward.principle_pairs import load_principle_pairs

    pairs = load_principle_pairs(write_principle_jsonl(_tied_rows(6, 0.2), tmp_path / "tied.jsonl"))
    report = heads_report(RewardModel.load(headed[0], bf16=False), pairs)
    assert report.accuracy == 0.5
    assert [p.agreement for p in report.principles] == [0.5, 0.5, 0.5]


def test_accuracy_helpers_count_ties_half():
    from constitution.reward.evaluate import correctness, preference_metrics

    d, p = np.asarray([1.0, -1.0, 0.0, 0.0]), np.asarray([0.9, 0.9, 0.9, 0.1])
    assert correctness(d, p).tolist() == [1.0, 0.0, 0.5, 0.5]
    assert preference_metrics(d, np.zeros(4), p)["accuracy"] == pytest.approx(0.5)
