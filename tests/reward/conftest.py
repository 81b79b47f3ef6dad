"""Reward-test fixtures: synthetic pairs and ONE tiny MiniLM reward model trained for the whole session; synthetic
per-principle data and three small models trained on it once (three heads; one scalar head on the same pairs; two
heads, to add the third later)."""

from __future__ import annotations

import pytest

from tests.reward.reward_helpers import synthetic_rows, write_jsonl
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_constitution, write_principle_jsonl


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory):
    return write_jsonl(synthetic_rows(48, seed=1), tmp_path_factory.mktemp("data") / "pairs.jsonl")


@pytest.fixture(scope="session")
def heldout_pairs(tmp_path_factory):
    from constitution.data import load_pairs

    path = write_jsonl(synthetic_rows(24, seed=7, soft=1.0), tmp_path_factory.mktemp("heldout") / "test.jsonl")
    return load_pairs(path)[0]


@pytest.fixture(scope="session")
def trained(minilm_path, synthetic_file, tmp_path_factory):
    """(folder, TrainResult) of a MiniLM reward model trained a few steps on the synthetic pairs."""
    from constitution.data import load_pairs
    from constitution.reward.config import RewardTrainingConfig
    from constitution.data.rows import constitution_hashes
    from constitution.reward.trainer import train_reward_model

    out = tmp_path_factory.mktemp("rm")
    config = RewardTrainingConfig(max_length=64, epochs=2, batch_size=8, learning_rate=1e-4, eval_fraction=0.25)
    result = train_reward_model(
        config, load_pairs(synthetic_file)[0], out, constitution_hash=constitution_hashes(synthetic_file)
    )
    return out, result



@pytest.fixture(scope="session")
def heads_root(tmp_path_factory):
    """Training pairs (two of the three principles judge each one, as the `k` sampling rule does) and
    constitutions: the training one, one without `cites`, one with `concise` at weight 0."""
    root = tmp_path_factory.mktemp("heads")
    write_principle_jsonl(principle_rows(120, 0, TRAIN_WEIGHTS, judged=2), root / "train.jsonl")
    write_constitution(root / "train_c", TRAIN_WEIGHTS)
    write_constitution(root / "no_cites", {"polite": 1.0, "concise": 3.0})
    write_constitution(root / "concise_off", {**TRAIN_WEIGHTS, "concise": 0.0})
    return root


def _train(root, out_name: str, constitution: str, heads: str):
    from constitution.loader import load_constitution
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.principle_pairs import load_principle_pairs
    from constitution.reward.trainer import train_reward_model

    config = RewardTrainingConfig(heads=heads, max_length=64, epochs=2, batch_size=16, learning_rate=1e-4, eval_fraction=0.2)
    out = root / out_name
    result = train_reward_model(
        config, load_principle_pairs(root / "train.jsonl"), out, constitution=load_constitution(root / constitution)
    )
    return out, result


@pytest.fixture(scope="session")
def headed(minilm_path, heads_root):
    """(folder, TrainResult): one head per principle, trained with the training constitution."""
    return _train(heads_root, "headed", "train_c", "per_principle")


@pytest.fixture(scope="session")
def scalar(minilm_path, heads_root):
    """(folder, TrainResult): one scalar head trained on the same pairs' ensembled labels p_a."""
    return _train(heads_root, "scalar", "train_c", "scalar")


@pytest.fixture(scope="session")
def two_heads(minilm_path, heads_root):
    """(folder, TrainResult): heads for `polite` and `concise` only (the `cites` labels are ignored)."""
    return _train(heads_root, "two_heads", "no_cites", "per_principle")


@pytest.fixture(scope="session")
def test_rows():
    """Held-out rows judged by every principle (seed and responses unseen in training)."""
    return principle_rows(160, 99, TRAIN_WEIGHTS, judged=3)
