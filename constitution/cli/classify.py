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
from constitution.cli._flags import add_fields, build, given
from constitution.cli._scorer_flags import add_scorer_flags, scorer_from_args
from constitution.errors import InputError
from constitution.safety.config import ClassifyConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="safety classification (reward or judge mode)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="JSONL/CSV/Parquet/datasets rows to classify")
    p.add_argument("--out", required=True, help="output JSONL")
    add_scorer_flags(p)
    decisions = p.add_argument_group("decisions")
    add_fields(decisions, ClassifyConfig, ["threshold", "categories", "limit"])
    add_fields(decisions.add_mutually_exclusive_group(), ClassifyConfig, ["target_fpr", "target_precision"])
    decisions.add_argument("--calibrate", default=None, help="labelled validation file to choose the threshold on")
    decisions.add_argument("--save-threshold", action="store_true", help="reward mode: store the calibrated threshold in the model's metadata")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.safety.classify import classify
    from constitution.safety.datasets import load_examples
    from constitution.safety.reward_mode import store_threshold

    config = build(ClassifyConfig, given(args, ClassifyConfig.model_fields), "classify")
    if args.save_threshold and not (args.model and args.calibrate):
        raise InputError("--save-threshold needs reward mode (--model) and a --calibrate file")
    examples = load_examples(args.input, limit=config.limit)
    validation = load_examples(args.calibrate) if args.calibrate and config.threshold is None else None
    scorer = scorer_from_args(args)
    try:
        result = classify(scorer, examples, config, validation)
    finally:
        scorer.close()
    if result.calibration is not None:
        c = result.calibration
        print(f"calibrated threshold {c.threshold:.4f} for {c.target} {c.value} on {c.examples} rows", file=sys.stderr)
        if args.save_threshold:
            print(f"stored in {store_threshold(args.model, c)}", file=sys.stderr)
    out = write_jsonl(Path(args.out), (row.model_dump_json() for row in result.rows))
    unsafe = sum(r.decision == "unsafe" for r in result.rows)
    print(f"{unsafe}/{len(result.rows)} unsafe at threshold {result.threshold:.4f} ({scorer.mode}); wrote {out}")
    return 0
