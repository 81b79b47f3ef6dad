"""``--engine ray``: judge actors on a local Ray cluster that the test starts itself (2 CPU actors, each holding the
embedded judge in an in-process vLLM engine). Labels equal a single-process run; a worker killed mid-run is
restarted and its batch re-run, with no judgment lost or doubled; a killed driver resumes from the cache."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from constitution.data import Message, Pair
from constitution.labeling import JudgmentCache, LabelConfig, Labeler, ListSink, label_pairs
from constitution.llm.config import RayConfig, VllmConfig
from constitution.loader import load_constitution
from constitution.resources import default_principles

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.reliability]
QUESTIONS = ["How do I boil an egg?", "What is 2+2?", "Name a color.", "How do I say hi in French?", "Is the sea salty?",
             "Suggest a name for a cat.", "How far is the moon?", "What rhymes with blue?"]  # fmt: skip


def _pairs(n: int) -> list[Pair]:
    return [
        Pair(id=f"q{i}", prompt=[Message(role="user", content=QUESTIONS[i % len(QUESTIONS)] + f" ({i})")],
             response_a="Here is a short, direct answer.", response_b="I would rather not say.")  # fmt: skip
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def ray_judge():
    pytest.importorskip("ray", reason="ray is not installed")
    pytest.importorskip("vllm", reason="vLLM is not installed")
    from constitution.llm.ray_pool import RayJudge

    judge = RayJudge(VllmConfig(dtype="float32", max_model_len=2048, kvcache_gib=1), RayConfig(actors=2, batch_requests=4))
    yield judge
    judge.close()


def test_labels_equal_a_single_process_run(ray_judge, vllm_judge, tmp_path: Path):
    constitution = load_constitution(default_principles())
    pairs = _pairs(6)
    want, _ = label_pairs(Labeler(constitution, vllm_judge, JudgmentCache(tmp_path / "one.sqlite")), pairs)
    got, summary = label_pairs(Labeler(constitution, ray_judge, JudgmentCache(tmp_path / "ray.sqlite")), pairs)
    assert ray_judge.identity == vllm_judge.identity  # the same judge: the same cache keys
    assert summary.judgments_computed == 6 * 8
    for g, w in zip(got, want):
        assert g.p_a == pytest.approx(w.p_a, abs=1e-5) and g.per_principle == pytest.approx(w.per_principle, abs=1e-5)


def test_a_killed_worker_is_retried_with_nothing_lost_or_doubled(ray_judge, tmp_path: Path):
    import ray

    pids = ray.get([actor.pid.remote() for actor in ray_judge.actors])
    killed: list[int] = []

    def progress(_: int) -> None:
        if not killed:  # the first pair is done: both actors have batches in flight
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    cache = JudgmentCache(tmp_path / "c.sqlite")
    pairs = _pairs(10)
    sink = ListSink()
    summary = Labeler(load_constitution(default_principles()), ray_judge, cache, LabelConfig(flush_every=1)).label(pairs, sink, progress)
    assert killed and summary.pairs == 10 and not sink.failed_ids
    assert summary.judgments_computed == summary.judgments == 10 * 8 == cache.count()
    assert ray.get(ray_judge.actors[0].pid.remote()) != pids[0]  # restarted


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM judgments_v2").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_killed_driver_resumes_from_the_cache(tmp_path: Path):
    pytest.importorskip("ray", reason="ray is not installed")
    pairs_file = tmp_path / "pairs.jsonl"
    pairs_file.write_text("".join(p.model_dump_json(include={"id", "prompt", "response_a", "response_b"}) + "\n" for p in _pairs(8)))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "constitution", "label", str(pairs_file), "--out", str(out), "--engine", "ray",
           "--ray-actors", "1", "--ray-batch-requests", "4", "--dtype", "float32", "--max-model-len", "2048",
           "--kvcache-gib", "1", "--flush-every", "2", "--no-progress"]  # fmt: skip  (one actor: the driver is what dies)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    total = 8 * 8
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    db = out / "judgments.sqlite"
    deadline = time.time() + 600
    while _count(db) < 8 and time.time() < deadline and driver.poll() is None:
        time.sleep(0.5)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray cluster it started: a lost machine
    driver.wait()
    done = _count(db)
    assert 8 <= done < total, f"killed at {done} of {total}"

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, start_new_session=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"computed {total - done}, cached {done}" in rerun.stdout
    assert _count(db) == total
    records = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(f"q{i}" for i in range(8))
