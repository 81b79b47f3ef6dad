"""Review of issue 34 (the RL process reward): the outcome reward's loader refuses a process reward folder.

``constitution rl --reward-model PRM_DIR`` and verl's in-process reward load through ``RewardFunction.load``; a
process folder (token classification, no ``constitution_reward.json``) loaded there as a plain sequence classifier
(MiniLM: a freshly initialised pooler) and gave every completion a meaningless reward, silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from constitution.errors import InputError
from tests.helpers.reward_folders import process_folder


def test_the_outcome_reward_loader_refuses_a_process_model(tmp_path: Path):
    from constitution.rl.process_reward import ProcessRewardFunction, load_reward
    from constitution.rl.reward import RewardFunction

    folder = process_folder(tmp_path / "prm")
    with pytest.raises(InputError, match="process reward model"):
        RewardFunction.load(folder)
    with pytest.raises(InputError, match="process reward model"):
        RewardFunction.load([folder, folder])  # an ensemble member too
    assert isinstance(load_reward(folder), ProcessRewardFunction)  # best-of-n's loader still takes it
