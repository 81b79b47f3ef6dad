"""Issue 34 item 7: the RL refresh trains the refreshed model as the kind it was trained as (read from its training
config), so a registered kind survives a refresh; it was rebuilt from the head ids (scalar or per-principle)."""

from __future__ import annotations

import dataclasses

from constitution.reward.head_kinds import head_kind, register_kind
from constitution.reward.model import RewardModel
from constitution.rl.refresh import Refresher
from constitution.rl.reward import RewardFunction


def test_a_registered_kind_survives_the_refresh(reward_folder, tmp_path):
    custom = register_kind(dataclasses.replace(head_kind("scalar"), name="scalar_test_refresh_kind"))
    model = RewardModel.load(reward_folder, device="cpu")
    refresher = Refresher(RewardFunction(model), reward_folder, tmp_path)
    assert refresher.training_config(model).heads == "scalar"  # no training config: the kind its heads show
    model.metadata.training_config["heads"] = custom.name
    assert refresher.training_config(model).heads == custom.name
    model.metadata.training_config["heads"] = "a kind not registered here"
    assert refresher.training_config(model).heads == "scalar"
