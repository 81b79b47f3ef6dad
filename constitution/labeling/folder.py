"""One judge's labeling job into a folder: a lazy pair reader, the labeler, the file sink and a progress bar together
(what :func:`constitution.labeling.run.label_dataset` runs for a single judge, and a jury for each of its judges)."""

from __future__ import annotations

from pathlib import Path

from constitution.data.pairs import PairReader
from constitution.labeling.labeler import Labeler
from constitution.labeling.output import LabelWriter
from constitution.labeling.progress import progress_bar
from constitution.labeling.stats import LabelSummary


def label_to_folder(
    labeler: Labeler, reader: PairReader, out: str | Path, *, total: int | None = None, show_progress: bool = True, desc: str | None = None
) -> LabelSummary:
    """Label the reader's pairs into ``out`` (see :mod:`constitution.labeling.output`); an unreadable row is listed
    in ``skipped.jsonl`` and counted, never a reason to stop. Returns the summary."""
    with LabelWriter(out) as writer, progress_bar(show=show_progress, total=total, desc=desc) as progress:
        summary = labeler.label(writer.reading(reader), writer, progress)
        summary.rows_bad = reader.report.bad_rows
        writer.finish(summary)
    return summary
