"""The reward of a per-principle model is on the labels' scale: the weighted *mean* of its heads, as ``p_a`` is the
weighted mean of the principles' labels. Two heads that both equal one scalar head, at any equal (or unequal)
weights, give exactly that head's gaps, accuracy, ECE and NLL — in the model, in the training metrics and in the
exported scalar folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from constitution.cli import main
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_principle_jsonl


def _items(rows: list[dict]) -> list:
    return [(r["prompt"], r["response_a"]) for r in rows] + [(r["prompt"], r["response_b"]) for r in rows]


def test_equal_heads_give_the_metrics_of_one_head_whatever_the_weights():
    from constitution.reward.evaluate import preference_metrics
    from constitution.reward.head_eval import head_metrics

    rng = np.random.default_rng(0)
    one = rng.normal(size=(200, 1, 2))  # pairs × 1 head × (a, b)
    p_a = rng.uniform(size=200)
    single = preference_metrics(one[:, 0, 0], one[:, 0, 1], p_a)
    both = np.repeat(one, 2, axis=1)
    mask, p = np.ones((200, 2)), np.repeat(p_a[:, None], 2, axis=1)
    for weights in ([1.0, 1.0], [2.0, 2.0], [1.0, 3.0]):
        metrics = head_metrics(both, p, mask, p_a, np.asarray(weights))
        assert {k: metrics[k] for k in single} == pytest.approx(single, rel=1e-12), weights


def _two_heads(scalar_folder, out, weights: tuple[float, float]):
    """A per-principle folder whose two heads are both copies of the scalar model's head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.reward.metadata import HeadInfo, read_metadata
    from constitution.reward.publish import write_folder
    from constitution.reward.temperature import replace_head, scalar_head

    model = AutoModelForSequenceClassification.from_pretrained(scalar_folder, dtype=torch.float32)
    old = scalar_head(model)
    new = torch.nn.Linear(old.in_features, 2, bias=old.bias is not None)
    with torch.no_grad():
        new.weight.copy_(old.weight.repeat(2, 1))
        if old.bias is not None:
            new.bias.copy_(old.bias.repeat(2))
    replace_head(model, old, new)
    model.config.id2label, model.config.label2id = {0: "x", 1: "y"}, {"x": 0, "y": 1}
    meta = read_metadata(scalar_folder)
    meta.heads = ["x", "y"]
    meta.head_info = {"x": HeadInfo(weight=weights[0]), "y": HeadInfo(weight=weights[1])}
    write_folder(out, model, AutoTokenizer.from_pretrained(scalar_folder), meta)
    return out


def test_two_equal_heads_score_and_export_as_the_one_head(scalar, tmp_path, capsys):
    from constitution.reward.evaluate import evaluate_pairs
    from constitution.reward.model import RewardModel
    from constitution.reward.principle_pairs import load_principle_pairs

    rows = principle_rows(40, 31, TRAIN_WEIGHTS)
    pairs = load_principle_pairs(write_principle_jsonl(rows, tmp_path / "pairs.jsonl"))
    one = RewardModel.load(scalar[0], bf16=False)
    expected = one.score(_items(rows))
    reference = evaluate_pairs(one, pairs)
    for weights in ((1.0, 1.0), (2.0, 2.0), (1.0, 3.0)):
        folder = _two_heads(scalar[0], tmp_path / f"two-{weights[0]}-{weights[1]}", weights)
        two = RewardModel.load(folder, bf16=False)
        assert two.score(_items(rows)) == pytest.approx(expected, abs=1e-6), weights
        report = evaluate_pairs(two, pairs)
        assert (report.accuracy, report.ece, report.nll) == pytest.approx((reference.accuracy, reference.ece, reference.nll), abs=1e-6)
    out = tmp_path / "exported"
    assert main(["export", str(folder), "--scalar", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == {"x": 0.25, "y": 0.75}
    assert RewardModel.load(out, bf16=False).score(_items(rows)) == pytest.approx(expected, abs=1e-5)
