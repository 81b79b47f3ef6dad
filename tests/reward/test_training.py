"""Training learns, the saved folder is a standard transformers model, and it scores like RewardModel."""

from __future__ import annotations

import json

import pytest
import torch


def test_training_learns_the_preference(trained, heldout_pairs):
    from constitution.reward.evaluate import evaluate_pairs
    from constitution.reward.model import RewardModel

    folder, result = trained
    assert result.train_pairs == 34 and result.eval_pairs == 14  # whole prompts held out (10 prompts)
    assert result.train_samples_per_second > 0
    report = evaluate_pairs(RewardModel.load(folder, bf16=False), heldout_pairs)
    assert report.accuracy >= 0.9, report.accuracy


def test_metadata(trained):
    from constitution.reward.metadata import METADATA_FILE, read_metadata

    folder, result = trained
    meta = read_metadata(folder)
    assert (folder / METADATA_FILE).exists()
    assert meta.base_model == "all-minilm-l6-v2" and meta.input_format == "hh" and meta.max_length == 64
    assert meta.pooling == "mean"  # auto -> mean for BERT-like encoders: one extra (standard) encoder layer
    assert meta.constitution_hash == ["c0ffee"]
    assert meta.reward_std > 0 and meta.reward_mean == pytest.approx(result.reward_mean)
    assert meta.training_config["learning_rate"] == 1e-4
    assert meta.temperature == 1.0  # 14 held-out pairs (whole prompts): too few to fit a temperature on one half, report on the other
    assert {"accuracy", "ece", "nll"} <= set(meta.eval_metrics) and "ece_uncalibrated" not in meta.eval_metrics
    assert meta.calibration == result.calibration and (meta.calibration.fit_pairs, meta.calibration.report_pairs) == (0, 14)
    assert "too few" in meta.calibration.ece_is
    assert not (folder / "checkpoints").exists()
    config = json.loads((folder / "config.json").read_text())
    assert len(config["id2label"]) == 1 and config["num_hidden_layers"] == 7


def test_auto_model_scores_equal_reward_model(trained, heldout_pairs):
    """TRL/OpenRLHF-style loading (AutoModel + saved tokenizer, padded batch) gives RewardModel's scores."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.reward.model import RewardModel

    folder, _ = trained
    rm = RewardModel.load(folder, bf16=False)
    items = [(p.prompt, p.response_a) for p in heldout_pairs[:8]]
    texts = rm.texts(items)
    ours = rm.score(items, batch_size=3)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
        theirs = model(**enc).logits[:, 0].tolist()
    assert theirs == pytest.approx(ours, abs=1e-4)
    assert len(set(round(x, 4) for x in ours)) > 1


def test_score_is_order_and_batch_invariant(trained, heldout_pairs):
    from constitution.reward.model import RewardModel

    rm = RewardModel.load(trained[0], bf16=False)
    items = [(p.prompt, p.response_b) for p in heldout_pairs[:6]] + ["\n\nHuman: hi\n\nAssistant: hello there"]
    batched = rm.score(items, batch_size=4)
    single = [rm.score([it], batch_size=1)[0] for it in items]
    assert batched == pytest.approx(single, abs=1e-4)
    norm = rm.score(items, normalize=True)
    m, s = rm.metadata.reward_mean, rm.metadata.reward_std
    assert norm == pytest.approx([(r - m) / s for r in batched], abs=1e-4)


def test_pipeline_compatible(trained):
    from transformers import pipeline

    from constitution.reward.model import RewardModel

    rm = RewardModel.load(trained[0], bf16=False)
    texts = ["\n\nHuman: how do I steal?\n\nAssistant: I can't help with that.", "\n\nHuman: hi\n\nAssistant: yo"]
    pipe = pipeline("text-classification", model=str(trained[0]), device="cpu")
    out = pipe(texts, function_to_apply="none", batch_size=2)
    assert [o["score"] for o in out] == pytest.approx(rm.score(texts), abs=1e-4)
