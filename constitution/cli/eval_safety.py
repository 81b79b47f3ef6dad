"""``constitution eval-safety (--model RM_DIR | --judge MODEL)``: AUROC/AUPRC/F1 on OpenAI moderation (unknown
labels excluded; per category where labelled) and the false-positive rate on XSTest's safe prompts. Prints one JSON
object (also written to OUT/safety_eval.json with --out)."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from constitution.cli.classify import add_scorer_arguments, default_threshold, make_scorer
from constitution.safety.datasets import MODERATION_CATEGORIES, load_moderation, load_xstest_prompts
from constitution.safety.metrics import at_threshold

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-safety", help="safety metrics on OpenAI moderation and XSTest", description=__doc__)
    add_scorer_arguments(p)
    p.add_argument("--moderation", default=str(DATA / "openai-moderation" / "samples-1680.jsonl.gz"))
    p.add_argument("--xstest", default=str(DATA / "xstest" / "xstest_prompts.csv"))
    p.add_argument("--limit", type=int, default=None, help="evaluate a seeded sample of at most N labelled rows per set")
    p.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the model's, else 0.5)")
    p.add_argument("--out", default=None, help="folder for safety_eval.json")
    p.set_defaults(func=run)


def _sample(examples: list, limit: int | None) -> list:
    examples = [ex for ex in examples if ex.label is not None]
    if limit is not None and len(examples) > limit:
        examples = random.Random(0).sample(examples, limit)
    return examples


def run(args: argparse.Namespace) -> int:
    scorer = make_scorer(args)
    threshold = args.threshold if args.threshold is not None else default_threshold(scorer)
    result: dict[str, object] = {"mode": scorer.mode, "threshold": threshold}
    try:
        if Path(args.moderation).exists():
            mod = _sample(load_moderation(args.moderation), args.limit)
            scores = np.array(scorer.unsafe_scores(mod))
            labels = np.array([ex.label for ex in mod])
            result["moderation"] = at_threshold(scores, labels, threshold).model_dump()
            per_category = {}
            for cat in MODERATION_CATEGORIES:
                idx = [i for i, ex in enumerate(mod) if cat in ex.categories]
                if idx:
                    m = at_threshold(scores[idx], np.array([mod[i].categories[cat] for i in idx]), threshold)
                    per_category[cat] = {"n": m.n, "positives": m.positives, "auroc": m.auroc, "auprc": m.auprc}
            result["moderation_per_category"] = per_category
        if Path(args.xstest).exists():
            xs = _sample(load_xstest_prompts(args.xstest), args.limit)
            scores = np.array(scorer.unsafe_scores(xs))
            labels = np.array([ex.label for ex in xs])
            m = at_threshold(scores, labels, threshold)
            result["xstest"] = m.model_dump()
            result["xstest_safe_prompt_fpr"] = m.fpr
    finally:
        backend = getattr(scorer, "backend", None)
        if backend is not None:
            backend.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "safety_eval.json").write_text(text)
    return 0
