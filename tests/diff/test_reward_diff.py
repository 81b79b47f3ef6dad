"""Rewards before and after an edit, on a reward model with one head per principle built here (MiniLM,
``BertForSequenceClassification`` with ``num_labels=K``, its metadata naming the heads).

The contract is ``RewardModel.score_heads(items, batch_size=...)`` in the order of ``metadata.heads``. Until that
method is merged (another branch builds it), the model folder is loaded by :class:`_HeadedStandIn`: the real
``RewardModel`` (tokenizer, input text, truncation) with ``score_heads`` written after the contract. Once it is,
the real ``RewardModel.load`` is used and the CLI test runs too.
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
from constitution.reward.inputs import pad_batch
from constitution.reward.metadata import RewardMetadata, read_metadata, write_metadata
from constitution.reward.model import RewardModel

from tests.diff.helpers import WORDS, WordJudge, word_pairs, write_principles

HEADED = hasattr(RewardModel, "score_heads")
OLD = [("kind", "Which response is more kind?", 1.0), ("short", "Which response is more short?", 1.0), ("polite", "Which response is more polite?", 1.0)]
NEW = [("kind", "Which response is more kind?", 3.0), ("short", "Which response is more short?", 1.0), ("warm", "Which response is more warm?", 1.0)]


class _HeadedStandIn(RewardModel):
    """RewardModel with ``score_heads`` as the contract states it: every head's logit, in ``metadata.heads`` order."""

    @classmethod
    def load_headed(cls, folder: Path) -> _HeadedStandIn:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
        return cls(model, AutoTokenizer.from_pretrained(folder), read_metadata(folder), bf16=False)

    @torch.inference_mode()
    def score_heads(self, items, *, batch_size: int = 64) -> list[list[float]]:
        ids = self.encode(items)
        rows: list[list[float]] = []
        for start in range(0, len(ids), batch_size):
            rows += self.model(**pad_batch(ids[start : start + batch_size], self.tokenizer.pad_token_id)).logits.float().tolist()
        return rows


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


def _load(folder: Path):
    return RewardModel.load(folder) if HEADED else _HeadedStandIn.load_headed(folder)


def test_rewards_and_safety_decisions_under_the_old_and_new_weights(tmp_path: Path, headed_model: Path):
    pairs = word_pairs()[:10]
    before, after = load_constitution(write_principles(tmp_path / "old", OLD)), load_constitution(write_principles(tmp_path / "new", NEW))
    scorer = _load(headed_model)
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


@pytest.mark.skipif(not HEADED, reason="RewardModel.score_heads (per-principle heads) is not merged yet")
def test_cli_model_option_adds_the_reward_diff(tmp_path: Path, headed_model: Path, monkeypatch):
    monkeypatch.setattr("constitution.llm.factory.make_llm", lambda *a, **k: WordJudge())  # a judge the test controls
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": p.id, "prompt": "Say something.", "response_a": p.response_a, "response_b": p.response_b}) + "\n" for p in word_pairs()[:6]))
    old, new = write_principles(tmp_path / "old", OLD), write_principles(tmp_path / "new", NEW)
    assert main(["diff", str(old), str(new), "--pairs", str(pairs), "--out", str(tmp_path / "out"), "--model", str(headed_model), "--no-progress"]) == 0
    report = json.loads((tmp_path / "out" / "diff.json").read_text())
    assert report["rewards"]["responses"] == 12 and report["rewards"]["principles_without_head"] == ["warm"]
    assert "## Rewards" in (tmp_path / "out" / "diff.md").read_text()
