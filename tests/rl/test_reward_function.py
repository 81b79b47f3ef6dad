"""The RL reward function: TRL's reward_funcs signature, normalisation, ensembles, swapping the model between calls."""

from __future__ import annotations

import numpy as np
import pytest

from constitution.reward.ensemble import RewardEnsemble
from constitution.reward.model import RewardModel
from constitution.rl import RewardFunction
from tests.helpers.reward_folders import shifted_folder


def test_standard_and_conversational_formats_agree(reward_folder):
    fn = RewardFunction.load(reward_folder)
    standard = fn(["How do I boil an egg?"], ["Boil it for eight minutes."])
    conversational = fn([[{"role": "user", "content": "How do I boil an egg?"}]], [[{"role": "assistant", "content": "Boil it for eight minutes."}]])
    assert standard == pytest.approx(conversational)
    model = RewardModel.load(reward_folder)
    assert standard == pytest.approx(model.score([("How do I boil an egg?", "Boil it for eight minutes.")], normalize=True))
    assert fn.__name__ == "constitution_reward"


def test_ensemble_gives_the_conservative_reward(reward_folder, tmp_path):
    shifted = shifted_folder(reward_folder, tmp_path / "shifted", shift=0.8)  # every raw reward 0.8 higher
    fn = RewardFunction.load([reward_folder, shifted], k=2.0)
    assert isinstance(fn.scorer, RewardEnsemble)
    prompts, completions = ["hi", "hi"], ["hello", "Hello there, how can I help?"]
    members = np.array([RewardFunction.load(m)(prompts, completions) for m in (reward_folder, shifted)])
    assert members[1] - members[0] == pytest.approx([0.8, 0.8], abs=1e-4)  # the members differ
    expected = members.mean(axis=0) - 2.0 * members.std(axis=0)  # mean - k·std: 0.4 below the lower member
    assert fn(prompts, completions) == pytest.approx(expected.tolist(), abs=1e-6)
    assert fn(prompts, completions) == pytest.approx((members.min(axis=0) - 0.4).tolist(), abs=1e-4)


def test_swap_takes_effect_between_calls(reward_folder):
    fn = RewardFunction.load(reward_folder)
    before = fn(["hi"], ["hello"])
    other = RewardModel.load(reward_folder)
    other.reward_mean += 1.0  # the same network, another normalisation: every reward moves by -1/std
    assert fn.swap(other) == 1 and fn.version == 1 and fn.scorer is other
    assert fn(["hi"], ["hello"]) == pytest.approx([before[0] - 1.0 / other.reward_std])
