"""``constitution label PAIRS --out DIR``: soft AI preference labels for pairs, judged against the constitution.

Pairs are read lazily and labelled as a stream: memory does not grow with the dataset. DIR receives
``labels.jsonl`` (one record per pair, written as each pair finishes), the AI-feedback dataset (a `datasets` folder
that TRL's RewardTrainer/DPOTrainer read as is), ``summary.json``, ``truncated.jsonl`` / ``skipped.jsonl`` (pairs
shortened to fit the judge, and pairs not labelled, by id) and, unless ``--cache`` moves it, ``judgments.sqlite``:
the judgment cache that makes a re-run resume after a crash and re-judge only edited principles.

With several ``--judge`` a jury labels: each judge labels every pair into DIR/judges/<name>/ (one after the other,
through the same judgment cache), and DIR gets the jury's labels (the judges' weighted mean, for pairs at least
``--quorum`` judges labelled) with a summary that adds each judge's figures, Cohen's kappa per pair of judges and
Krippendorff's alpha.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._judges import add_judge_flags, judges_from_args
from constitution.cli._llm_flags import add_llm_flags
from constitution.labeling.config import LabelConfig
from constitution.llm.config import RayConfig

RAY = {name: f"--ray-{name.replace('_', '-')}" for name in RayConfig.model_fields}
LABELING = {"chain_of_thought": "--cot"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="label pairs with the judge (soft AI feedback)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", help="pairs: JSONL/Parquet/CSV/datasets folder or hub id")
    p.add_argument("--out", required=True, help="output folder")
    add_constitution_flag(p)
    p.add_argument("--limit", type=int, default=None, help="label only the first N pairs")
    p.add_argument("--cache", default=None, help="judgment cache (default OUT/judgments.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--strict", action="store_true",
        help="stop at the first unreadable input row, before the judge is loaded (default: list it in skipped.jsonl, "
        "label the rest, exit 2 at the end)",
    )  # fmt: skip
    add_fields(p.add_argument_group("labeling"), LabelConfig, names=LABELING)
    add_llm_flags(p, "judge", model_flag=None)
    add_judge_flags(p)
    engine = p.add_argument_group("engine")
    engine.add_argument("--engine", choices=["local", "ray"], default="local", help="judge in this process, or on Ray actors (default: local)")
    add_fields(engine, RayConfig, prefix="ray_", names=RAY, suffix=" [--engine ray]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.data.pairs import scan_pairs
    from constitution.errors import InputError
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.jury.config import check_quorum
    from constitution.labeling.jury.summary import JurySummary
    from constitution.labeling.jury.table import status
    from constitution.labeling.run import describe, label_dataset
    from constitution.loader import load_constitution

    constitution = load_constitution(constitution_path(args.constitution))
    config = build(LabelConfig, given(args, LabelConfig.model_fields), "labeling", LABELING)
    judges = judges_from_args(args)
    check_quorum(args.quorum, len(judges))
    ray = build(RayConfig, given(args, RayConfig.model_fields, prefix="ray_"), "ray", RAY)
    first_bad: list[InputError] = []
    # One pass over the input before the judge loads: a broken file stops here, and the progress bar gets a total.
    scan = scan_pairs(args.pairs, limit=args.limit, on_bad=None if args.strict else first_bad.append)
    out = Path(args.out)
    with JudgmentCache(args.cache or out / "judgments.sqlite") as cache:
        summary = label_dataset(
            args.pairs, out, constitution, judges, cache, config, engine=args.engine, ray=ray, quorum=args.quorum,
            limit=args.limit, total=scan.kept, show_progress=not args.no_progress,
        )  # fmt: skip
    print(describe(summary))
    if isinstance(summary, JurySummary):
        for member in summary.members:
            if status(member) != "ok":
                print(f"warning: judge {member.name}: {status(member)}", file=sys.stderr)
    if scan.dropped_mismatched:
        print(f"note: dropped {scan.dropped_mismatched} pair(s) whose dialogues differ before the last turn "
              f"(first: {', '.join(scan.dropped_where)})", file=sys.stderr)  # fmt: skip
    print(f"wrote {summary.pairs + summary.pairs_identical} labels to {out}")
    if summary.rows_bad:
        print(f"error: {summary.rows_bad} input row(s) could not be read and were skipped (listed in "
              f"{out / 'skipped.jsonl'}); the first: {first_bad[0]}", file=sys.stderr)  # fmt: skip
        return 2
    if summary.pairs_failed:
        print(f"error: {summary.pairs_failed} pair(s) failed (listed in {out / 'skipped.jsonl'}); rerun to retry them "
              "(every finished judgment is cached)", file=sys.stderr)  # fmt: skip
        return 1
    return 0

