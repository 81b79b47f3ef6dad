"""``constitution score-steps MODEL TRACES --out FILE``: per-step scores of reasoning traces with a process reward model.

TRACES is any file ``label-steps`` reads (stepwise rows or plain traces split at the model's separator). Each output
row has ``id``, ``step_scores`` (P(step good) per step; null for a step cut off by the model's max_length), the
trace's ``score`` (the ``--aggregate`` of its steps: min, product or last; default: the model's) and ``first_error``
(the first step scored below ``--threshold``, or -1). Traces with labels also get the ProcessBench figures printed.
"""

from __future__ import annotations

import argparse
import json
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
    from constitution.reward.process.score import score_traces

    out = Path(args.out)
    if out.suffix != ".jsonl":
        raise InputError("--out must end in .jsonl", where=str(out))
    model = ProcessRewardModel.load(args.model, aggregate_by=args.aggregate)
    traces = list(StepReader(args.traces, separator=model.metadata.separator, limit=args.limit))
    scored = score_traces(model, traces, threshold=args.threshold, batch_size=args.batch_size)
    write_jsonl(out, (json.dumps(r.model_dump()) for r in scored.rows))
    if scored.metrics is not None:
        print(json.dumps(scored.metrics))
    print(f"scored {len(scored.rows)} traces ({model.aggregate_by}) -> {out}", file=sys.stderr)
    return 0
