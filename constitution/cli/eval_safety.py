"""``constitution eval-safety (--model RM_DIR | --judge MODEL) --moderation FILE --xstest FILE``: AUROC/AUPRC/F1 on
OpenAI moderation samples (unknown labels excluded; per category where labelled) and the false-positive rate on
XSTest's safe prompts. Give at least one of the two sets. Prints one JSON object (also written atomically to
OUT/safety_eval.json with --out)."""

from __future__ import annotations

import argparse
from pathlib import Path

from constitution.atomic import atomic_write_text
from constitution.cli._flags import add_fields, build, given
from constitution.cli._scorer_flags import add_scorer_flags, scorer_from_args
from constitution.safety.config import SafetyEvalConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-safety", help="safety metrics on OpenAI moderation and XSTest", description=__doc__)
    add_scorer_flags(p)
    add_fields(p.add_argument_group("evaluation"), SafetyEvalConfig)
    p.add_argument("--out", default=None, help="folder for safety_eval.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.safety.evaluation import evaluate_safety

    config = build(SafetyEvalConfig, given(args, SafetyEvalConfig.model_fields), "eval-safety")
    config.check_files()  # before a model loads
    scorer = scorer_from_args(args)
    try:
        report = evaluate_safety(scorer, config)
    finally:
        scorer.close()
    text = report.model_dump_json(indent=2, exclude_unset=True)
    print(text)
    if args.out:
        atomic_write_text(Path(args.out) / "safety_eval.json", text)
    return 0
