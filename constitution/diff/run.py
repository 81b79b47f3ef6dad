"""A diff run: the same pairs labelled under the old and the new constitution through one judgment cache, so only
the judgments the edit invalidated are asked (a reworded principle: its own; a weight change: the principles it brings
into pairs' weighted draws, none under rule ``all``), then compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from constitution.data.records import FeedbackRecord, Pair
from constitution.diff.labels import LabelDiff, check_unique_ids, compare_labels
from constitution.diff.rewards import RewardDiff
from constitution.diff.spec import SpecDiff, diff_constitutions
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.config import LabelConfig
from constitution.labeling.labeler import Labeler, label_pairs
from constitution.labeling.progress import progress_bar
from constitution.labeling.stats import LabelSummary
from constitution.llm.base import LLM
from constitution.principles import Constitution


class LabelCost(BaseModel):
    """What labelling one side took: judgments asked of the judge and found in the cache."""

    judgments: int
    computed: int
    cached: int
    seconds: float

    @classmethod
    def of(cls, summary: LabelSummary) -> LabelCost:
        return cls(judgments=summary.judgments, computed=summary.judgments_computed, cached=summary.judgments_cached, seconds=summary.seconds)


class DiffReport(BaseModel):
    """What an edit of the constitution changed: the constitution itself, its labels and (with a headed reward
    model) its rewards."""

    old: str = Field(description="the old version, as named")
    new: str
    judge: str | None = None
    spec: SpecDiff
    labels: LabelDiff
    cost_old: LabelCost | None = None
    cost_new: LabelCost | None = None
    rewards: RewardDiff | None = None


def _label(constitution: Constitution, llm: LLM, cache: JudgmentCache, config: LabelConfig, pairs: Sequence[Pair], desc: str, show: bool) -> tuple[list[FeedbackRecord], LabelSummary]:
    with progress_bar(show=show, total=len(pairs), desc=desc) as progress:
        return label_pairs(Labeler(constitution, llm, cache, config), pairs, progress)


def diff_versions(
    old: tuple[str, Constitution],
    new: tuple[str, Constitution],
    pairs: Sequence[Pair],
    llm: LLM,
    cache: JudgmentCache,
    config: LabelConfig | None = None,
    *,
    top: int = 10,
    show_progress: bool = False,
) -> DiffReport:
    """Label ``pairs`` under the (name, constitution) ``old`` and ``new`` and compare (see the module docstring)."""
    check_unique_ids(pairs, pairs[0].source if pairs and pairs[0].source else "the pairs")  # before the judge is asked
    config = config or LabelConfig()
    (old_name, before), (new_name, after) = old, new
    old_records, old_summary = _label(before, llm, cache, config, pairs, "old", show_progress)
    new_records, new_summary = _label(after, llm, cache, config, pairs, "new", show_progress)
    return DiffReport(
        old=old_name,
        new=new_name,
        judge=new_summary.judge,
        spec=diff_constitutions(before, after),
        labels=compare_labels(old_records, new_records, before, after, top=top),
        cost_old=LabelCost.of(old_summary),
        cost_new=LabelCost.of(new_summary),
    )
