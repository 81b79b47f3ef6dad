"""``constitution score-steps MODEL TRACES --out FILE``: per-step scores of reasoning traces with a process reward model.

TRACES is any file ``label-steps`` reads (stepwise rows or plain traces split at the model's separator), read and
scored a chunk at a time. Each output row has ``id``, ``step_scores`` (P(step good), one per step: every step is
scored), ``truncated_steps`` (steps read without their whole prefix: the trace is longer than the model's
max_length), the trace's ``score`` (the ``--aggregate`` of its steps: min, product or last; default: the model's) and
``first_error`` (the first step scored below ``--threshold``, or -1). The summary printed (JSON) counts the traces,
steps and truncated steps, with the ProcessBench figures on the traces that carry labels. A row that cannot be
read is listed on stderr and counted (``rows_bad``), the others scored (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score-steps", help="per-step scores with a process reward model", description=__doc__)
    p.add_argument("model", help="process reward model folder (`constitution train --kind process`)")
    p.add_argument("traces", help="JSONL/Parquet/CSV file or datasets folder of traces")
    p.add_argument("--out", required=True, help="output .jsonl")
    p.add_argument("--aggregate", choices=["min", "product", "last"], default=None, help="trace score from step scores (default: the model's)")
    p.add_argument("--threshold", type=float, default=None, help="a step below this is an error (default: the model's)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.cli._common import write_jsonl
    from constitution.data.steps import StepReader
    from constitution.reward.process.model import ProcessRewardModel
    from constitution.reward.process.score import StepScoring

    out = Path(args.out)
    if out.suffix != ".jsonl":
        raise InputError("--out must end in .jsonl", where=str(out))
    model = ProcessRewardModel.load(args.model, aggregate_by=args.aggregate)
    bad: list[InputError] = []  # one bad row is listed and counted, never stops the run
    traces = StepReader(args.traces, separator=model.metadata.separator, limit=args.limit, on_bad=bad.append)
    scoring = StepScoring(model, threshold=args.threshold, batch_size=args.batch_size)
    write_jsonl(out, (r.model_dump_json() for r in scoring.rows(traces)))
    summary = scoring.summary().model_copy(update={"rows_bad": len(bad)})
    print(summary.model_dump_json())
    print(f"scored {summary.traces} traces ({model.aggregate_by}), {summary.truncated_steps} step(s) read truncated -> {out}", file=sys.stderr)
    for error in bad:
        print(f"skipped: {error}", file=sys.stderr)
    return 2 if bad else 0
