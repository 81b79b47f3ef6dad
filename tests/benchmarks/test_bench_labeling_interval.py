"""benchmarks/bench_labeling.py (issue 32 §3): the ours/raw ratio over paired blocks gets a 95% interval beside its
median and min–max, and each block records ours' time outside vLLM's ``step()`` and its engine time over raw's run."""

from __future__ import annotations

import math

import pytest

from benchmarks.bench_labeling import blocks, ratio_interval, summarize


def test_the_ratio_over_blocks_has_a_t_interval_on_its_geometric_mean():
    ratios = [0.91, 1.06, 0.97, 1.01]
    got = ratio_interval(ratios)
    logs = [math.log(r) for r in ratios]
    mean = sum(logs) / 4
    half = 3.182446305284263 * math.sqrt(sum((x - mean) ** 2 for x in logs) / 3) / 2  # t(0.975, 3) · sd / √4
    assert got["geometric_mean"] == pytest.approx(math.exp(mean))
    assert (got["ci95_low"], got["ci95_high"]) == pytest.approx((math.exp(mean - half), math.exp(mean + half)))
    assert (got["median"], got["min"], got["max"], got["blocks"]) == (0.99, 0.91, 1.06, 4)
    assert ratio_interval([1.02])["ci95_low"] is None  # one block: no interval


def test_each_block_pairs_ours_with_raw_and_says_where_ours_time_went():
    runs = [
        {"method": "ours", "repeat": 0, "order": "ours first", "judgments_per_s": 4.0, "seconds": 500.0, "engine_seconds": 470.0, "outside_step_seconds": 30.0},
        {"method": "raw", "repeat": 0, "order": "ours first", "judgments_per_s": 5.0, "seconds": 400.0},
        {"method": "raw", "repeat": 0, "order": "ours last", "judgments_per_s": 4.0, "seconds": 500.0},
        {"method": "ours", "repeat": 0, "order": "ours last", "judgments_per_s": 5.0, "seconds": 400.0, "engine_seconds": 390.0, "outside_step_seconds": 10.0},
    ]  # fmt: skip
    first, last = blocks(runs, "ours")
    assert (first["ratio_to_raw"], last["ratio_to_raw"]) == (0.8, 1.25)
    assert first["outside_step_seconds"] == 30.0 and first["outside_step_share"] == pytest.approx(0.06)
    assert first["engine_seconds_over_raw_seconds"] == pytest.approx(470 / 400)  # ours' engine time alone exceeded raw's run


def test_a_partial_run_summarises_its_finished_blocks_and_names_the_paired_geometric_mean_as_headline():
    runs = [
        {"method": "ours", "repeat": 0, "order": "ours first", "judgments_per_s": 4.0, "seconds": 500.0, "engine_seconds": 470.0, "outside_step_seconds": 30.0},
        {"method": "raw", "repeat": 0, "order": "ours first", "judgments_per_s": 5.0, "seconds": 400.0},
        {"method": "raw", "repeat": 0, "order": "ours last", "judgments_per_s": 4.0, "seconds": 500.0},
    ]  # fmt: skip
    # killed in the second block, before ours ran in it
    summary = summarize(runs)
    assert [b["order"] for b in summary["ours"]["blocks"]] == ["ours first"]
    assert summary["headline"]["ours_over_raw"] == pytest.approx(0.8) and summary["headline"]["blocks"] == 1
    assert "geometric mean" in summary["headline"]["what"]
    assert summarize(runs[:1]) == {"ours": summarize(runs[:1])["ours"]}  # no raw run yet: no ratio
