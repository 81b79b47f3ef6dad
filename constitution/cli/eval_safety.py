"""``constitution eval-safety (--model RM_DIR | --judge MODEL) --moderation FILE --xstest FILE``: AUROC/AUPRC/F1 on
OpenAI moderation samples (unknown labels excluded; per category where labelled) and the false-positive rate on
XSTest's safe prompts. Give at least one of the two sets. Prints one JSON object (also written atomically to
OUT/safety_eval.json with --out)."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from constitution.atomic import atomic_write_text
from constitution.cli._scorer_flags import add_scorer_flags, scorer_from_args
from constitution.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-safety", help="safety metrics on OpenAI moderation and XSTest", description=__doc__)
    add_scorer_flags(p)
    p.add_argument("--moderation", default=None, help="OpenAI moderation samples (JSONL, e.g. samples-1680.jsonl.gz)")
    p.add_argument("--xstest", default=None, help="XSTest prompts (xstest_prompts.csv)")
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
    import numpy as np

    from constitution.safety.datasets import MODERATION_CATEGORIES, load_moderation, load_xstest_prompts
    from constitution.safety.metrics import at_threshold
    from constitution.safety.scorers import resolve_threshold

    if not (args.moderation or args.xstest):
        raise InputError("give --moderation FILE and/or --xstest FILE (the evaluation sets are not bundled)")
    for path in (args.moderation, args.xstest):
        if path and not Path(path).exists():
            raise InputError("no such file", where=path)
    scorer = scorer_from_args(args)
    threshold = resolve_threshold(args.threshold, scorer.threshold)
    result: dict[str, object] = {"mode": scorer.mode, "threshold": threshold}
    try:
        if args.moderation:
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
        if args.xstest:
            xs = _sample(load_xstest_prompts(args.xstest), args.limit)
            m = at_threshold(np.array(scorer.unsafe_scores(xs)), np.array([ex.label for ex in xs]), threshold)
            result["xstest"] = m.model_dump()
            result["xstest_safe_prompt_fpr"] = m.fpr
    finally:
        scorer.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        atomic_write_text(Path(args.out) / "safety_eval.json", text)
    return 0
