"""Smoke test of benchmarks/bench_diff.py: a tiny run (2 pairs, 8 principles edited in turn, in-process vLLM) writes
a complete result file; a sample under 8 principles is refused."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import HH_TEST, ROOT

pytest.importorskip("vllm", reason="vLLM is not installed")


@pytest.mark.slow
@pytest.mark.vllm
def test_bench_diff_smoke(tmp_path: Path):
    if not HH_TEST.exists():
        pytest.skip(f"shared HH-RLHF data not found: {HH_TEST}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_diff.py"), "--pairs", "2", "--repeats", "1", "--sample", "8", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    blob = json.loads((tmp_path / "bench_diff.json").read_text())
    [run] = blob["runs"]
    assert blob["pairs"] == 2 and run["full_judgments"] == 2 * 4 * 2 and blob["principles_per_pair"] == 4
    table = blob["per_principle"]
    assert len(table) == 8 and sorted(run["order"]) == sorted(table)  # every sampled principle edited, once
    for row in table.values():  # each diff asks exactly its principle's judgments (2 orders per pair that drew it)
        assert row["judgments_asked"] == 2 * row["pairs_drawn"] and row["judgment_share"] == pytest.approx(row["expected_share"])
        assert row["time_share"] > 0
    summary = blob["summary"]
    assert summary["principles"] == 24 and summary["edited"] == 8 and summary["one_over_k"] == pytest.approx(1 / 24)
    assert summary["judgment_share"]["mean"] == pytest.approx(statistics.fmean(r["judgment_share"] for r in table.values()))
    assert blob["provenance"]["command"]


def test_bench_diff_refuses_a_small_sample(tmp_path: Path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_diff.py"), "--sample", "3", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--sample must be 0" in done.stderr
