"""Smoke test of benchmarks/bench_diff.py: a tiny run (2 pairs, in-process vLLM) writes a complete result file."""

from __future__ import annotations

import json
import os
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
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_diff.py"), "--pairs", "2", "--repeats", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    blob = json.loads((tmp_path / "bench_diff.json").read_text())
    [run] = blob["runs"]
    assert run["pairs"] == 2 and run["principles"] == 24 and run["full_judgments"] == 2 * 4 * 2
    assert 0 <= run["diff_judgments_asked"] <= run["full_judgments"] and run["diff_seconds"] > 0
    assert blob["summary"]["one_over_k"] == pytest.approx(1 / 24)
