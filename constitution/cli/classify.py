"""``constitution classify INPUT --out FILE (--model RM_DIR | --judge MODEL)``: safe/unsafe decisions per row.

INPUT rows have ``text``, or ``prompt`` and optionally ``response`` (the response is then classified in context),
and optionally ``label`` (safe/unsafe or 0/1). Output JSONL: id, decision, score, categories, threshold, mode.
The threshold is ``--threshold``, else one calibrated on ``--calibrate FILE`` for ``--target-fpr`` (default 5%)
or ``--target-precision`` (``--save-threshold`` stores it in the reward model's metadata), else the reward model's
stored threshold, else 0.5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.errors import InputError
from constitution.models import JUDGE_ALIAS
from constitution.safety.classify import add_categories, calibrate, decide
from constitution.safety.datasets import load_examples
from constitution.safety.reward_mode import store_threshold


def add_scorer_arguments(p: argparse.ArgumentParser) -> None:
    """--model / --judge and the judge's backend options (shared with eval-safety)."""
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--model", help="reward mode: a trained reward model folder")
    mode.add_argument("--judge", nargs="?", const=JUDGE_ALIAS, help=f"judge mode: the judge model (default {JUDGE_ALIAS})")
    p.add_argument("--constitution", default="principles", help="principles folder with the safety policy (judge mode)")
    p.add_argument("--backend", choices=["vllm", "openai", "hf"], default="vllm", help="judge backend")
    p.add_argument("--base-url", action="append", default=[], help="`vllm serve` endpoint(s) for --backend openai")
    p.add_argument("--api-key", default=None)
    p.add_argument("--batch-size", type=int, default=64)


def make_scorer(args: argparse.Namespace):
    """The scorer named by --model (reward mode) or --judge (judge mode)."""
    if args.model:
        from constitution.safety.reward_mode import RewardSafetyScorer

        return RewardSafetyScorer.load(args.model, batch_size=args.batch_size)
    from constitution.feedback.base import JudgeConfig, make_backend
    from constitution.principles import load_constitution
    from constitution.safety.judge import JudgeSafetyScorer

    constitution = load_constitution(args.constitution)
    backend = make_backend(JudgeConfig(backend=args.backend, model=args.judge, base_urls=args.base_url, api_key=args.api_key))
    return JudgeSafetyScorer(constitution, backend, batch_size=args.batch_size)


def default_threshold(scorer) -> float:
    """A reward model's stored threshold, else 0.5."""
    return float(getattr(scorer, "threshold", None) or 0.5)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="safety classification (reward or judge mode)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="JSONL/CSV/Parquet/datasets rows to classify")
    p.add_argument("--out", required=True, help="output JSONL")
    add_scorer_arguments(p)
    p.add_argument("--threshold", type=float, default=None, help="unsafe if score >= T")
    p.add_argument("--calibrate", default=None, help="labelled validation file to choose the threshold on")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-fpr", type=float, default=None, help="calibration target false-positive rate (default 0.05)")
    target.add_argument("--target-precision", type=float, default=None, help="calibration target precision")
    p.add_argument(
        "--save-threshold", action="store_true", help="reward mode: store the calibrated threshold in the model's metadata"
    )
    p.add_argument("--categories", action="store_true", help="judge mode: also score each policy category for unsafe rows")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.save_threshold and not (args.model and args.calibrate):
        raise InputError("--save-threshold needs reward mode (--model) and a --calibrate file")
    examples = load_examples(args.input, limit=args.limit)
    scorer = make_scorer(args)
    try:
        threshold = args.threshold
        if threshold is None and args.calibrate:
            validation = load_examples(args.calibrate)
            calibration = calibrate(
                scorer.unsafe_scores(validation), [ex.label for ex in validation], target_fpr=args.target_fpr, target_precision=args.target_precision
            )
            threshold = calibration.threshold
            print(f"calibrated threshold {threshold:.4f} for {calibration.target} {calibration.value} on {calibration.examples} rows", file=sys.stderr)
            if args.save_threshold:
                print(f"stored in {store_threshold(args.model, calibration)}", file=sys.stderr)
        if threshold is None:
            threshold = default_threshold(scorer)
        rows = decide(examples, scorer.unsafe_scores(examples), threshold, scorer.mode)
        if args.categories:
            if not hasattr(scorer, "category_scores"):
                raise InputError("--categories needs judge mode (--judge)")
            flagged = [i for i, r in enumerate(rows) if r.decision == "unsafe"]
            for i, cats in zip(flagged, scorer.category_scores([examples[i] for i in flagged])):
                add_categories([rows[i]], [cats])
    finally:
        backend = getattr(scorer, "backend", None)
        if backend is not None:
            backend.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row.model_dump_json() + "\n")
    unsafe = sum(r.decision == "unsafe" for r in rows)
    print(f"{unsafe}/{len(rows)} unsafe at threshold {threshold:.4f} ({scorer.mode}); wrote {out}")
    return 0
