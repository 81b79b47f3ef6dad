"""Step labeling, one entry point for one judge or a jury: :func:`label_traces`."""

from __future__ import annotations

from pathlib import Path

from constitution.data.steps import StepReader
from constitution.errors import InputError
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.jury.config import JudgeSpec
from constitution.labeling.steps.jury import step_jury
from constitution.labeling.steps.output import label_steps_to_folder
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, StepLabelSummary
from constitution.llm.factory import make_llm
from constitution.step_principles import StepPrinciples


def label_traces(
    principles: StepPrinciples, judges: list[JudgeSpec], cache: JudgmentCache, config: StepLabelConfig, reader: StepReader,
    out: str | Path, *, quorum: int | None = None, show_progress: bool = True,
) -> StepLabelSummary:  # fmt: skip
    """Label the reader's traces into ``out``: with one judge (loaded here and released), its label folder; with
    several, a jury (:func:`step_jury`). Unreadable rows and failed traces are listed and counted, never raised."""
    if not judges:
        raise InputError("no judge: give one, or several for a jury")
    if len(judges) > 1:
        return step_jury(principles, judges, cache, config, reader, out, quorum=quorum, show_progress=show_progress)
    llm = make_llm(judges[0].llm)
    try:
        return label_steps_to_folder(StepLabeler(principles, llm, cache, config), reader, out, show_progress=show_progress)
    finally:
        llm.close()
