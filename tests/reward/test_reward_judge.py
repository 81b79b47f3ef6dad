"""A reward model as the judge (``--backend reward``): p_a = σ((r_a − r_b)/T), per principle from the heads, cached."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.errors import InputError
from constitution.labeling import JudgmentCache, Labeler, LabelConfig, label_pairs
from constitution.labeling.reward_judge import RewardJudge, RewardJudgeConfig
from constitution.model_identity import folder_identity
from constitution.llm import make_llm
from constitution.loader import load_constitution
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_constitution, write_principle_jsonl


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_label_with_a_reward_model_gives_sigmoid_of_the_reward_gap(trained, synthetic_file, tmp_path):
    folder, _ = trained
    out = tmp_path / "labels"
    argv = ["label", str(synthetic_file), "--out", str(out), "--backend", "reward", "--judge", str(folder), "--reward-temperature", "2", "--no-progress"]
    assert main(argv) == 0
    assert main(["score", str(folder), str(synthetic_file), "--out", str(tmp_path / "scores.jsonl")]) == 0
    rewards = {row["id"]: row["reward_a"] - row["reward_b"] for row in _jsonl(tmp_path / "scores.jsonl")}
    labels = _jsonl(out / "labels.jsonl")
    assert len(labels) == len(rewards) == 48
    for label in labels:
        assert label["p_a"] == pytest.approx(_sigmoid(rewards[label["id"]] / 2.0), abs=1e-4)
    assert len({round(label["p_a"], 3) for label in labels}) > 5  # not a constant
    assert main(argv) == 0  # rerun: every judgment comes from the cache
    summary = json.loads((out / "summary.json").read_text())
    assert summary["judgments_computed"] == 0 and summary["judgments_cached"] == summary["judgments"] > 0


def test_a_per_principle_model_answers_each_principle_with_its_head(headed, tmp_path):
    folder, _ = headed
    constitution = load_constitution(write_constitution(tmp_path / "c", TRAIN_WEIGHTS))
    rows = principle_rows(6, 5, TRAIN_WEIGHTS)
    from constitution.data import load_pairs

    pairs = load_pairs(write_principle_jsonl(rows, tmp_path / "pairs.jsonl"))[0]
    judge = make_llm(RewardJudgeConfig(model=str(folder)))
    with JudgmentCache(tmp_path / "cache.sqlite") as cache:
        records, _ = label_pairs(Labeler(constitution, judge, cache, LabelConfig()), pairs)
    heads = judge.model.heads
    scores = judge.model.score_heads([(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs])
    for k, (pair, record) in enumerate(zip(pairs, records)):
        assert set(record.per_principle) == set(heads)
        for j, pid in enumerate(heads):
            assert record.per_principle[pid] == pytest.approx(_sigmoid(scores[k][j] - scores[len(pairs) + k][j]), abs=1e-4)
        weighted = sum(TRAIN_WEIGHTS[pid] * record.per_principle[pid] for pid in heads) / sum(TRAIN_WEIGHTS.values())
        assert record.p_a == pytest.approx(weighted)


def test_a_principle_without_a_head_is_an_input_error(two_heads, tmp_path):
    folder, _ = two_heads
    constitution = load_constitution(write_constitution(tmp_path / "c", TRAIN_WEIGHTS))  # asks `cites` too
    from constitution.data import load_pairs

    pairs = load_pairs(write_principle_jsonl(principle_rows(2, 5, TRAIN_WEIGHTS), tmp_path / "pairs.jsonl"))[0]
    judge = RewardJudge(RewardJudgeConfig(model=str(folder)))
    with JudgmentCache(tmp_path / "cache.sqlite") as cache, pytest.raises(InputError, match="no head for principle 'cites'"):
        label_pairs(Labeler(constitution, judge, cache, LabelConfig()), pairs)
    with pytest.raises(InputError, match="chain-of-thought"):
        Labeler(constitution, judge, JudgmentCache(tmp_path / "c2.sqlite"), LabelConfig(chain_of_thought=True))


def test_the_judge_identity_is_the_folder_content_not_its_path(tmp_path):
    model = tmp_path / "rm"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    copy = shutil.copytree(model, tmp_path / "elsewhere")
    assert folder_identity(model) == folder_identity(copy)
    (copy / "model.safetensors").write_bytes(b"weightz")  # retrained in place
    assert folder_identity(model) != folder_identity(copy)
