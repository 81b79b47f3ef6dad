"""benchmarks/bench_service.py (issue 32 §3): the batching peer scores each arrival batch in length-sorted sub-batches
and still answers every text its own score; ours' padding fill is counted from its real forward passes (a real
`constitution serve` on 127.0.0.1); the per-round ratios are paired round by round."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks._service_peers import SUB_BATCH, _pipeline
from benchmarks.bench_service import Server, hh_texts, paired_ratios, run_load
from tests.helpers.paths import HH_TEST
from tests.test_server_load import spread_folder  # noqa: F401 - the fixture: rewards spread far beyond bf16 noise

pytestmark = pytest.mark.slow


def _texts(n: int) -> list[str]:
    if not HH_TEST.exists():
        pytest.skip(f"shared HH-RLHF data not found: {HH_TEST}")
    texts = hh_texts(n, HH_TEST)
    random.Random(1).shuffle(texts)
    return texts


def test_the_sorted_peer_answers_each_text_its_own_score(spread_folder: Path):
    score_one, score_sorted = _pipeline(spread_folder)
    texts = _texts(2 * SUB_BATCH + 3)  # several sub-batches, the last one short, lengths in no order
    alone = score_one(texts, 1)  # each text in a batch of its own
    assert score_sorted(texts) == pytest.approx(alone, abs=2e-2)
    assert max(alone) - min(alone) > 0.2  # a text answered another's score would show


def test_ours_padding_fill_counts_the_tokens_of_its_forward_passes(reward_folder: Path, tmp_path: Path):
    from constitution.reward.model import RewardModel

    texts = _texts(8 * 4)
    real = sum(len(ids) for ids in RewardModel.load(reward_folder).encode(texts))
    with Server(reward_folder, api_key="k", fill_file=tmp_path / "fill.json") as server:
        before = server.fill_totals()
        load = run_load(server.base_url, 8, 4, api_key="k", texts=texts)
        after = server.fill_totals()
    assert load.summary()["failures"] == 0
    assert after["real_tokens"] - before["real_tokens"] == real  # every text's tokens, each once
    computed = after["computed_tokens"] - before["computed_tokens"]
    assert real <= computed and after["forward_passes"] > before["forward_passes"]


def test_ratios_are_paired_round_by_round():
    ours = [{"requests_per_s": 20.0}, {"requests_per_s": 30.0}, {"requests_per_s": 10.0}]
    peer = [{"requests_per_s": 10.0}, {"requests_per_s": 20.0}, {"requests_per_s": 10.0}]
    ratios = paired_ratios(ours, peer)
    assert ratios["per_round"] == [2.0, 1.5, 1.0] and (ratios["median"], ratios["min"], ratios["max"]) == (1.5, 1.0, 2.0)
