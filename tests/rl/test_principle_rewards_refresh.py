"""Per-principle TRL rewards across a refresh, and the proxy reward the monitor logs: real MiniLM heads (seeded, not
trained: tests/helpers/reward_folders.py), a refreshed model stood in by the same network with other head statistics
(exactly what a refresh changes in how the rewards are standardised)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.helpers.reward_folders import headed_folder
from tests.helpers.scripted_judge import ScriptedJudge

PROMPTS = [f"Question {i}?" for i in range(4) for _ in range(3)]
COMPLETIONS = ["A short kind answer.", "Obviously, a long rambling answer that goes on and on.", "Thanks! See https://example.org."] * 4


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(first, refreshed): one network; the refreshed folder's head statistics differ head by head."""
    from constitution.reward.metadata import read_metadata, write_metadata

    root = tmp_path_factory.mktemp("principle_refresh")
    first = headed_folder(root / "first")
    refreshed = shutil.copytree(first, root / "refreshed")
    meta = read_metadata(refreshed)
    write_metadata(refreshed, meta.model_copy(update={"head_mean": [1.0, 0.5, -2.0], "head_cov": [[4.0, 0.0, 0.0], [0.0, 0.05, 0.0], [0.0, 0.0, 1.0]]}))
    return first, refreshed


def _affine_residual(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, largest residual) of the least-squares line y = a x + b."""
    design = np.stack([x, np.ones_like(x)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(slope), float(np.abs(design @ [slope, intercept] - y).max())


def test_trl_weights_stay_faithful_after_a_refresh(folders):
    """TRL sums the weighted per-principle rewards, then normalises per group: the sum must stay an increasing affine
    function of the constitution's combined reward for every model the run swaps in."""
    from constitution.reward.model import RewardModel
    from constitution.rl import PrincipleRewards, RewardFunction

    fn = RewardFunction.load(folders[0])
    rewards = PrincipleRewards(fn)
    funcs, weights = rewards.functions(), np.array(rewards.trl_weights("sum_then_normalize")[:-1])
    fn.swap(RewardModel.load(folders[1]))
    assert rewards.version == 1  # what the monitor records as the reward's version
    per = np.array([f(PROMPTS, COMPLETIONS) for f in funcs[:-1]]).T
    slope, residual = _affine_residual(np.array(rewards.raw(PROMPTS, COMPLETIONS)), per @ weights)
    assert slope > 0 and residual < 1e-9  # the same advantages as the constitution's combined reward


def test_the_monitor_logs_the_unnormalised_combined_reward(folders, tmp_path):
    """With decoupled normalisation the reward TRL gets averages 0 in every group; the monitor logs the model's own
    combined reward instead (real labeler, scripted judge)."""
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.loader import load_constitution
    from constitution.rl import GoldMonitor, MonitorConfig, PrincipleRewards, RewardFunction
    from tests.reward.principle_data import TRAIN_WEIGHTS, write_constitution

    fn = RewardFunction.load(folders[0])
    decoupled = PrincipleRewards(fn, group_normalize=True)
    constitution = load_constitution(write_constitution(tmp_path / "c", TRAIN_WEIGHTS))
    monitor = GoldMonitor(decoupled, Labeler(constitution, ScriptedJudge(), JudgmentCache(tmp_path / "gold.sqlite")), MonitorConfig(every=1, pairs=4))
    given = monitor(PROMPTS, COMPLETIONS)
    assert abs(np.mean(given)) < 1e-9  # what TRL gets: group-normalised
    combined = np.mean(RewardFunction.load(folders[0]).raw(PROMPTS, COMPLETIONS))
    assert abs(combined) > 0.05 and monitor.records[0].proxy_reward == pytest.approx(combined)
