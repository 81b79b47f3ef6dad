"""A step-labeling run's files (``constitution label-steps``), written like ``label``'s:

* ``labels.jsonl``: one :class:`StepLabelRecord` a line, TRL's stepwise layout (``prompt``, ``completions``,
  ``labels``: bools, true where P(step good) >= 0.5) plus ``soft_labels`` (P(step good)), ``id``, ``per_principle``
  and provenance; ``labels.jsonl.partial`` while running;
* a `datasets` folder of the same rows (``id``, ``prompt``, ``completions``, ``labels``, ``soft_labels``) that TRL
  reads as is (an empty one when nothing was labelled);
* ``summary.json`` (:class:`StepLabelSummary`) and ``skipped.jsonl`` (traces not labelled, and unreadable rows).
"""

from __future__ import annotations

import json
from pathlib import Path

from constitution.atomic import PartialFiles, atomic_write_text
from constitution.data.steps import StepReader, save_steps_dataset
from constitution.errors import InputError
from constitution.labeling.progress import progress_bar
from constitution.labeling.steps.labeler import StepLabeler, StepLabelRecord, StepLabelSummary

FILES = ("labels.jsonl", "skipped.jsonl")


class StepLabelWriter:
    """The file sink of :meth:`StepLabeler.label`."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.files = PartialFiles(self.out, FILES)

    def write(self, record: StepLabelRecord) -> None:
        self.files.write("labels.jsonl", record.model_dump_json())

    def skipped(self, trace_id: str, reason: str) -> None:
        self.files.write("skipped.jsonl", json.dumps({"id": trace_id, "reason": reason}))

    def failed(self, trace_id: str, error: str) -> None:
        self.skipped(trace_id, f"failed: {error}")

    def bad_row(self, error: InputError) -> None:
        """An input row that could not be read (the reader's ``on_bad``)."""
        self.files.write("skipped.jsonl", json.dumps({"where": error.where, "reason": str(error)}))

    def finish(self, summary: StepLabelSummary) -> Path:
        """Publish the files, build the dataset (an empty one when nothing was labelled: a rerun never leaves the
        previous run's rows loadable) and write the summary."""
        self.files.publish()
        labels = self.out / "labels.jsonl"
        save_steps_dataset(labels, self.out)
        atomic_write_text(self.out / "summary.json", summary.model_dump_json(indent=2))
        return labels

    def __enter__(self) -> StepLabelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.files.close()


def label_steps_to_folder(labeler: StepLabeler, reader: StepReader, out: str | Path, *, total: int | None = None, show_progress: bool = True) -> StepLabelSummary:
    """Label the reader's traces into ``out``; an unreadable row is listed in ``skipped.jsonl`` and counted."""
    with StepLabelWriter(out) as writer, progress_bar(show=show_progress, total=total, desc="traces") as progress:
        reader.on_bad = writer.bad_row
        summary = labeler.label(reader, writer, progress)
        summary.rows_bad = reader.report.bad_rows
        writer.finish(summary)
    return summary
