"""The effect of an edit on labels: the same pairs labelled under two constitutions, compared pair by pair.

A label *flips* when the chosen response changes (response A is chosen when ``p_a >= 0.5``, as in the records).
Per principle: how many pairs it took part in on each side, its mean P(response_a), how far its own verdicts moved
and crossed 0.5, and how many flipped labels it was part of (a pair where its P or its weight changed, or where it
entered or left the pair's sample). The pairs that moved most carry each principle's text and weight before and
after.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, Field

from constitution.data.records import FeedbackRecord, Pair
from constitution.errors import InputError
from constitution.principles import Constitution

EDGES = (0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""Bins of the |Δp| histogram."""
EPS = 1e-9


class PrincipleVerdict(BaseModel):
    """One principle's part in one pair's label, before and after (None where that side did not ask it)."""

    id: str
    text_old: str | None
    text_new: str | None
    weight_old: float | None
    weight_new: float | None
    p_old: float | None
    p_new: float | None

    @property
    def changed(self) -> bool:
        """Its P, weight or wording moved, or it entered or left the pair's sample."""
        if self.p_old is None or self.p_new is None:
            return True
        return abs(self.p_new - self.p_old) > EPS or self.weight_old != self.weight_new or self.text_old != self.text_new


class PairMove(BaseModel):
    """One pair's label before and after, with every principle asked on either side."""

    id: str
    prompt: str = Field(description="the last turn of the conversation")
    response_a: str
    response_b: str
    p_old: float
    p_new: float
    flipped: bool
    principles: list[PrincipleVerdict]

    @property
    def delta(self) -> float:
        return self.p_new - self.p_old


class PairDelta(BaseModel):
    """P(response_a) of one pair before and after."""

    id: str
    p_old: float
    p_new: float


class HistogramBin(BaseModel):
    low: float
    high: float
    pairs: int


class DeltaStats(BaseModel):
    """The distribution of |Δp| over the pairs labelled on both sides."""

    mean: float
    median: float
    p90: float
    p99: float
    max: float
    histogram: list[HistogramBin]


class PrincipleEffect(BaseModel):
    """What the edit did to one principle's verdicts."""

    id: str
    weight_old: float | None
    weight_new: float | None
    pairs_old: int = Field(description="pairs whose label it took part in, before")
    pairs_new: int = Field(description="the same, after")
    mean_p_old: float | None
    mean_p_new: float | None
    mean_abs_delta: float | None = Field(description="mean |Δ P(response_a)| over the pairs it judged on both sides")
    verdict_flips: int = Field(description="pairs where its own verdict crossed 0.5")
    label_flips: int = Field(description="flipped labels in pairs where it changed (P, weight, or in/out of the sample)")

    @property
    def changed(self) -> bool:
        """Its weight, the pairs it judged or its verdicts moved anywhere."""
        moved = (self.mean_abs_delta or 0.0) > EPS or self.verdict_flips or self.label_flips
        return bool(moved) or self.weight_old != self.weight_new or self.pairs_old != self.pairs_new


class LabelDiff(BaseModel):
    """Labels under the new constitution compared with labels under the old one, pair by pair (matched by id)."""

    pairs: int = Field(description="pairs labelled on both sides")
    only_old: list[str] = Field(default_factory=list, description="pair ids labelled only before (skipped or failed after)")
    only_new: list[str] = Field(default_factory=list, description="pair ids labelled only after")
    flipped: int
    flipped_to_a: int = Field(description="flips to response_a chosen")
    flipped_to_b: int
    flipped_ids: list[str] = Field(description="the pairs whose label flipped, in input order")
    delta: DeltaStats | None
    per_principle: list[PrincipleEffect]
    moved_most: list[PairMove]
    per_pair: list[PairDelta]


def _chose_a(p_a: float) -> bool:
    return p_a >= 0.5


def _delta_stats(deltas: np.ndarray) -> DeltaStats | None:
    if not deltas.size:
        return None
    counts, _ = np.histogram(np.clip(deltas, 0.0, 1.0), bins=np.asarray(EDGES))
    q50, q90, q99 = np.quantile(deltas, [0.5, 0.9, 0.99])
    return DeltaStats(
        mean=float(deltas.mean()),
        median=float(q50),
        p90=float(q90),
        p99=float(q99),
        max=float(deltas.max()),
        histogram=[HistogramBin(low=lo, high=hi, pairs=int(n)) for lo, hi, n in zip(EDGES, EDGES[1:], counts)],
    )


class _Effect:
    """Running figures of one principle."""

    def __init__(self) -> None:
        self.p_old: list[float] = []
        self.p_new: list[float] = []
        self.abs_delta: list[float] = []
        self.verdict_flips = 0
        self.label_flips = 0


def _verdicts(old: FeedbackRecord, new: FeedbackRecord, before: Constitution, after: Constitution) -> list[PrincipleVerdict]:
    texts_old = {p.id: p for p in before.principles}
    texts_new = {p.id: p for p in after.principles}
    ids = list(new.per_principle) + [pid for pid in old.per_principle if pid not in new.per_principle]
    out = []
    for pid in ids:
        a, b = texts_old.get(pid), texts_new.get(pid)
        out.append(
            PrincipleVerdict(
                id=pid,
                text_old=a.text if a else None,
                text_new=b.text if b else None,
                weight_old=a.weight if a else None,
                weight_new=b.weight if b else None,
                p_old=old.per_principle.get(pid),
                p_new=new.per_principle.get(pid),
            )
        )
    return out


def _move(old: FeedbackRecord, new: FeedbackRecord, verdicts: list[PrincipleVerdict]) -> PairMove:
    return PairMove(
        id=new.id,
        prompt=new.prompt[-1].content if new.prompt else "",
        response_a=new.response_a,
        response_b=new.response_b,
        p_old=old.p_a,
        p_new=new.p_a,
        flipped=_chose_a(old.p_a) != _chose_a(new.p_a),
        principles=verdicts,
    )


def check_unique_ids(items: Iterable[Pair | FeedbackRecord], where: str) -> None:
    """A diff matches pairs by id: InputError naming the first id that two pairs share (they would collapse)."""
    seen: dict[str, int] = {}
    for n, item in enumerate(items, 1):
        if item.id in seen:
            raise InputError(
                f"pair id {item.id!r} is used twice (pairs {seen[item.id]} and {n}): a diff matches pairs by id, so "
                "give each pair its own", where=where,
            )  # fmt: skip
        seen[item.id] = n


def compare_labels(
    old_records: Iterable[FeedbackRecord],
    new_records: Iterable[FeedbackRecord],
    before: Constitution,
    after: Constitution,
    *,
    top: int = 10,
) -> LabelDiff:
    """Compare the labels of the same pairs under ``before`` and ``after`` (records matched by ``id``; an id used
    twice on either side is an InputError)."""
    old_records, new_records = list(old_records), list(new_records)
    check_unique_ids(old_records, "the old labels")
    check_unique_ids(new_records, "the new labels")
    old_by_id = {r.id: r for r in old_records}
    effects: dict[str, _Effect] = {p.id: _Effect() for p in after.principles}
    effects.update({p.id: _Effect() for p in before.principles if p.id not in effects})
    moves: list[PairMove] = []
    only_new: list[str] = []
    to_a = to_b = 0
    for new in new_records:
        old = old_by_id.pop(new.id, None)
        if old is None:
            only_new.append(new.id)
            continue
        move = _move(old, new, _verdicts(old, new, before, after))
        if move.flipped:
            to_a += _chose_a(new.p_a)
            to_b += not _chose_a(new.p_a)
        for v in move.principles:
            effect = effects.setdefault(v.id, _Effect())
            if v.p_old is not None:
                effect.p_old.append(v.p_old)
            if v.p_new is not None:
                effect.p_new.append(v.p_new)
            if v.p_old is not None and v.p_new is not None:
                effect.abs_delta.append(abs(v.p_new - v.p_old))
                effect.verdict_flips += _chose_a(v.p_old) != _chose_a(v.p_new)
            effect.label_flips += move.flipped and v.changed
        moves.append(move)

    weights_old = {p.id: p.weight for p in before.principles}
    weights_new = {p.id: p.weight for p in after.principles}
    per_principle = [
        PrincipleEffect(
            id=pid,
            weight_old=weights_old.get(pid),
            weight_new=weights_new.get(pid),
            pairs_old=len(e.p_old),
            pairs_new=len(e.p_new),
            mean_p_old=float(np.mean(e.p_old)) if e.p_old else None,
            mean_p_new=float(np.mean(e.p_new)) if e.p_new else None,
            mean_abs_delta=float(np.mean(e.abs_delta)) if e.abs_delta else None,
            verdict_flips=e.verdict_flips,
            label_flips=e.label_flips,
        )
        for pid, e in effects.items()
    ]
    ranked = sorted((m for m in moves if abs(m.delta) > EPS), key=lambda m: (-abs(m.delta), m.id))
    return LabelDiff(
        pairs=len(moves),
        only_old=sorted(old_by_id),
        only_new=only_new,
        flipped=to_a + to_b,
        flipped_to_a=to_a,
        flipped_to_b=to_b,
        flipped_ids=[m.id for m in moves if m.flipped],
        delta=_delta_stats(np.asarray([abs(m.delta) for m in moves], dtype=float)),
        per_principle=per_principle,
        moved_most=ranked[:top],
        per_pair=[PairDelta(id=m.id, p_old=m.p_old, p_new=m.p_new) for m in moves],
    )
