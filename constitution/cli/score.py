"""``constitution score MODEL INPUT --out FILE``: batch-score responses with a reward model (or an ensemble).

INPUT (JSONL/Parquet/CSV/`datasets` folder) holds either pairs (any format ``train`` reads: both responses are
scored, giving reward_a/reward_b) or single responses ({prompt, response}, {prompt, completion} or {text}; see
``constitution.data.responses``). MODEL may be several folders joined by commas: an ensemble, giving the mean, std
and mean - k*std. Batches are length-sorted; a progress bar goes to stderr. FILE is .jsonl or .parquet, written
atomically.

A per-principle model scores with its heads weighted by --constitution (default: its training weights); --explain
adds one column per weighted principle, ``contribution_<id>`` (``contribution_<id>_a``/``_b`` for pairs): that
principle's share of the reward (w_k r_k; with --normalize w_k (r_k - mean_k) / std), summing to ``reward``.
"""

from __future__ import annotations

import argparse
import sys

from constitution.cli._flags import add_fields, build, given
from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution
from constitution.reward.score_table import ScoreConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="batch-score responses with a reward model", description=__doc__)
    p.add_argument("model", help="reward model folder, or several joined by commas (ensemble)")
    p.add_argument("input", help="JSONL/Parquet/CSV file or datasets folder")
    p.add_argument("--out", required=True, help="output .jsonl or .parquet")
    add_fields(p, ScoreConfig)
    add_heads_constitution_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.reward.score_table import read_score_input, reward_columns, score_table, table_path, write_table

    config = build(ScoreConfig, given(args, ScoreConfig.model_fields), "score")
    out = table_path(args.out)
    inputs = read_score_input(args.input, config.limit)  # a bad row stops here, before a model loads
    columns = reward_columns([p for p in args.model.split(",") if p], config, heads_constitution(args.constitution))
    rows = score_table(inputs, columns)
    write_table(rows, out)
    print(f"scored {len(rows)} rows -> {out}", file=sys.stderr)
    return 0
