"""Reward-head kinds, decided in one place: what each kind trains on, how it chooses its heads, how it trains.

``RewardTrainingConfig.heads`` names a registered :class:`HeadKind` ("scalar": one head on the ensembled label;
"per_principle": one head per principle of the constitution). The CLI (``constitution train``), the pipeline and the
RL refresh all go through :mod:`constitution.reward.training`; a new kind is one :func:`register_kind` call.
Heads fitted afterwards on frozen features (``--add-principle``, safety categories) extend a trained model and are
not kinds. Light: torch and transformers load only when a kind trains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constitution.data.pairs import load_pairs
from constitution.data.records import FeedbackRecord, Pair
from constitution.errors import InputError
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.reward.principle_pairs import PrinciplePair, load_principle_pairs, principle_heads

@dataclass(frozen=True)
class HeadKind:
    """One kind of outcome reward model."""

    name: str
    load: Callable[[str | Path, int | None], tuple[list[Pair], dict[str, Any]]]
    """Pairs of a source (up to a limit) and a load report."""
    heads: Callable[[Sequence[Pair], Constitution | None], list[ResolvedPrinciple]]
    """The principles that get a head; empty: one scalar head."""
    record_pair: Callable[[FeedbackRecord], Pair]
    """A labelled record as a training pair (the RL refresh's gold labels)."""
    needs_constitution: bool = False
    train: Callable[..., Any] | None = None
    """``train(config, pairs, out, **keywords)`` as ``train_reward_model``; None: ``train_reward_model`` itself."""


KINDS: dict[str, HeadKind] = {}


def register_kind(kind: HeadKind) -> HeadKind:
    """Make ``kind`` a valid ``RewardTrainingConfig.heads``."""
    KINDS[kind.name] = kind
    return kind


def head_kind(name: str) -> HeadKind:
    """The registered kind ``name``; InputError naming the known ones otherwise."""
    if name not in KINDS:
        raise InputError(f"unknown reward-head kind {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]


def kind_of(head_ids: Sequence[str]) -> str:
    """The kind of a trained model from its metadata's head ids."""
    return "per_principle" if head_ids else "scalar"


def _fields(r: FeedbackRecord) -> dict[str, Any]:
    return {"id": r.id, "prompt": r.prompt, "response_a": r.response_a, "response_b": r.response_b, "p_a": r.p_a}


def _load_scalar(source: str | Path, limit: int | None) -> tuple[list[Pair], dict[str, Any]]:
    pairs, report = load_pairs(source, limit=limit)
    return pairs, report.model_dump()


def _load_principle(source: str | Path, limit: int | None) -> tuple[list[Pair], dict[str, Any]]:
    pairs = load_principle_pairs(source, limit=limit)
    return list(pairs), {"source": str(source), "kept": len(pairs)}


register_kind(HeadKind("scalar", _load_scalar, lambda pairs, constitution: [], lambda r: Pair(**_fields(r))))
register_kind(
    HeadKind(
        "per_principle", _load_principle, principle_heads,
        lambda r: PrinciplePair(**_fields(r), per_principle=r.per_principle), needs_constitution=True,
    )
)  # fmt: skip
