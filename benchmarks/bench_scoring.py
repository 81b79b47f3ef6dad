"""Scoring throughput: RewardModel.score vs transformers.pipeline("text-classification"), same responses, one run.

Responses: both sides of HH-RLHF harmless test pairs, in the model's input format. Both contenders get the same
texts, batch size, max length (left truncation) and threads; scores must agree. Writes
``<out>/bench_scoring.json`` with responses/s and the ratio.

Full run:  python benchmarks/bench_scoring.py --n 1024
Smoke run: python benchmarks/bench_scoring.py --n 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, write_results  # noqa: E402


def untrained_reward_folder(folder: Path, max_length: int) -> Path:
    """A MiniLM reward folder with a fresh head (throughput does not depend on training)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.embedded_models import resolve_model
    from constitution.reward.inputs import prepare_tokenizer
    from constitution.reward.metadata import RewardMetadata, write_metadata

    path = resolve_model("all-minilm-l6-v2")
    AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).save_pretrained(folder)
    prepare_tokenizer(AutoTokenizer.from_pretrained(path), max_length).save_pretrained(folder)
    write_metadata(folder, RewardMetadata(base_model="all-minilm-l6-v2", max_length=max_length))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--model", default=None, help="reward folder (default: an untrained MiniLM reward head)")
    parser.add_argument("--n", type=int, default=1024, help="responses to score")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--out", default="runs/bench_scoring")
    a = parser.parse_args()

    import numpy as np
    import torch
    from transformers import pipeline

    from constitution.reward.model import RewardModel

    _, test = hh_split(Path(a.data), 0, None)
    folder = Path(a.model) if a.model else untrained_reward_folder(Path(tempfile.mkdtemp()), a.max_length)
    rm = RewardModel.load(folder)
    items = [(p.prompt, r) for p in test for r in (p.response_a, p.response_b)][: a.n]
    texts = rm.texts(items)
    pipe = pipeline("text-classification", model=str(folder), device=rm.device, dtype=torch.float32)
    kwargs = {"batch_size": a.batch_size, "function_to_apply": "none", "truncation": True,
              "max_length": rm.metadata.max_length}
    rm.score(texts[:8]), pipe(texts[:8], **kwargs)  # warm-up both

    t0 = time.perf_counter()
    base = [o["score"] for o in pipe(texts, **kwargs)]
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = rm.score(texts, batch_size=a.batch_size)
    t_ours = time.perf_counter() - t0
    diff = float(np.max(np.abs(np.asarray(ours) - np.asarray(base))))
    write_results(Path(a.out), "bench_scoring", {
        "args": vars(a), "responses": len(texts), "bf16": rm.bf16,
        "pipeline_responses_per_second": len(texts) / t_base, "ours_responses_per_second": len(texts) / t_ours,
        "ratio": t_base / t_ours, "max_abs_score_diff": diff,
    })


if __name__ == "__main__":
    main()
