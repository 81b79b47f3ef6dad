"""Sequence KL from TRL's log: TRL's token-weighted mean times the mean completion length is the mean over
completions of each one's KL summed over its tokens (the per-sequence KL of Gao et al.), whatever the lengths."""

from __future__ import annotations

import numpy as np
import pytest

from constitution.rl.kl import sequence_kl, with_kl_names


def test_trl_per_token_mean_times_mean_length_is_the_mean_sequence_sum():
    rng = np.random.default_rng(0)
    lengths = np.array([3, 32, 7, 1, 32, 18, 5, 12])  # completions of one step, 32 tokens at most
    per_token = rng.exponential(0.05, size=(8, 32))
    mask = np.arange(32)[None, :] < lengths[:, None]
    trl_kl = float((per_token * mask).sum() / mask.sum())  # TRL's global_masked_mean of per_token_kl
    trl_mean_length = float(lengths.mean())  # TRL's completions/mean_length
    per_sequence = (per_token * mask).sum(axis=1)
    got = sequence_kl({"kl": trl_kl, "completions/mean_length": trl_mean_length})
    assert got == pytest.approx(float(per_sequence.mean()), rel=1e-12)
    assert got > 5 * float((per_sequence / lengths).mean())  # far from a per-token KL: the sum grows with length


def test_rows_without_a_kl_get_none_and_keep_their_fields():
    assert sequence_kl({"kl": 0.1}) is None and sequence_kl({"completions/mean_length": 8.0}) is None
    row = with_kl_names({"reward": 0.5, "kl": 0.02, "completions/mean_length": 10.0})
    assert row["kl_per_token"] == 0.02 and row["seq_kl"] == pytest.approx(0.2) and row["reward"] == 0.5
    assert "seq_kl" not in with_kl_names({"reward": 0.5})


def test_a_kl_trl_logged_as_none_is_no_kl_not_a_crash():
    row = with_kl_names({"reward": 0.5, "kl": None, "completions/mean_length": 10.0})  # TRL logs an all-NaN metric as None
    assert row["kl_per_token"] is None and row["seq_kl"] is None


def test_the_monitor_records_no_sequence_kl_where_the_trainers_settings_make_it_inexact():
    from types import SimpleNamespace

    from constitution.rl.callback import MonitorCallback

    logs = {"reward": 0.1, "kl": 0.02, "completions/mean_length": 10.0}
    exact = SimpleNamespace(gradient_accumulation_steps=1, logging_steps=1, steps_per_generation=1, num_iterations=1)
    for args, expected in ((exact, 0.2), (SimpleNamespace(**{**vars(exact), "gradient_accumulation_steps": 4}), None),
                           (SimpleNamespace(**{**vars(exact), "logging_steps": 10}), None),
                           (SimpleNamespace(**{**vars(exact), "mask_truncated_completions": True}), None)):  # fmt: skip
        monitor = SimpleNamespace(last_kl=None, last_seq_kl=None)
        callback = MonitorCallback(monitor)  # type: ignore[arg-type]  # what the callback sets, nothing else
        callback.on_train_begin(args, None, None)
        callback.on_log(args, None, None, logs=logs)
        assert monitor.last_kl == 0.02 and monitor.last_seq_kl == (pytest.approx(expected) if expected else None)


def test_each_step_is_in_log_jsonl_as_soon_as_it_is_logged(tmp_path):
    import json
    from types import SimpleNamespace

    from constitution.rl.step_log import StepLog

    path = tmp_path / "log.jsonl"
    path.write_text("a previous run's row\n")
    writer = StepLog(path)
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    assert path.read_text() == "a previous run's row\n"  # untouched until training starts (a refused run leaves it)
    writer.on_train_begin(None, state, None)
    assert path.read_text() == ""  # a rerun replaces the file
    writer.on_log(None, state, None, logs={"reward": 0.3, "kl": 0.01, "completions/mean_length": 8.0})
    writer.on_log(None, state, None, logs={"train_runtime": 5.0})  # the end-of-training summary: not a step
    rows = [json.loads(line) for line in path.read_text().splitlines()]  # on disk before training ends
    assert rows == [{"reward": 0.3, "kl": 0.01, "completions/mean_length": 8.0, "step": 1, "kl_per_token": 0.01, "seq_kl": pytest.approx(0.08)}]
