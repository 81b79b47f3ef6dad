"""``constitution eval MODEL DATA [DATA...] [--out DIR]``: accuracy, calibration and length bias of a reward model.

Prints one JSON object: accuracy, ece, nll, reliability bins, accuracy when the chosen response is longer/shorter,
within-pair length bias (does the reward difference follow the length difference?) and a per-source breakdown. With --out, also writes eval.json and reliability.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from constitution.atomic import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a reward model on labelled pairs", description=__doc__)
    p.add_argument("model", help="reward model folder (or alias/hub id of a sequence-classification model)")
    p.add_argument("data", nargs="+", help="labelled pair files/folders (each is one source in the breakdown)")
    p.add_argument("--out", default=None, help="folder for eval.json and reliability.png")
    p.add_argument("--limit", type=int, default=None, help="first N pairs of each source")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.data.pairs import load_pairs
    from constitution.errors import InputError
    from constitution.reward.evaluate import evaluate_pairs, reliability_plot
    from constitution.reward.model import RewardModel

    pairs = [p for source in args.data for p in load_pairs(source, limit=args.limit)[0]]
    if not any(p.p_a is not None for p in pairs):
        raise InputError("no labelled pairs to evaluate on", where=", ".join(args.data))
    model = RewardModel.load(args.model)
    report = evaluate_pairs(model, pairs, batch_size=args.batch_size)
    blob = report.model_dump()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        blob["plot"] = str(reliability_plot(report, out / "reliability.png"))
        atomic_write_text(out / "eval.json", json.dumps(blob, indent=2) + "\n")
    print(json.dumps(blob))
    return 0
