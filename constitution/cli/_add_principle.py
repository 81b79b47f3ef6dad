"""``constitution train LABELS --out DIR --add-principle ID``: one more head on a per-principle reward model.

The principle comes from ``--constitution``. Pairs of LABELS that lack its label, and that the constitution's
sampling rule asks it about, are judged through the judgment cache (``--cache``, default ``LABELS/judgments.sqlite``
for a labels folder): only the new principle is asked, and judgments already cached are not asked again. Then only
the new head is fitted, on frozen features (:mod:`constitution.reward.add_head`); the backbone and the other heads
are left bit for bit as they were.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from constitution.cli._common import constitution_path
from constitution.cli._llm_flags import llm_from_args
from constitution.principles import Constitution, ResolvedPrinciple, Sampling
from constitution.reward.add_head import AddHeadResult, add_principle_head
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.principle_pairs import PrinciplePair, load_principle_pairs


def default_cache(data: str) -> Path:
    """Where ``constitution label`` put the judgment cache for this data: inside a labels folder, else beside the file."""
    path = Path(data)
    return (path if path.is_dir() else path.parent) / "judgments.sqlite"


def _judge_missing(pairs: list[PrinciplePair], principle: ResolvedPrinciple, constitution: Constitution, args: argparse.Namespace) -> None:
    """Ask the judge ``principle`` about ``pairs`` (through the cache) and add the labels to their per_principle."""
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.labeler import Labeler, label_pairs
    from constitution.llm.factory import make_llm

    only = constitution.model_copy(update={"principles": (principle,), "sampling": Sampling(rule="all")})
    llm = make_llm(llm_from_args(args, "judge"))
    try:
        with JudgmentCache(args.cache or default_cache(args.data)) as cache:
            records, summary = label_pairs(Labeler(only, llm, cache), pairs)
    finally:
        llm.close()
    by_id = {r.id: r.per_principle[principle.id] for r in records}
    for pair in pairs:
        if pair.id in by_id:
            pair.per_principle[principle.id] = by_id[pair.id]
    print(
        f"principle {principle.id}: {summary.judgments_computed} judgments asked, {summary.judgments_cached} cached, "
        f"{summary.pairs_skipped + summary.pairs_failed} pair(s) not labelled",
        file=sys.stderr,
    )


def add_principle(args: argparse.Namespace, config: RewardTrainingConfig) -> AddHeadResult:
    """Label what is missing for ``--add-principle``, then fit its head into ``--out``."""
    from constitution.loader import load_constitution

    constitution = load_constitution(constitution_path(args.constitution))
    principle = constitution.principle(args.add_principle)
    pairs = load_principle_pairs(args.data, limit=args.limit)
    missing = [
        p for p in pairs if principle.id not in p.per_principle and principle.id in {q.id for q in constitution.plan(p.pair_hash())}
    ]
    if missing:
        _judge_missing(missing, principle, constitution, args)
    return add_principle_head(args.from_model or args.out, args.out, principle, pairs, config)
