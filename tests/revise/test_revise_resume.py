"""`constitution revise` as a process, killed with SIGKILL mid-run: the rerun generates only what the generation
cache lacks, and its folder is byte for byte that of an uninterrupted run (temperature 0)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constitution.llm.config import HfConfig
from constitution.loader import load_constitution
from constitution.embedded_models import JUDGE_ALIAS
from constitution.revise import GenerationCache, ReviseConfig, Reviser, load_inputs
from tests.helpers.paths import ROOT
from tests.revise.helpers import ROWS, write_principles, write_rows

ROUNDS = 2
INPUT = [*ROWS[:3], ("Tell me a joke.", None)]
TOTAL = 1 + len(INPUT) * ROUNDS * 2  # one reply to write first, then a critique and a revision per round
OUTPUTS = ("chains.jsonl", "sft.jsonl", "pairs.jsonl", "skipped.jsonl")


def _count(db: Path) -> int:
    """Generations stored so far (the cache is safe to read while the run writes it)."""
    if not db.exists():
        return 0
    with GenerationCache(db) as cache:
        return cache.count()


def _command(inputs: Path, principles: Path, out: Path) -> list[str]:
    # one chain per policy call: every call is cached on its own, and no prompt is ever padded
    return [sys.executable, "-m", "constitution", "revise", str(inputs), "--out", str(out), "--constitution", str(principles),
            "--rounds", str(ROUNDS), "--max-tokens", "6", "--temperature", "0", "--batch-size", "1",
            "--backend", "hf", "--dtype", "float32", "--no-progress"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.reliability
def test_sigkill_mid_run_then_resume_regenerates_only_what_was_missing(tmp_path: Path, hf_judge):
    principles = write_principles(tmp_path / "principles")
    inputs = write_rows(tmp_path / "in.jsonl", INPUT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out"
    db = out / "generations.sqlite"

    proc = subprocess.Popen(_command(inputs, principles, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while _count(db) < TOTAL // 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _count(db)
    assert 0 < done < TOTAL, f"killed at {done} of {TOTAL} generations"
    assert not any((out / name).exists() for name in (*OUTPUTS, "summary.json"))  # nothing half-published

    rerun = subprocess.run(_command(inputs, principles, out), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert sum(summary["generated"].values()) == TOTAL - done
    assert sum(summary["cached"].values()) == done
    assert _count(db) == TOTAL

    # one uninterrupted run in this process, with the same model (fp32) and settings
    reference = tmp_path / "reference"
    config = ReviseConfig(policy=HfConfig(model=JUDGE_ALIAS, dtype="float32"), rounds=ROUNDS, max_tokens=6, temperature=0.0, batch_size=1)
    with GenerationCache(reference / "generations.sqlite") as cache:
        whole = Reviser(load_constitution(principles), hf_judge, cache, config).run(load_inputs(inputs), reference)
    assert sum(whole.generated.values()) == TOTAL
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
