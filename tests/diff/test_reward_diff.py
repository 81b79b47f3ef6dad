"""Rewards before and after an edit, on a reward model with one head per principle built here (MiniLM,
``BertForSequenceClassification`` with ``num_labels=K``, its metadata naming the heads).

The folder is loaded by the real ``RewardModel.load``; ``score_heads`` gives every head's reward in the order of
``metadata.heads``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from constitution.cli import main
from constitution.diff import reward_diff
from constitution.loader import load_constitution
from constitution.embedded_models import BACKBONE_ALIAS, ModelNotFoundError, resolve_model
from constitution.reward.metadata import RewardMetadata, write_metadata
from constitution.reward.model import RewardModel

from tests.diff.helpers import WORDS, WordJudge, word_pairs, write_principles

OLD = [("kind", "Which response is more kind?", 1.0), ("short", "Which response is more short?", 1.0), ("polite", "Which response is more polite?", 1.0)]
NEW = [("kind", "Which response is more kind?", 3.0), ("short", "Which response is more short?", 1.0), ("warm", "Which response is more warm?", 1.0)]


@pytest.fixture(scope="module")
def headed_model(tmp_path_factory) -> Path:
    """A MiniLM reward folder with one (randomly initialised) head per word principle, and its metadata."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    try:
        backbone = resolve_model(BACKBONE_ALIAS)
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("headed")
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(backbone, num_labels=len(WORDS))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(backbone).save_pretrained(folder)
    meta = RewardMetadata(base_model=BACKBONE_ALIAS, architecture="BertForSequenceClassification", max_length=64,
                          reward_mean=0.01, reward_std=0.05, heads=list(WORDS))  # fmt: skip
    write_metadata(folder, meta)
    return folder


def test_rewards_and_safety_decisions_under_the_old_and_new_weights(tmp_path: Path, headed_model: Path):
    pairs = word_pairs()[:10]
    before, after = load_constitution(write_principles(tmp_path / "old", OLD)), load_constitution(write_principles(tmp_path / "new", NEW))
    scorer = RewardModel.load(headed_model)
    scores = np.asarray(scorer.score_heads([(p.prompt, r) for p in pairs for r in (p.response_a, p.response_b)]))
    assert scores.shape == (20, 3) and len({round(x, 6) for x in scores[:, 0]}) > 1
    old = scores @ np.array([1.0, 1.0, 1.0]) / 3  # kind, short, polite: the weighted mean
    new = scores @ np.array([3.0, 1.0, 0.0]) / 4  # polite is gone; 'warm' has no head
    unsafe = lambda r: 1.0 / (1.0 + math.exp((r - 0.01) / 0.05))  # noqa: E731 - sigmoid(-(r - mean) / std)
    i = int(np.argmax(np.abs([unsafe(n) - unsafe(o) for o, n in zip(old, new)])))
    scorer.metadata.safety_threshold = (unsafe(old[i]) + unsafe(new[i])) / 2  # "stored": between one response's two scores

    diff = reward_diff(scorer, "rm", pairs, before, after, top=4)

    assert diff.heads == list(WORDS) and diff.principles_without_head == ["warm"] and diff.responses == 20
    assert diff.mean_abs_delta == pytest.approx(np.mean(np.abs(new - old)))
    order = sorted(range(20), key=lambda k: (-abs(new[k] - old[k]), pairs[k // 2].id, k % 2))[:4]  # ties (the same text): by pair id
    assert [(m.pair_id, m.response) for m in diff.moved_most] == [(pairs[k // 2].id, "ab"[k % 2]) for k in order]
    assert [m.reward_new for m in diff.moved_most] == pytest.approx([new[k] for k in order])
    t = diff.threshold
    assert t == scorer.metadata.safety_threshold
    changed = [k for k in range(20) if (unsafe(old[k]) >= t) != (unsafe(new[k]) >= t)]
    assert i in changed and [(m.pair_id, m.response) for m in diff.safety_changed] == [(pairs[k // 2].id, "ab"[k % 2]) for k in changed]
    assert diff.preference_flips == sum((old[2 * j] >= old[2 * j + 1]) != (new[2 * j] >= new[2 * j + 1]) for j in range(10))


def test_cli_model_option_adds_the_reward_diff(tmp_path: Path, headed_model: Path, monkeypatch):
    monkeypatch.setattr("constitution.llm.factory.make_llm", lambda *a, **k: WordJudge())  # a judge the test controls
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": p.id, "prompt": "Say something.", "response_a": p.response_a, "response_b": p.response_b}) + "\n" for p in word_pairs()[:6]))
    old, new = write_principles(tmp_path / "old", OLD), write_principles(tmp_path / "new", NEW)
    assert main(["diff", str(old), str(new), "--pairs", str(pairs), "--out", str(tmp_path / "out"), "--model", str(headed_model), "--no-progress"]) == 0
    report = json.loads((tmp_path / "out" / "diff.json").read_text())
    assert report["rewards"]["responses"] == 12 and report["rewards"]["principles_without_head"] == ["warm"]
    assert "## Rewards" in (tmp_path / "out" / "diff.md").read_text()
