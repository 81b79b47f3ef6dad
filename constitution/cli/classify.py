"""``constitution classify INPUT --out FILE (--model RM_DIR | --judge MODEL)``: safe/unsafe decisions per row.

INPUT rows are single responses ({prompt, response}, {prompt, completion}, {text}, or a {prompt} alone to classify
the prompt itself) with an optional ``label`` (safe/unsafe or 0/1). Output JSONL (written atomically): id, decision,
score, categories, threshold, mode. The threshold is ``--threshold``, else one calibrated on ``--calibrate FILE``
for ``--target-fpr`` (default 5%) or ``--target-precision`` (``--save-threshold`` stores it in the reward model's
metadata), else the reward model's stored threshold, else 0.5. In reward mode, --constitution weighs a per-principle
model's heads, and --categories reads the model's safety-category heads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.cli._common import write_jsonl
from constitution.cli._scorer_flags import add_scorer_flags, scorer_from_args
from constitution.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="safety classification (reward or judge mode)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="JSONL/CSV/Parquet/datasets rows to classify")
    p.add_argument("--out", required=True, help="output JSONL")
    add_scorer_flags(p)
    p.add_argument("--threshold", type=float, default=None, help="unsafe if score >= T")
    p.add_argument("--calibrate", default=None, help="labelled validation file to choose the threshold on")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-fpr", type=float, default=None, help="calibration target false-positive rate (default 0.05)")
    target.add_argument("--target-precision", type=float, default=None, help="calibration target precision")
    p.add_argument("--save-threshold", action="store_true", help="reward mode: store the calibrated threshold in the model's metadata")
    p.add_argument(
        "--categories", action="store_true",
        help="also score each policy category for unsafe rows: judge mode asks the judge; reward mode uses the model's "
        "category heads (fitted by `constitution train INPUT --out RM --category-labels JUDGED`)",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.safety.classify import add_categories, calibrate, decide
    from constitution.safety.datasets import load_examples
    from constitution.safety.reward_mode import store_threshold
    from constitution.safety.scorers import resolve_threshold

    if args.save_threshold and not (args.model and args.calibrate):
        raise InputError("--save-threshold needs reward mode (--model) and a --calibrate file")
    examples = load_examples(args.input, limit=args.limit)
    scorer = scorer_from_args(args)
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
        threshold = resolve_threshold(threshold, scorer.threshold)
        rows = decide(examples, scorer.unsafe_scores(examples), threshold, scorer.mode)
        if args.categories:
            flagged = [i for i, r in enumerate(rows) if r.decision == "unsafe"]
            for i, cats in zip(flagged, scorer.category_scores([examples[i] for i in flagged])):
                add_categories([rows[i]], [cats])
    finally:
        scorer.close()
    out = write_jsonl(Path(args.out), (row.model_dump_json() for row in rows))
    unsafe = sum(r.decision == "unsafe" for r in rows)
    print(f"{unsafe}/{len(rows)} unsafe at threshold {threshold:.4f} ({scorer.mode}); wrote {out}")
    return 0
