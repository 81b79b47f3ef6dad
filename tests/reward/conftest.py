"""Reward-test fixtures: synthetic pairs and ONE tiny MiniLM reward model trained for the whole session."""

from __future__ import annotations

import pytest

from tests.reward.helpers import synthetic_rows, write_jsonl


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from constitution.models import BACKBONE_ALIAS, ModelNotFoundError, resolve_model

    try:
        return resolve_model(BACKBONE_ALIAS)
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


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
    from constitution.reward.trainer import data_constitution_hashes, train_reward_model

    out = tmp_path_factory.mktemp("rm")
    config = RewardTrainingConfig(max_length=64, epochs=2, batch_size=8, learning_rate=1e-4, eval_fraction=0.25)
    result = train_reward_model(
        config, load_pairs(synthetic_file)[0], out, constitution_hash=data_constitution_hashes(synthetic_file)
    )
    return out, result
