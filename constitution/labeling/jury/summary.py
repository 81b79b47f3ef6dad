"""A jury run's statistics: the usual label summary of the jury's labels, each judge's figures, and how much the
judges agree (Cohen's κ per pair of judges, Krippendorff's α over all, each judge's agreement with the jury).

The jury's labels go through :class:`LabelStats` like a single judge's (margins, agreement with the input's labels,
principle disagreement, per-principle means). A jury has no per-order answers of its own: its position figures
(slot (A) preferred, same position in both orders) are the judges' own, pooled over the pairs each labelled.
"""

from __future__ import annotations

from itertools import combinations

from pydantic import BaseModel, Field

from constitution.data.records import FeedbackRecord
from constitution.labeling.jury.inter_judge import CohenKappa, KrippendorffAlpha, hard_label
from constitution.labeling.jury.votes import Votes
from constitution.labeling.stats import LabelStats, LabelSummary, Mean, agreement_score


class JurorReport(BaseModel):
    """One judge of the jury: what it did, its position bias and how it agrees with the others."""

    name: str
    judge: str | None = Field(None, description="the backend's name (None when it could not be loaded)")
    identity: str | None = Field(None, description="its judgment-cache identity")
    weight: float
    error: str | None = Field(None, description="why it labelled nothing: it could not be loaded, or it stopped")
    first_failure: str | None = Field(None, description="its first failed judgment (listed in its skipped.jsonl)")
    pairs: int = Field(0, description="pairs it labelled")
    pairs_skipped: int = 0
    pairs_failed: int = 0
    judgments_computed: int = 0
    judgments_cached: int = 0
    slot_a_pct: float | None = Field(None, description="% of its single-order judgments preferring slot (A)")
    same_position_pct: float | None = None
    agreement: float | None = Field(None, description="its agreement with the input's labels")
    jury_agreement: float | None = Field(None, description="share of jury-labelled pairs where it prefers the jury's response")
    seconds: float = Field(0.0, description="its labeling run, without loading it")


class PairAgreement(BaseModel):
    """Two judges' agreement on the pairs both labelled (hard labels: A, B or tie)."""

    judges: tuple[str, str]
    pairs: int
    same_label: float | None = Field(None, description="share of pairs with the same hard label")
    kappa: float | None = Field(None, description="Cohen's κ (None when undefined: no pairs, or no variation)")


class JurySummary(LabelSummary):
    """A jury run: the label summary of the jury's labels plus the judges and their agreement."""

    quorum: int = Field(description="judges that must label a pair for the jury to label it")
    pairs_below_quorum: int = Field(0, description="pairs too few judges labelled (listed in skipped.jsonl)")
    members: list[JurorReport]
    pairwise: list[PairAgreement]
    alpha: float | None = Field(None, description="Krippendorff's α (nominal, hard labels) over every judge")
    alpha_pairs: int = Field(0, description="pairs at least two judges labelled (α's units)")


def _pooled(values: list[tuple[float | None, int]]) -> float | None:
    """The mean of per-judge figures weighted by how many pairs each covers (None values left out)."""
    mean = Mean()
    for value, n in values:
        if value is not None:
            mean.total += value * n
            mean.n += n
    return mean.value


class JuryStats:
    """Accumulates the jury's statistics, one pair at a time."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.labels = LabelStats()
        self.kappas = {pair: CohenKappa() for pair in combinations(range(len(names)), 2)}
        self.alpha = KrippendorffAlpha()
        self.with_jury = [Mean() for _ in names]
        self.truncated = 0

    def add_votes(self, votes: Votes) -> None:
        """The judges' votes on one pair (labelled by the jury or not)."""
        labels = {j: hard_label(p) for j, p in enumerate(votes.p_a) if p is not None}
        self.alpha.add(list(labels.values()))
        for (i, j), kappa in self.kappas.items():
            if i in labels and j in labels:
                kappa.add(labels[i], labels[j])

    def add_label(self, record: FeedbackRecord, votes: Votes) -> None:
        """A pair the jury labelled."""
        self.labels.add(record, {pid: {} for pid in record.per_principle}, record.p_a)
        self.truncated += record.truncated
        for j, p in enumerate(votes.p_a):
            if p is not None:
                self.with_jury[j].add(agreement_score(p, record.p_a))

    def summary(self, members: list[JurorReport], member_summaries: list[LabelSummary | None], *, judge: str, quorum: int,
                below_quorum: int, failed: int, identical: int, seconds: float, constitution_hash: str) -> JurySummary:  # fmt: skip
        """The run's summary (``failed``: below-quorum pairs that some judge failed on; the rest were skipped;
        ``identical``: pairs with identical responses, labelled 0.5 without a vote)."""
        for member, agree in zip(members, self.with_jury):
            member.jury_agreement = agree.value
        done = [s for s in member_summaries if s is not None]
        base = self.labels.summary(
            judge=judge,
            constitution_hash=constitution_hash,
            judgments=sum(s.judgments for s in done),
            computed=sum(s.judgments_computed for s in done),
            cached=sum(s.judgments_cached for s in done),
            seconds=seconds,
            truncated=self.truncated,
            skipped=below_quorum - failed,
            failed=failed,
            identical=identical,
        )
        per_judge = {s.principle_id: [] for s in base.per_principle}
        for s in done:
            for p in s.per_principle:
                if p.principle_id in per_judge:
                    per_judge[p.principle_id].append(p)
        for stats in base.per_principle:
            theirs = per_judge[stats.principle_id]
            stats.slot_a_pct = _pooled([(p.slot_a_pct, p.judged_pairs) for p in theirs]) or 0.0
            stats.same_position_pct = _pooled([(p.same_position_pct, p.judged_pairs) for p in theirs])
        return JurySummary(
            **base.model_dump(exclude={"slot_a_pct", "same_position_pct", "agreement_first_order", "per_principle"}),
            per_principle=base.per_principle,
            slot_a_pct=_pooled([(s.slot_a_pct, s.pairs) for s in done]),
            same_position_pct=_pooled([(s.same_position_pct, s.pairs) for s in done]),
            quorum=quorum,
            pairs_below_quorum=below_quorum,
            members=members,
            pairwise=[
                PairAgreement(judges=(self.names[i], self.names[j]), pairs=k.n, same_label=k.observed, kappa=k.kappa)
                for (i, j), k in self.kappas.items()
            ],
            alpha=self.alpha.alpha,
            alpha_pairs=self.alpha.units,
        )
