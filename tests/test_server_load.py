"""The reward service under concurrent load (BRIEF section 7, issue 7): a real `constitution serve` on 127.0.0.1
(a free port, a real MiniLM reward folder) and the benchmark's load generator driving it from this pytest process.

32 clients × 10 requests here (320 requests, enough to fill every batch), while
the benchmark runs the full 32 × 200 (``benchmarks/bench_service.py --clients 32 --requests 200``), which takes about
6 min per mode on such a machine. Correctness only: no timing is asserted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from benchmarks.bench_service import Server, run_load, spot_check

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CLIENTS, REQUESTS, KEY = 32, 10, "load-test-key"


@pytest.fixture(scope="module")
def spread_folder(reward_folder: Path, tmp_path_factory) -> Path:
    """The test reward folder with its untrained head scaled x10. Its rewards spread (sd ~0.3) far beyond the spot
    check's bf16 tolerance (0.02), so a reply delivered to the wrong request shows; the untrained head's own rewards
    (sd ~0.03) sit inside that tolerance on a CPU with bf16 (AMX), where the check could not fail."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.reward.temperature import apply_temperature

    folder = tmp_path_factory.mktemp("spread_reward_model")
    model = AutoModelForSequenceClassification.from_pretrained(reward_folder)
    apply_temperature(model, 0.1)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(reward_folder).save_pretrained(folder)
    return folder


def test_concurrent_clients_all_get_the_library_score(spread_folder: Path):
    from constitution.reward.model import RewardModel

    with Server(spread_folder, api_key=KEY) as server:
        batches_before = httpx.get(f"{server.base_url}/health").json()["batches"]
        load = run_load(server.base_url, CLIENTS, REQUESTS, api_key=KEY)
        batches = httpx.get(f"{server.base_url}/health").json()["batches"] - batches_before
        assert server.proc.poll() is None
    replies = load.replies
    assert len(replies) == CLIENTS * REQUESTS and len({r.text for r in replies}) == len(replies)
    bad = [r for r in replies if r.reward() is None]
    assert not bad, f"{len(bad)} failed or malformed replies, e.g. {bad[:3]}"
    assert batches < len(replies), "concurrent requests should share forward passes"

    model = RewardModel.load(spread_folder)
    check = spot_check(replies, model, n=256)
    assert (check["checked"], check["mismatches"]) == (256, 0), check
    # The check can fail: answers delivered to the wrong requests (here each gets the answer of a request on another
    # of the three base texts: ordered by text, shifted by a third) mismatch.
    ordered = sorted(replies, key=lambda r: r.text)
    third = len(ordered) // 3
    shifted = [dataclasses.replace(r, body=other.body) for r, other in zip(ordered, ordered[third:] + ordered[:third])]
    assert spot_check(shifted, model, n=256)["mismatches"] > 200
