"""What the gold monitor writes: checks numbered by the trainer's step, one console line in the record's own terms,
and the record file of one run (the real monitor and labeler with the program gold of tests/rl/drift.py; the proxy
is a plain function, the test is about the records)."""

from __future__ import annotations

import json

import pytest

from constitution.rl import MonitorConfig
from tests.diff.helpers import write_principles
from tests.rl.drift import ProgramGold

TIED = (["What is 2 plus 3?"] * 2, ["The answer is 5.", "The answer is 5!"])  # both right: the gold ties


def by_length(prompts, completions, **_):
    return [float(len(c)) for c in completions]


@pytest.fixture
def labeler(tmp_path):
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.loader import load_constitution

    constitution = load_constitution(write_principles(tmp_path / "c", [("right", "Which response is more correct?", 1.0)]))
    return Labeler(constitution, ProgramGold(), JudgmentCache(tmp_path / "gold.sqlite"))


def test_checks_are_numbered_by_the_step_the_trainer_logs(labeler):
    from transformers import TrainerState

    from constitution.rl import GoldMonitor

    monitor = GoldMonitor(by_length, labeler, MonitorConfig(every=1))
    for done in (0, 1, 2):  # TRL scores a batch while global_step updates are done; it logs it as step done + 1
        monitor(*TIED, trainer_state=TrainerState(global_step=done))
    assert [r.step for r in monitor.records] == [1, 2, 3]
    plain = GoldMonitor(by_length, labeler, MonitorConfig(every=2))
    for _ in range(4):
        plain(*TIED)
    assert [r.step for r in plain.records] == [1, 3]  # without a trainer: the call's number, from 1


def test_the_console_line_says_what_the_record_says(labeler, tmp_path):
    from constitution.rl import GoldMonitor, MonitorRecord

    monitor = GoldMonitor(by_length, labeler, MonitorConfig(every=1), jsonl=tmp_path / "monitor.jsonl")
    monitor(*TIED)
    (row,) = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert (row["pairs"], row["decisive"], row["agreement"]) == (1, 0, None)
    assert MonitorRecord.model_validate(row).line() == "gold check at step 1: agreement n/a on 0 decisive of 1 labelled pairs"


def test_a_rerun_into_the_same_folder_replaces_the_records(labeler, tmp_path):
    from constitution.rl import GoldMonitor

    for run in range(2):
        monitor = GoldMonitor(by_length, labeler, MonitorConfig(every=1), jsonl=tmp_path / "out" / "monitor.jsonl")
        for _ in range(2 + run):
            monitor(*TIED)
    rows = [json.loads(line) for line in (tmp_path / "out" / "monitor.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # the second run's checks only, as log.jsonl holds its steps only
