"""The pipeline's evaluation file, typed: ``eval/eval.json`` maps each evaluation set to a :class:`ScoredSet`; and
the label stage's ``labels/summary.json``, read back as the summary that wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter

from constitution.labeling.jury.summary import JurySummary
from constitution.labeling.stats import LabelSummary
from constitution.reward.reports import EvalReport


class ScoredSet(BaseModel):
    """One evaluation set: the reward model's report and the normalised rewards of the chosen and rejected responses."""

    model_config = ConfigDict(extra="forbid")

    report: EvalReport
    chosen_rewards: list[float]
    rejected_rewards: list[float]


EVAL_FILE = TypeAdapter(dict[str, ScoredSet])


def read_summary(path: Path) -> LabelSummary | JurySummary:
    """A label run's ``summary.json``: a jury's (it has ``members``) or one judge's."""
    data = json.loads(path.read_text())
    return JurySummary.model_validate(data) if "members" in data else LabelSummary.model_validate(data)
