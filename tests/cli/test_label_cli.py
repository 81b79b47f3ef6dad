"""`constitution label` as a process: killed with SIGKILL at several points, restarted, it loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constitution.data import load_pairs
from constitution.labeling import JudgmentCache, Labeler, label_pairs
from constitution.loader import load_constitution
from constitution.resources import default_principles
PAIRS = [
    ("How do I boil an egg?", "Boil it for eight minutes.", "Eggs are hard."),
    ("What is 2+2?", "4.", "It is 5."),
    ("Name a color.", "Blue.", "I will not answer."),
    ("How do I say hi in French?", "Bonjour.", "Hola."),
]


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM judgments_v2").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
@pytest.mark.reliability
def test_sigkill_mid_run_then_resume_gives_the_exact_labels(tmp_path: Path, hf_judge):
    """Killed early, in the middle and late in one job (each resume killed again), then run to the end."""
    principles = tmp_path / "principles"
    shutil.copytree(default_principles(), principles)
    spec = principles / "constitution.yaml"
    spec.write_text(spec.read_text().replace("  - id: harmlessness\n    weight: 1.0\n", "").replace("rule: k", "rule: all"))
    pairs_file = tmp_path / "pairs.jsonl"
    pairs_file.write_text("".join(json.dumps({"prompt": p, "response_a": a, "response_b": b}) + "\n" for p, a, b in PAIRS))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "constitution", "label", str(pairs_file), "--out", str(out), "--constitution", str(principles),
           "--backend", "hf", "--dtype", "float32", "--hf-batch-size", "4", "--flush-every", "4", "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    total = len(PAIRS) * 6 * 2
    db = out / "judgments.sqlite"

    done = 0
    for kill_after in (4, 20, 32):  # early, middle, late
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 600
        while _count(db) < kill_after and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert kill_after <= _count(db) < total and _count(db) >= done, f"killed at {_count(db)} of {total} judgments"
        done = _count(db)
        assert not (out / "labels.jsonl").exists()

    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"computed {total - done}, cached {done}" in result.stdout
    assert _count(db) == total
    with sqlite3.connect(db) as con:
        dupes = con.execute("SELECT COUNT(*) FROM (SELECT COUNT(*) c FROM judgments_v2 GROUP BY judge, template_hash, principle_hash, pair_hash, ord HAVING c > 1)").fetchone()[0]
    assert dupes == 0
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert [r["id"] for r in labels] == ["0", "1", "2", "3"]  # in input order

    # The same labels as one uninterrupted run in this process.
    pairs, _ = load_pairs(pairs_file)
    with JudgmentCache(tmp_path / "ref.sqlite") as cache:
        reference, _ = label_pairs(Labeler(load_constitution(principles), hf_judge, cache), pairs)
    for got, want in zip(labels, reference):
        assert got["p_a"] == pytest.approx(want.p_a, abs=1e-4)
        assert got["per_principle"] == pytest.approx(want.per_principle, abs=1e-4)


@pytest.mark.slow
@pytest.mark.reliability
def test_an_unreadable_row_is_listed_and_the_rest_labelled(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from constitution.cli import main

    pairs_file = tmp_path / "pairs.jsonl"
    good = [json.dumps({"prompt": p, "response_a": a, "response_b": b}) for p, a, b in PAIRS[:3]]
    pairs_file.write_text("\n".join([good[0], '{"prompt": "cut', *good[1:]]) + "\n")
    out = tmp_path / "out"
    code = main(["label", str(pairs_file), "--out", str(out), "--backend", "hf", "--dtype", "float32", "--no-progress"])
    assert code == 2 and f"{pairs_file}:2: invalid JSON" in capsys.readouterr().err
    assert len((out / "labels.jsonl").read_text().splitlines()) == 3
    (skipped,) = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert skipped["where"] == f"{pairs_file}:2" and "invalid JSON" in skipped["reason"]
    assert json.loads((out / "summary.json").read_text())["rows_bad"] == 1


def test_a_flag_of_another_backend_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from constitution.cli import main

    pairs_file = tmp_path / "pairs.jsonl"
    pairs_file.write_text(json.dumps({"prompt": "hi", "response_a": "a", "response_b": "b"}) + "\n")
    assert main(["label", str(pairs_file), "--out", str(tmp_path / "o"), "--base-url", "http://127.0.0.1:9"]) == 2
    assert "--base-url applies to --backend openai, not vllm" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
