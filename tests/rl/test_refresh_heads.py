"""Refreshing a per-principle model of the shipped constitution (24 heads, 4 principles drawn per gold pair) inside
the gold monitor: real MiniLM heads, the real labeler with the scripted judge, the real reward training. Few gold
pairs leave some heads without a label; the constitution the run weighs the heads with is reordered and sets one
principle's weight to 0; none of that may kill the run or move a head's row to another principle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.scripted_judge import ScriptedJudge
from tests.rl.shipped_heads import answers_batch, shipped_folder


@pytest.fixture(scope="module")
def shipped_model(minilm_path, tmp_path_factory):
    return shipped_folder(tmp_path_factory.mktemp("shipped_rm"))


def _edited_shipped():
    """The shipped constitution in reverse order, its second principle at weight 0."""
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    shipped = load_constitution(default_principles())
    principles = list(reversed(shipped.principles))
    principles[-2] = principles[-2].model_copy(update={"weight": 0.0})
    return shipped, shipped.model_copy(update={"principles": tuple(principles)})


def _monitor(folder, tmp_path, reward_constitution, gold_constitution, refreshed):
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.rl import GoldMonitor, MonitorConfig, RefreshConfig, Refresher, RewardFunction

    reward = RewardFunction.load(folder, constitution=reward_constitution)
    refresh = RefreshConfig(on_alarm=False, every=1, min_pairs=4, epochs=1, batch_size=8, learning_rate=1e-3)  # one update step
    refresher = Refresher(reward, folder, refreshed, refresh, constitution=reward_constitution)
    labeler = Labeler(gold_constitution, ScriptedJudge(), JudgmentCache(tmp_path / "gold.sqlite"))
    monitor = GoldMonitor(reward, labeler, MonitorConfig(every=1, pairs=6, pairs_per_group=3), jsonl=tmp_path / "monitor.jsonl", refresher=refresher)
    return monitor, reward


def _rows(folder):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder)
    return model.classifier.weight.detach().numpy(), [model.config.id2label[i] for i in range(model.config.num_labels)]


def test_refreshing_a_per_principle_model_of_the_shipped_constitution(shipped_model, tmp_path):
    from constitution.reward.heads import head_weights
    from constitution.reward.metadata import read_metadata

    gold, edited = _edited_shipped()
    monitor, reward = _monitor(shipped_model, tmp_path, edited, gold, tmp_path / "refreshed")
    prompts, completions = answers_batch(2)
    assert len(monitor(prompts, completions)) == len(completions)
    (record,) = monitor.records
    assert record.refresh_error is None and record.refreshed_to == 1 and reward.version == 1
    judged = {p for r in monitor.labelled for p in r.per_principle}
    assert 0 < len(judged) < 24  # 6 pairs x 4 drawn principles: some heads got no new label
    old, old_ids = _rows(shipped_model)
    new, new_ids = _rows(tmp_path / "refreshed" / "reward_v1")
    assert new_ids == old_ids == read_metadata(tmp_path / "refreshed" / "reward_v1").heads  # the saved heads, in order
    for k, head in enumerate(old_ids):
        if head in judged:
            assert not np.array_equal(new[k], old[k]), head
        else:
            assert np.array_equal(new[k], old[k]), head  # no new label: the row is kept exactly
    assert reward.scorer.weights == pytest.approx(head_weights(reward.scorer.metadata, edited))  # the run's weights


def test_a_failed_refresh_is_logged_and_training_goes_on(shipped_model, tmp_path):
    """A real failure: the folder the refresh must write holds something else, so training refuses to replace it."""
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    shipped = load_constitution(default_principles())
    blocked = tmp_path / "refreshed" / "reward_v1"
    blocked.mkdir(parents=True)
    (blocked / "notes.txt").write_text("mine")
    monitor, reward = _monitor(shipped_model, tmp_path, shipped, shipped, tmp_path / "refreshed")
    prompts, completions = answers_batch(2)
    for _ in range(2):
        assert len(monitor(prompts, completions)) == len(completions)
    assert reward.version == 0 and monitor.failed_refreshes == 2
    rows = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("not a reward-model folder" in r["refresh_error"] and r["refreshed_to"] is None for r in rows)
