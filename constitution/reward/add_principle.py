"""Add a principle to a per-principle reward model (``constitution train --add-principle``): the whole job.

The pairs that lack the principle's label, and that the constitution's sampling rule asks it about, are labelled by
a judge that is asked about that principle only (a constitution holding just it, rule ``all``); the labels join the
pairs by pair id (so the pairs to label must have distinct ids), and the new head is fitted on frozen features
(:mod:`add_head`): the backbone and the other heads stay bit for bit as they were. The judge is passed in
(:data:`principle_pairs.PrincipleJudge`; labeling sits above reward models in the import layers):
``constitution.labeling.principle_judge`` gives one over an LLM and the judgment cache, called only when some label
is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from constitution.errors import InputError
from constitution.principles import Constitution, ResolvedPrinciple, Sampling
from constitution.reward.add_head import AddHeadResult, add_principle_head
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.principle_pairs import JudgedLabels, PrincipleJudge, PrinciplePair


class AddPrincipleResult(AddHeadResult):
    """What adding a head did, and how many of its labels had to be asked for."""

    judgments_computed: int = Field(0, description="judgments of the new principle the judge computed")
    judgments_cached: int = Field(0, description="judgments of it found in the judgment cache")
    pairs_unlabelled: int = Field(0, description="pairs that lacked its label and got none (skipped or failed)")


def missing_pairs(pairs: Sequence[PrinciplePair], principle: ResolvedPrinciple, constitution: Constitution) -> list[PrinciplePair]:
    """The pairs without a label for ``principle`` that the constitution's sampling rule asks it about."""
    return [p for p in pairs if principle.id not in p.per_principle and principle.id in {q.id for q in constitution.plan(p.pair_hash())}]


def require_distinct_ids(pairs: Sequence[PrinciplePair], principle: ResolvedPrinciple) -> None:
    """InputError naming the first id that two of ``pairs`` share: their labels come back by pair id."""
    seen: set[str] = set()
    for pair in pairs:
        if pair.id in seen:
            raise InputError(
                f"pair id {pair.id!r} appears twice among the pairs lacking a label for principle {principle.id!r}: the "
                "judge's labels are merged back by pair id, so every pair needs its own id", where=pair.source,
            )  # fmt: skip
        seen.add(pair.id)


def only_principle(constitution: Constitution, principle: ResolvedPrinciple) -> Constitution:
    """The constitution reduced to ``principle``, asked about every pair."""
    return constitution.model_copy(update={"principles": (principle,), "sampling": Sampling(rule="all")})


def add_principle(
    source: str | Path,
    out_dir: str | Path,
    constitution: Constitution,
    principle_id: str,
    pairs: Sequence[PrinciplePair],
    *,
    judge: PrincipleJudge | None = None,
    config: RewardTrainingConfig | None = None,
) -> AddPrincipleResult:
    """Label what ``pairs`` lack for ``principle_id`` with ``judge``, then write the model at ``source`` with its head
    added to ``out_dir`` (may be ``source``). InputError for a principle the constitution lacks, or for missing
    labels without a judge, or for two pairs lacking the label under one id."""
    principle = constitution.principle(principle_id)
    missing = missing_pairs(pairs, principle, constitution)
    judged = JudgedLabels(labels={})
    if missing:
        if judge is None:
            raise InputError(f"{len(missing)} pair(s) lack a label for principle {principle.id!r}, and no judge was given", where=principle.where)
        require_distinct_ids(missing, principle)
        judged = judge(only_principle(constitution, principle), missing)
        for pair in missing:
            if pair.id in judged.labels:
                pair.per_principle[principle.id] = judged.labels[pair.id]
    result = add_principle_head(source, out_dir, principle, pairs, config)
    return AddPrincipleResult(
        **result.model_dump(), judgments_computed=judged.computed, judgments_cached=judged.cached, pairs_unlabelled=judged.unlabelled
    )
