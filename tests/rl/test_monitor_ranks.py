"""The gold monitor under a multi-process launcher (the environment torchrun/accelerate set, simulated): only rank 0
checks and writes; what needs the ranks to agree is refused. Real monitor and labeler with the program gold of
tests/rl/drift.py; the proxy is a plain function."""

from __future__ import annotations

import pytest

from constitution.errors import InputError
from constitution.rl import GoldMonitor, MonitorConfig
from tests.diff.helpers import write_principles
from tests.rl.drift import ProgramGold, batch


class CountingGold(ProgramGold):
    """The program gold, counting the comparisons it is asked."""

    asked = 0

    def score_options(self, requests):
        for result in super().score_options(requests):
            CountingGold.asked += 1
            yield result


def by_length(prompts, completions, **_):
    return [float(len(c)) for c in completions]


@pytest.fixture
def labeler(tmp_path):
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.loader import load_constitution

    CountingGold.asked = 0
    constitution = load_constitution(write_principles(tmp_path / "c", [("right", "Which response is more correct?", 1.0)]))
    return Labeler(constitution, CountingGold(), JudgmentCache(tmp_path / "gold.sqlite"))


def _launch(monkeypatch, rank: int | None, world: int, local_rank: int | None = None):
    for name, value in (("RANK", rank), ("WORLD_SIZE", world), ("LOCAL_RANK", local_rank)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(value))


@pytest.mark.parametrize(("rank", "local_rank", "checks"), [(0, 0, True), (1, 1, False), (None, 1, False), (3, 0, False)])
def test_only_the_main_process_checks_and_writes(monkeypatch, labeler, tmp_path, rank, local_rank, checks):
    import random

    _launch(monkeypatch, rank, 4, local_rank)
    monitor = GoldMonitor(by_length, labeler, MonitorConfig(every=1), jsonl=tmp_path / "monitor.jsonl")
    prompts, completions = batch(random.Random(0), 2, drifted=False)
    assert monitor(prompts, completions) == by_length(prompts, completions)  # every rank gets its rewards
    assert (len(monitor.records), CountingGold.asked > 0, (tmp_path / "monitor.jsonl").exists()) == (checks, checks, checks)


@pytest.mark.parametrize("asked", ["refresh", "stop_on_alarm", "win_rate_prompts"])
def test_what_needs_the_ranks_to_agree_is_refused(monkeypatch, labeler, asked):
    _launch(monkeypatch, 0, 2, 0)
    config = MonitorConfig(stop_on_alarm=asked == "stop_on_alarm", win_rate_prompts=2 if asked == "win_rate_prompts" else 0)
    refresher = object() if asked == "refresh" else None  # never used: the monitor refuses before
    with pytest.raises(InputError, match=f"{asked} needs one training process.*started 2"):
        GoldMonitor(by_length, labeler, config, refresher=refresher)
    _launch(monkeypatch, None, 1)
    GoldMonitor(by_length, labeler, config, refresher=refresher)  # one process: all allowed
