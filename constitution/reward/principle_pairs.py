"""Pairs with their per-principle labels: what per-principle heads train on.

AI-feedback records (``constitution label``: ``labels.jsonl`` or its `datasets` folder, or any
``{prompt, response_a, response_b}`` file) carry ``per_principle``: principle id -> P(response_a preferred),
debiased, for the principles that judged the pair. In a `datasets` folder it is a JSON string; in JSONL a mapping.
A principle missing from a pair's ``per_principle`` did not judge it, so that pair does not train its head.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from constitution.data.pairs import row_to_pair
from constitution.data.records import Pair
from constitution.data.rows import iter_rows
from constitution.errors import InputError
from constitution.principles import Constitution, ResolvedPrinciple

COLUMNS = ("prompt", "response_a", "response_b", "per_principle")


class PrinciplePair(Pair):
    """A pair with the judge's per-principle labels (principle id -> P(response_a preferred))."""

    per_principle: dict[str, float] = Field(default_factory=dict)


def _per_principle(value: Any, where: str) -> dict[str, float]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise InputError(f"per_principle is not valid JSON ({exc.msg})", where=where) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"per_principle must map principle ids to P(response_a), got {type(value).__name__}", where=where)
    out: dict[str, float] = {}
    for key, p in value.items():
        if p is None:  # a column of mappings read from Parquet fills absent keys with null
            continue
        if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or not 0.0 <= p <= 1.0:
            raise InputError(f"per_principle.{key}: must be a probability in [0, 1], got {p!r}", where=where)
        out[str(key)] = float(p)
    return out


def load_principle_pairs(source: str | Path, *, limit: int | None = None) -> list[PrinciplePair]:
    """Every pair of an AI-feedback source (up to ``limit``) with its per-principle labels.

    Raises InputError (naming the row) for a source without ``response_a``/``response_b``/``per_principle`` columns
    or with a malformed ``per_principle``.
    """
    pairs: list[PrinciplePair] = []
    for index, (where, row) in enumerate(iter_rows(source)):
        if limit is not None and len(pairs) >= limit:
            break
        absent = [c for c in COLUMNS if c not in row]
        if absent:
            raise InputError(
                f"per-principle heads need AI-feedback records (`constitution label` output); missing column(s) {absent}",
                where=where,
            )
        pair = row_to_pair(row, "ab", where, row_id=str(index))
        assert pair is not None  # only HH dialogues can be dropped
        labels = _per_principle(row["per_principle"], where)
        pairs.append(PrinciplePair(**pair.model_dump(exclude={"source"}), source=str(source), per_principle=labels))
    if not pairs:
        raise InputError("no rows", where=str(source))
    return pairs


def require_principle_pairs(pairs: Sequence[Pair]) -> None:
    """Raise InputError unless every pair carries per-principle labels."""
    if not all(isinstance(p, PrinciplePair) for p in pairs):
        raise InputError("per-principle heads need pairs with per-principle labels (reward.principle_pairs.load_principle_pairs)")


def principle_heads(pairs: Sequence[Pair], constitution: Constitution | None) -> list[ResolvedPrinciple]:
    """The principles that get a head: the constitution's principles that judged at least one pair, in its order.

    Raises InputError without a constitution, for pairs without per-principle labels, and for a principle of
    positive weight that judged no pair (its head could not be trained; ``--add-principle`` adds it later).
    Principles that judged pairs but are absent from the constitution get no head.
    """
    if constitution is None:
        raise InputError("per-principle heads need the constitution whose principles (and weights) they follow")
    require_principle_pairs(pairs)
    judged = {pid for p in pairs for pid in p.per_principle}  # type: ignore[attr-defined]
    for principle in constitution.principles:
        if principle.weight > 0 and principle.id not in judged:
            raise InputError(
                f"principle {principle.id!r} judged none of the training pairs, so its head cannot be trained: label "
                f"the pairs with this constitution, or train without it and add it with --add-principle {principle.id}",
                where=principle.where,
            )
    heads = [p for p in constitution.principles if p.id in judged]
    if not heads:
        raise InputError(f"no principle of constitution {constitution.id!r} judged any training pair")
    return heads


class JudgedLabels(BaseModel):
    """One principle's labels asked of a judge for pairs that lacked them, and what asking cost."""

    labels: dict[str, float] = Field(description="pair id -> P(response_a preferred) under the principle")
    computed: int = Field(0, description="judgments the judge computed")
    cached: int = Field(0, description="judgments found in the judgment cache")
    unlabelled: int = Field(0, description="pairs that got no label (skipped or failed)")


PrincipleJudge = Callable[[Constitution, Sequence[PrinciplePair]], JudgedLabels]
"""Labels pairs under a constitution that holds one principle (``constitution.labeling.principle_judge`` gives one)."""
