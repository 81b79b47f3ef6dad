"""``constitution export MODEL --scalar --out DIR [--constitution C]``: a per-principle reward model as a plain scalar
one.

The constitution-weighted mean of linear heads is itself one linear head, so DIR is a standard transformers folder
(AutoModelForSequenceClassification, num_labels=1) whose score equals the weighted reward (up to float rounding),
loadable by TRL and OpenRLHF unchanged. The weights are --constitution's (default: the training weights), frozen
into DIR; constitution_reward.json records them and the source model. Prints the result as JSON.
"""

from __future__ import annotations

import argparse
import json

from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a per-principle reward model as a scalar one", description=__doc__)
    p.add_argument("model", help="per-principle reward model folder")
    p.add_argument("--scalar", action="store_true", required=True, help="collapse the weighted heads into one scalar head")
    p.add_argument("--out", required=True, help="output folder (replaced as a whole when complete)")
    add_heads_constitution_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.reward.export import export_scalar

    result = export_scalar(args.model, args.out, heads_constitution(args.constitution))
    print(json.dumps(result.model_dump()))
    return 0
