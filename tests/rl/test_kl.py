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
