"""Label statistics, accumulated pair by pair (memory does not grow with the run): position bias, margins,
agreement with reference labels, per-principle figures, and the run summary."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field

from constitution.data.records import FeedbackRecord


class PrincipleStats(BaseModel):
    """Label statistics of one principle over a run."""

    principle_id: str
    judged_pairs: int
    mean_p_a: float
    mean_margin: float = Field(description="mean |p - 0.5| after debiasing")
    same_position_pct: float | None = Field(None, description="% of pairs where both orders preferred the same slot")
    slot_a_pct: float = Field(description="% of single-order judgments that preferred slot (A)")
    agreement: float | None = Field(None, description="agreement of the debiased label with the reference label")


class LabelSummary(BaseModel):
    """What a labeling run did and how the labels look."""

    judge: str
    constitution_hash: str
    pairs: int = Field(description="pairs labelled by the judge")
    pairs_identical: int = Field(
        0, description="pairs whose two responses are identical: recorded with p = 0.5 (a tie by definition), not judged"
    )
    pairs_truncated: int = Field(0, description="labelled with the conversation's earliest turns dropped to fit")
    pairs_skipped: int = Field(0, description="too long for the judge even with only the last user turn")
    pairs_failed: int = Field(0, description="a judgment failed (every retry); rerun to retry them")
    rows_bad: int = Field(0, description="input rows that could not be read (listed in skipped.jsonl)")
    judgments: int
    judgments_computed: int = Field(description="asked of the judge and answered in this run")
    judgments_cached: int = Field(description="found in the judgment cache (failed judgments are neither)")
    seconds: float
    pairs_per_s: float
    judgments_per_s: float
    same_position_pct: float | None = Field(None, description="% of (pair, principle) where both orders chose the same slot")
    slot_a_pct: float | None = Field(None, description="% of single-order judgments preferring slot (A): the judge's position bias")
    position_consistent_pct: float | None = Field(None, description="% of pairs whose ensembled orders agree")
    mean_margin: float | None = Field(None, description="mean |p_a - 0.5| of the labels")
    principle_disagreement: float | None = Field(
        None, description="mean share of principle pairs (within one labelled pair) that prefer different responses"
    )
    agreement: float | None = Field(None, description="agreement with the input's labels, debiased and ensembled")
    agreement_first_order: float | None = Field(None, description="the same using only the A/B order (no debiasing)")
    per_principle: list[PrincipleStats]


def agreement_score(predicted: float, reference: float) -> float | None:
    """1 if the label prefers the reference's response, 0 if not, 0.5 for a tie (0.5); None for a tied reference."""
    if reference == 0.5:
        return None
    if predicted == 0.5:
        return 0.5
    return float((predicted > 0.5) == (reference > 0.5))


def agreement(predicted: list[float], reference: list[float]) -> float | None:
    """Share of pairs where the label prefers the same response as the reference; a tie counts half."""
    mean = Mean()
    for p, r in zip(predicted, reference):
        mean.add(agreement_score(p, r))
    return mean.value


class Mean:
    """A running mean (None until a value is added); ``add(None)`` is ignored."""

    __slots__ = ("total", "n")

    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total += value
            self.n += 1

    @property
    def value(self) -> float | None:
        return self.total / self.n if self.n else None

    def pct(self) -> float | None:
        return None if self.value is None else 100.0 * self.value


class _PrincipleAccumulator:
    __slots__ = ("p", "margin", "same", "slot_a", "agree")

    def __init__(self) -> None:
        self.p, self.margin, self.same, self.slot_a, self.agree = Mean(), Mean(), Mean(), Mean(), Mean()


class LabelStats:
    """Accumulates run and per-principle statistics, one labelled pair at a time."""

    def __init__(self) -> None:
        self.slot_a = Mean()
        self.same_position = Mean()
        self.consistent = Mean()
        self.margin = Mean()
        self.disagreement = Mean()
        self.agree = Mean()
        self.agree_first_order = Mean()
        self.principles: dict[str, _PrincipleAccumulator] = defaultdict(_PrincipleAccumulator)
        self.pairs = 0

    def add(self, record: FeedbackRecord, per_order: dict[str, dict[str, float]], first_order: float) -> None:
        """One labelled pair: its record, P(response_a) per principle and order, and the A/B-order-only label."""
        self.pairs += 1
        reference = record.reference_p_a
        self.margin.add(abs(record.p_a - 0.5))
        if record.position_consistent is not None:
            self.consistent.add(float(record.position_consistent))
        if reference is not None:
            self.agree.add(agreement_score(record.p_a, reference))
            self.agree_first_order.add(agreement_score(first_order, reference))
        votes = [p > 0.5 for p in record.per_principle.values()]
        if len(votes) >= 2:
            yes, n = sum(votes), len(votes)
            self.disagreement.add(yes * (n - yes) / (n * (n - 1) / 2))
        for pid, orders in per_order.items():
            acc = self.principles[pid]
            p = record.per_principle[pid]
            acc.p.add(p)
            acc.margin.add(abs(p - 0.5))
            if reference is not None:
                acc.agree.add(agreement_score(p, reference))
            slots = [orders["ab"] > 0.5] if "ab" in orders else []
            if "ba" in orders:
                slots.append(orders["ba"] < 0.5)  # B/A shows response_b in slot (A)
            for chose_a in slots:
                acc.slot_a.add(float(chose_a))
                self.slot_a.add(float(chose_a))
            if len(orders) == 2:
                # The same slot both times means the verdict flipped with the order.
                same = float((orders["ab"] > 0.5) != (orders["ba"] > 0.5))
                acc.same.add(same)
                self.same_position.add(same)

    def summary(
        self,
        *,
        judge: str,
        constitution_hash: str,
        judgments: int,
        computed: int,
        cached: int,
        seconds: float,
        truncated: int = 0,
        skipped: int = 0,
        failed: int = 0,
        identical: int = 0,
    ) -> LabelSummary:
        """The run summary."""
        per_principle = [
            PrincipleStats(
                principle_id=pid,
                judged_pairs=acc.p.n,
                mean_p_a=acc.p.value or 0.0,
                mean_margin=acc.margin.value or 0.0,
                same_position_pct=acc.same.pct(),
                slot_a_pct=acc.slot_a.pct() or 0.0,
                agreement=acc.agree.value,
            )
            for pid, acc in sorted(self.principles.items())
        ]
        return LabelSummary(
            judge=judge,
            constitution_hash=constitution_hash,
            pairs=self.pairs,
            pairs_truncated=truncated,
            pairs_skipped=skipped,
            pairs_failed=failed,
            pairs_identical=identical,
            judgments=judgments,
            judgments_computed=computed,
            judgments_cached=cached,
            seconds=seconds,
            pairs_per_s=self.pairs / seconds if seconds > 0 else 0.0,
            judgments_per_s=computed / seconds if seconds > 0 else 0.0,
            same_position_pct=self.same_position.pct(),
            slot_a_pct=self.slot_a.pct(),
            position_consistent_pct=self.consistent.pct(),
            mean_margin=self.margin.value,
            principle_disagreement=self.disagreement.value,
            agreement=self.agree.value,
            agreement_first_order=self.agree_first_order.value,
            per_principle=per_principle,
        )
