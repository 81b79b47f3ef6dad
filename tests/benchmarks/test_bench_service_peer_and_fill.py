"""benchmarks/bench_service.py (issue 32 §3): the batching peer scores each arrival batch in length-sorted sub-batches
and still answers every text its own score; ours' padding fill is counted from the forward passes that actually run
in a real `constitution serve` on 127.0.0.1 (a hook on the model, not the batching rule repeated); the per-round
ratios are paired round by round, ours and the batching peer adjacent in ABBA order; the warm-up covers every length
range of a payload."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks._service_peers import SUB_BATCH, _pipeline
from benchmarks._service_server import count_forward_tokens
from benchmarks.bench_service import Server, hh_texts, paired_ratios, round_order, run_load, warmup_texts
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


def test_ours_padding_fill_counts_the_tokens_its_forward_passes_run(reward_folder: Path, tmp_path: Path):
    from constitution.reward.model import RewardModel

    texts = _texts(8 * 2)  # 8 clients x 2 requests below: concurrent batches still form, in half the time
    library = RewardModel.load(reward_folder)  # as the server loads it (the same bf16 rule on this machine)
    alone: dict[str, int] = {}
    count_forward_tokens(library.model, alone)
    for text in texts:  # what runs for each text scored on its own, counted by the same hook
        library.score([text])
    real = sum(len(ids) for ids in library.encode(texts))
    with Server(reward_folder, api_key="k", fill_file=tmp_path / "fill.json") as server:
        before = server.fill_totals()
        one_by_one = run_load(server.base_url, 1, len(texts), api_key="k", texts=texts)  # one request in flight at a time
        middle = server.fill_totals()
        load = run_load(server.base_url, 8, 2, api_key="k", texts=texts)
        after = server.fill_totals()
    assert one_by_one.summary()["failures"] == load.summary()["failures"] == 0
    assert middle["computed_tokens"] - before.get("computed_tokens", 0) == alone["computed_tokens"]  # exactly what ran
    assert middle["real_tokens"] - before.get("real_tokens", 0) == alone["real_tokens"] == real
    assert after["real_tokens"] - middle["real_tokens"] == real  # every text's tokens, each once, copies not counted
    computed = after["computed_tokens"] - middle["computed_tokens"]
    assert real <= after["attended_tokens"] - middle["attended_tokens"] <= computed
    assert after["forward_passes"] > middle["forward_passes"]


def test_ours_and_the_batching_peer_run_adjacent_in_abba_order():
    servers = ["ours", "ours_ray", "batching_peer", "naive_peer"]
    orders = [round_order(servers, r) for r in range(4)]
    assert [o[:2] for o in orders] == [["ours", "batching_peer"], ["batching_peer", "ours"]] * 2
    assert [o[2:] for o in orders] == [["ours_ray", "naive_peer"], ["naive_peer", "ours_ray"]] * 2
    assert round_order(["naive_peer", "ours"], 1) == ["ours", "naive_peer"]
    assert round_order(["ours", "batching_peer"], 1) == ["batching_peer", "ours"]  # nothing else to rotate


def test_the_warm_up_spans_the_payloads_lengths():
    texts = [f"text {'x' * n}" for n in range(100)]
    random.Random(0).shuffle(texts)
    sample = warmup_texts(texts, 8)
    assert len(sample) == 8 and min(sample, key=len) == min(texts, key=len) and max(sample, key=len) == max(texts, key=len)
    assert warmup_texts(texts[:3], 8) == sorted(texts[:3], key=len)


def test_ratios_are_paired_round_by_round():
    ours = [{"requests_per_s": 20.0}, {"requests_per_s": 30.0}, {"requests_per_s": 10.0}]
    peer = [{"requests_per_s": 10.0}, {"requests_per_s": 20.0}, {"requests_per_s": 10.0}]
    ratios = paired_ratios(ours, peer)
    assert ratios["per_round"] == [2.0, 1.5, 1.0] and (ratios["median"], ratios["min"], ratios["max"]) == (1.5, 1.0, 2.0)
