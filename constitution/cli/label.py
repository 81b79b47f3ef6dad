"""``constitution label PAIRS --out DIR``: soft AI preference labels for pairs, judged against the constitution.

DIR receives the AI-feedback dataset (a `datasets` folder that TRL's RewardTrainer/DPOTrainer read as is),
``labels.jsonl`` (the same records), ``summary.json`` and, unless ``--cache`` moves it, ``judgments.sqlite``: the
judgment cache that makes a re-run resume after a crash and re-judge only edited principles.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from constitution.cache import JudgmentCache
from constitution.data import load_pairs
from constitution.feedback.base import JudgeConfig, make_backend
from constitution.labeling import LabelConfig, Labeler, format_summary, label_with_progress, write_labels
from constitution.models import JUDGE_ALIAS
from constitution.principles import load_constitution


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="label pairs with the judge (soft AI feedback)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", help="pairs: JSONL/Parquet/CSV/datasets folder or hub id")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--constitution", default="principles", help="principles folder or file (default principles/)")
    p.add_argument("--judge", default=JUDGE_ALIAS, help=f"judge model: alias, folder or hub id (default {JUDGE_ALIAS})")
    p.add_argument("--backend", choices=["vllm", "openai", "hf"], default="vllm")
    p.add_argument("--base-url", action="append", default=[], help="a `vllm serve` endpoint (repeat for several)")
    p.add_argument("--api-key", default=None, help="API key for the endpoints")
    p.add_argument("--limit", type=int, default=None, help="label only the first N pairs")
    p.add_argument("--cache", default=None, help="judgment cache (default OUT/judgments.sqlite)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="judge weights dtype (logits are fp32 either way)")
    p.add_argument("--single-order", action="store_true", help="ask only the A/B order (no position debiasing)")
    p.add_argument("--cot", action="store_true", help="chain-of-thought: rationale first, probabilities clamped to 40-60%%")
    p.add_argument("--batch-size", type=int, default=64, help="judgments per backend call (default 64)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    constitution = load_constitution(args.constitution)
    pairs, report = load_pairs(args.pairs, limit=args.limit)
    if report.dropped_mismatched:
        first = ", ".join(report.dropped_where)
        print(f"note: dropped {report.dropped_mismatched} pair(s) whose dialogues differ before the last turn "
              f"(first: {first})", file=sys.stderr)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = LabelConfig(both_orders=not args.single_order, chain_of_thought=args.cot, batch_size=args.batch_size)
    backend = make_backend(JudgeConfig(backend=args.backend, model=args.judge, dtype=args.dtype, base_urls=args.base_url, api_key=args.api_key))
    try:
        with JudgmentCache(args.cache or out / "judgments.sqlite") as cache:
            records, summary = label_with_progress(Labeler(constitution, backend, cache, config), pairs, show=not args.no_progress)
    finally:
        backend.close()
    write_labels(out, records, summary)
    print(format_summary(summary))
    print(f"wrote {len(records)} labels to {out}")
    return 0
