"""``constitution label-steps TRACES --out DIR``: soft step labels for reasoning traces, judged step by step.

TRACES holds TRL stepwise rows (``prompt``, ``completions``: the steps) or plain traces (``prompt`` and a
``response``/``completion``/``trace``/``text`` string, split into steps at --separator). For each step the judge sees
the conversation, the steps so far and the step, and answers each step principle's question (``kind:
step_principle_set`` files in the --constitution folder, else the packaged ``steps.yaml``), in both option orders.

DIR receives ``labels.jsonl`` (TRL's stepwise layout: ``labels`` are bools, true where P(step good) >= 0.5, as TRL's
PRM trainer reads them; ``soft_labels`` the probabilities, which ``train --kind process`` learns; plus
``per_principle``), a `datasets` folder of the same rows (empty when nothing was labelled), ``summary.json``, ``skipped.jsonl`` and, unless --cache moves it,
``judgments.sqlite``: judgments are cached per (prompt, steps before, step), so a re-run resumes and editing step k
of a trace re-judges only steps k and later. A bad row is listed in skipped.jsonl and the rest labelled (exit 2).
With several --judge a jury labels: each judge labels every trace into DIR/judges/<name>/ (one after the other,
through the same judgment cache) and DIR gets their weighted mean, for the traces at least --quorum judges labelled
(trace ids must be unique: the judges' labels are matched by id).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._judges import add_judge_flags, judges_from_args
from constitution.cli._llm_flags import add_llm_flags
from constitution.labeling.steps.labeler import StepLabelConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label-steps", help="label each step of reasoning traces with the judge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("traces", help="traces: JSONL/Parquet/CSV file or datasets folder")
    p.add_argument("--out", required=True, help="output folder")
    add_constitution_flag(p)
    p.add_argument("--separator", default="\n\n", help="splits plain traces into steps (default: a blank line)")
    p.add_argument("--limit", type=int, default=None, help="label only the first N traces")
    p.add_argument("--cache", default=None, help="judgment cache (default OUT/judgments.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_fields(p.add_argument_group("step labeling"), StepLabelConfig)
    add_llm_flags(p, "judge", model_flag=None)
    add_judge_flags(p)
    p.set_defaults(func=run)


def _principles(given_path: str | None):
    from constitution.errors import InputError
    from constitution.resources import default_principles
    from constitution.step_principles import load_step_principles

    path = constitution_path(given_path)
    try:
        return load_step_principles(path)
    except InputError as exc:
        if "no step_principle_set file" not in str(exc):
            raise
    print(f"note: no step principles in {path}; using the packaged ones", file=sys.stderr)
    return load_step_principles(default_principles())


def run(args: argparse.Namespace) -> int:
    from constitution.data.steps import StepReader
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.jury.config import check_quorum
    from constitution.labeling.steps.run import label_traces

    principles = _principles(args.constitution)
    config = build(StepLabelConfig, given(args, StepLabelConfig.model_fields), "step labeling")
    judges = judges_from_args(args)
    check_quorum(args.quorum, len(judges))
    out = Path(args.out)
    reader = StepReader(args.traces, separator=args.separator, limit=args.limit)
    with JudgmentCache(Path(args.cache or out / "judgments.sqlite")) as cache:
        summary = label_traces(principles, judges, cache, config, reader, out, quorum=args.quorum, show_progress=not args.no_progress)
    print(summary.model_dump_json(indent=2))
    if summary.rows_bad:
        print(f"error: {summary.rows_bad} input row(s) could not be read and were skipped (listed in {out / 'skipped.jsonl'})", file=sys.stderr)
        return 2
    if summary.traces_failed:
        print(f"error: {summary.traces_failed} trace(s) failed (listed in {out / 'skipped.jsonl'}); rerun to retry them", file=sys.stderr)
        return 1
    return 0
