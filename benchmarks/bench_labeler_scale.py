"""Our own overhead at scale: peak memory and throughput of the streaming labeler at 10k, 100k and 1M pairs.

The judge is a fast fake (a fake is right here: it isolates the labeler's own cost, and its memory, from a model's):
it answers every option request at once with fixed log-probs. Everything else is real: the pairs are read lazily
from a JSONL file, planned with the shipped constitution (4 of 24 principles, both orders: 8 judgments a pair),
rendered by the sandboxed templates, tokenized with the embedded judge's tokenizer, written to the SQLite judgment
cache and, record by record, to ``labels.jsonl``. Each size runs in its own process (peak RSS is its own), which
records its resident memory after the imports and the tokenizer (``rss_after_imports_mib``), so the growth with the
number of pairs (``peak_rss_mib`` minus it) is visible. A thread samples /proc/self/status every 0.2 s for the peaks
of the two parts of that memory (Linux): ``RssAnon`` (the heap: what the labeler holds) and ``RssFile`` (file-backed
pages, such as the memory-mapped Arrow file `datasets` reads back while it saves the labels dataset at the end;
reclaimable, but counted in the peak RSS).

    .venv/bin/python benchmarks/bench_labeler_scale.py --sizes 10000 100000 1000000 --out benchmarks/results   # ~56 min
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, run_isolated, write_results  # noqa: E402


class FastJudge:
    """Answers instantly; counts what it was asked."""

    name = "fake"
    identity = "fake-judge"
    max_model_len = 4096

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.asked = 0

    def score_options(self, requests):
        from constitution.llm.base import OptionResult

        for request in requests:
            self.asked += 1
            yield OptionResult(request.key, (-0.5, -1.0))

    def generate(self, prompts, **kwargs):
        raise NotImplementedError

    def close(self) -> None:
        pass


class RssParts:
    """Peak ``RssAnon`` and ``RssFile`` of this process (MiB), sampled every 0.2 s by a daemon thread (Linux)."""

    def __init__(self) -> None:
        self.peak: dict[str, float] = {"RssAnon": 0.0, "RssFile": 0.0}
        self.readable = Path("/proc/self/status").exists()
        if self.readable:
            threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(value.split()[0]) / 1024)
            time.sleep(0.2)

    def result(self) -> dict:
        if not self.readable:
            return {"peak_rss_anon_mib": None, "peak_rss_file_mib": None}
        return {"peak_rss_anon_mib": round(self.peak["RssAnon"], 1), "peak_rss_file_mib": round(self.peak["RssFile"], 1)}


def _write_pairs(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            row = {"id": f"p{i}", "prompt": f"Question {i}: how do I fix a leaking tap in the kitchen?",
                   "response_a": f"Turn off the water, then replace the washer ({i}).", "response_b": f"Call a plumber ({i})."}  # fmt: skip
            fh.write(json.dumps(row) + "\n")


def run_size(n: int) -> dict:
    from transformers import AutoTokenizer

    from constitution.data.pairs import PairReader
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.labeling.folder import label_to_folder
    from constitution.loader import load_constitution
    from constitution.embedded_models import JUDGE_ALIAS, resolve_model
    from constitution.resources import default_principles

    with tempfile.TemporaryDirectory() as tmp:
        pairs = Path(tmp) / "pairs.jsonl"
        _write_pairs(pairs, n)
        judge = FastJudge(AutoTokenizer.from_pretrained(resolve_model(JUDGE_ALIAS)))
        baseline = peak_rss_mib()
        parts = RssParts()
        start = time.perf_counter()
        with JudgmentCache(Path(tmp) / "c.sqlite") as cache:
            labeler = Labeler(load_constitution(default_principles()), judge, cache)
            summary = label_to_folder(labeler, PairReader(pairs), Path(tmp) / "out", show_progress=False)
        seconds = time.perf_counter() - start
        lines = sum(1 for _ in open(Path(tmp) / "out" / "labels.jsonl"))
    return {"pairs": n, "labelled": summary.pairs, "records_written": lines, "judge_calls": judge.asked,
            "judge_calls_per_pair": judge.asked / n, "seconds": seconds, "pairs_per_s": n / seconds, "rss_after_imports_mib": round(baseline, 1), **parts.result()}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--name", default="labeler_scale", help="result file name (without .json)")
    args = parser.parse_args()
    runs = [run_isolated(run_size, n=n) for n in args.sizes]
    for r in runs:
        print(r, flush=True)
    for r in runs:
        r["rss_growth_mib"] = round(r["peak_rss_mib"] - r["rss_after_imports_mib"], 1)
    growth = runs[-1]["peak_rss_mib"] / runs[0]["peak_rss_mib"]
    write_results(args.out, args.name, {"runs": runs, "rss_ratio_last_to_first": growth})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
