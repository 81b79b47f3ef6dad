"""``--engine ray`` with 2 judge actors against one process, on this CPU (issue 14).

The same HH-RLHF pairs, the shipped constitution (8 judgments a pair), the embedded judge in vLLM. One process gets
both cores (``OMP_NUM_THREADS=2``); the Ray run gets two actors of one core each (a local cluster the run starts).
Each run is a fresh process with an empty judgment cache; start-up (Ray, engines) and labeling are timed apart.
On two cores this says what Ray costs, not what it gains: its point is many machines.

    .venv/bin/python benchmarks/bench_ray.py --pairs 48 --repeats 2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, write_results  # noqa: E402

CHILD = """
import json, os, sys, tempfile, time
from pathlib import Path
if __name__ == "__main__":
    engine, n = sys.argv[1], int(sys.argv[2])
    from constitution.data.pairs import load_pairs, split_pairs
    from constitution.labeling import JudgmentCache, Labeler, ListSink
    from constitution.llm import llm_config, make_llm
    from constitution.llm.config import RayConfig
    from constitution.loader import load_constitution
    from constitution.resources import default_principles
    pairs, _ = load_pairs(sys.argv[3])
    _, sample = split_pairs(pairs, 0, seed=0)
    start = time.perf_counter()
    judge = make_llm(llm_config(backend="vllm", kvcache_gib=1), engine, RayConfig(actors=2, batch_requests=32))
    ready = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, JudgmentCache(Path(tmp) / "c.sqlite") as cache:
        summary = Labeler(load_constitution(default_principles()), judge, cache).label(sample[:n], ListSink())
    done = time.perf_counter()
    judge.close()
    print("RESULT " + json.dumps({"engine": engine, "startup_s": ready - start, "label_s": done - ready,
                                  "judgments": summary.judgments, "computed": summary.judgments_computed}))
"""


def run(engine: str, pairs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        threads = "2" if engine == "local" else "1"
        env = {**os.environ, "OMP_NUM_THREADS": threads, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        done = subprocess.run([sys.executable, str(script), engine, str(pairs), str(HH)], env=env, capture_output=True, text=True, timeout=3600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(line[len("RESULT ") :])
    result["judgments_per_s"] = result["computed"] / result["label_s"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    runs = []
    for repeat in range(args.repeats):
        for engine in (("local", "ray") if repeat % 2 == 0 else ("ray", "local")):
            result = run(engine, args.pairs)
            print(result, flush=True)
            runs.append({**result, "repeat": repeat})
    summary = {
        engine: {
            "median_judgments_per_s": statistics.median(r["judgments_per_s"] for r in runs if r["engine"] == engine),
            "median_startup_s": statistics.median(r["startup_s"] for r in runs if r["engine"] == engine),
        }
        for engine in ("local", "ray")
    }
    summary["ray_vs_local"] = summary["ray"]["median_judgments_per_s"] / summary["local"]["median_judgments_per_s"]
    write_results(args.out, "ray_vs_local", {"pairs": args.pairs, "summary": summary, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
