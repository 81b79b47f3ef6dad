"""``constitution bench MODEL DATA`` or ``constitution bench --judge MODEL DATA``: accuracy on a preference benchmark.

DATA is in RewardBench's layout (``prompt``, ``chosen``, ``rejected``, ``subset``): a JSONL/CSV/Parquet file, a
`datasets` folder, or a hub id such as ``allenai/reward-bench`` when online. MODEL is a reward model folder (with
``constitution_reward.json``, or any sequence-classification model): a row counts when the chosen response gets the
higher reward. With ``--judge`` a generative judge is asked with the constitution's principles (or only
``--principle ID``) in both orders: a row counts 1 when both orders prefer the chosen response and 0.5 when the
verdict changes with the order (RewardBench asks once, in a random order). Prints accuracy per subset and per
RewardBench section (Chat, Chat Hard, Safety, Reasoning; other subsets under ``other``); ``--out`` writes the JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from constitution.atomic import atomic_write_text
from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.errors import InputError

if TYPE_CHECKING:
    from constitution.preference_bench import BenchResult, BenchRow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="accuracy of a reward model or judge on a preference benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", default=None, help="reward model folder (or sequence-classification model); not with --judge")
    p.add_argument("data", help="benchmark rows {prompt, chosen, rejected, subset}: file, datasets folder or hub id")
    p.add_argument("--out", default=None, help="write the result as JSON here")
    p.add_argument("--limit", type=int, default=None, help="the first N rows")
    p.add_argument("--split", default=None, help="hub datasets: the split (default: 'filtered' where there is one, else the first)")
    p.add_argument("--batch-size", type=int, default=64, help="reward model: responses per forward pass (default 64)")
    add_constitution_flag(p)
    p.add_argument("--principle", default=None, help="judge: ask only this principle (default: the constitution's sampling rule)")
    p.add_argument("--cache", default=None, help="judge: judgment cache to reuse (default: a temporary one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_llm_flags(p, "judge", model_flag="--judge")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.preference_bench import bench_reward_model, format_result, read_bench

    if (args.model is None) == (args.judge_model is None):
        raise InputError("give a reward model (MODEL) or a judge (--judge MODEL), one of the two")
    total = sum(1 for _ in read_bench(args.data, limit=args.limit, split=args.split))  # a bad row stops here, before a model loads
    rows = read_bench(args.data, limit=args.limit, split=args.split)
    if args.model is not None:
        from constitution.reward.model import RewardModel

        result = bench_reward_model(RewardModel.load(args.model), rows, name=args.model, data=args.data, batch_size=args.batch_size)
    else:
        result = _bench_judge(args, rows, total)
    print(format_result(result))
    if args.out:
        atomic_write_text(Path(args.out), result.model_dump_json(indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _bench_judge(args: argparse.Namespace, rows: Iterable[BenchRow], total: int) -> BenchResult:
    from constitution.loader import load_constitution
    from constitution.preference_bench import bench_judge_job

    constitution = load_constitution(constitution_path(args.constitution))
    if args.principle:
        constitution = constitution.pinned([args.principle])
    judge = llm_from_args(args, "judge")
    return bench_judge_job(constitution, judge, rows, data=args.data, cache=args.cache, total=total, show_progress=not args.no_progress)
