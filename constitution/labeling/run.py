"""The one labeling entry point, for the CLI's ``label`` and the pipeline's label stage: the pairs of a source,
labelled into a folder by one judge or by a jury, through the judgment cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from constitution.data.pairs import PairReader
from constitution.errors import InputError
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.config import LabelConfig
from constitution.labeling.folder import label_to_folder
from constitution.labeling.jury.config import JudgeSpec, check_quorum
from constitution.labeling.jury.runner import Jury
from constitution.labeling.jury.summary import JurySummary
from constitution.labeling.jury.table import format_jury
from constitution.labeling.labeler import Labeler
from constitution.labeling.stats import LabelSummary
from constitution.labeling.table import format_summary
from constitution.llm.base import LLM
from constitution.llm.config import RayConfig
from constitution.llm.factory import Engine, make_llm
from constitution.principles import Constitution


def label_dataset(
    source: str,
    out: str | Path,
    constitution: Constitution,
    judges: Sequence[JudgeSpec],
    cache: JudgmentCache,
    config: LabelConfig | None = None,
    *,
    engine: Engine = "local",
    ray: RayConfig | None = None,
    quorum: int | None = None,
    limit: int | None = None,
    total: int | None = None,
    show_progress: bool = True,
    llm: LLM | None = None,
) -> LabelSummary:
    """Label the source's pairs (the first ``limit``) into ``out``; returns the summary.

    One judge: ``out`` is its label folder (:mod:`constitution.labeling.output`). Several: a jury
    (:class:`Jury`: each judge's folder in ``out/judges/``, the jury's labels in ``out``) and a :class:`JurySummary`.
    Each judge is loaded from its spec (``engine``, ``ray``) and released when it is done, unless ``llm`` is given:
    the one judge already loaded (e.g. an engine shared with the policy), used and left open. ``total``: the pairs
    expected, for the progress bar. Unreadable rows and failed pairs are listed and counted, never raised.
    """
    if not judges:
        raise InputError("no judge: give one, or several for a jury")
    quorum = check_quorum(quorum, len(judges))
    if len(judges) > 1:
        if llm is not None:
            raise ValueError("a loaded judge is for a single judge; a jury loads its judges one after the other")
        jury = Jury(constitution, list(judges), cache, config, quorum=quorum, engine=engine, ray=ray)
        return jury.label(source, out, limit=limit, total=total, show_progress=show_progress)
    judge = llm if llm is not None else make_llm(judges[0].llm, engine, ray)
    try:
        labeler = Labeler(constitution, judge, cache, config)
        return label_to_folder(labeler, PairReader(source, limit=limit), out, total=total, show_progress=show_progress, desc="label")
    finally:
        if llm is None:
            judge.close()


def describe(summary: LabelSummary) -> str:
    """The summary as the table printed after a run (a jury's with its judges)."""
    return format_jury(summary) if isinstance(summary, JurySummary) else format_summary(summary)
