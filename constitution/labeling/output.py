"""A labeling run's files: each pair's record is appended as it finishes; the AI-feedback dataset at the end.

In the output folder:

* ``labels.jsonl``: one :class:`FeedbackRecord` a line (in the order pairs finished; each carries its ``id``);
  while the run is going it is ``labels.jsonl.partial``, fsynced every few hundred records, and it becomes
  ``labels.jsonl`` in one rename when the run ends;
* the `datasets` files (``dataset_info.json``, ``state.json``, ``data-*.arrow``): the same records with TRL's
  ``prompt``/``chosen``/``rejected`` columns, built from ``labels.jsonl`` without loading it into memory;
* ``summary.json``: the :class:`LabelSummary`;
* ``truncated.jsonl`` and ``skipped.jsonl``: pairs labelled on a shortened conversation, and pairs or rows not
  labelled (too long for the judge, a judgment that failed, an unreadable input row), one JSON object a line with
  the pair ``id`` (or the row's ``where``) and the ``reason``.

A killed run leaves ``labels.jsonl.partial`` with every record finished so far; the rerun rebuilds the records from
the judgment cache (asking the judge only what is missing) and writes the files afresh.
"""

from __future__ import annotations

import json
from pathlib import Path

from constitution.atomic import PartialFiles, atomic_write_text
from constitution.data.records import FeedbackRecord
from constitution.data.writers import save_jsonl_as_dataset
from constitution.errors import InputError
from constitution.labeling.stats import LabelSummary

SYNC_EVERY = 256  # records


FILES = ("labels.jsonl", "truncated.jsonl", "skipped.jsonl")


class LabelWriter:
    """The file sink of :meth:`Labeler.label` (see the module docstring); nothing is held in memory."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.files = PartialFiles(self.out, FILES, SYNC_EVERY)
        self.skipped_count = 0

    def write(self, index: int, record: FeedbackRecord) -> None:
        self.files.write("labels.jsonl", record.model_dump_json())

    def truncated(self, pair_id: str) -> None:
        self.files.write("truncated.jsonl", json.dumps({"id": pair_id, "reason": "earliest turns dropped to fit the judge"}))

    def skipped(self, pair_id: str, reason: str) -> None:
        self.skipped_count += 1
        self.files.write("skipped.jsonl", json.dumps({"id": pair_id, "reason": reason}))

    def failed(self, pair_id: str, error: str) -> None:
        self.skipped(pair_id, f"failed: {error}")

    def bad_row(self, error: InputError) -> None:
        """An input row that could not be read (the reader's ``on_bad``)."""
        self.skipped_count += 1
        self.files.write("skipped.jsonl", json.dumps({"where": error.where, "reason": str(error)}))

    def close(self) -> None:
        """Sync and close the partial files (what a crash leaves behind)."""
        self.files.close()

    def finish(self, summary: LabelSummary) -> Path:
        """Publish the files, build the dataset and write the summary."""
        self.files.publish()
        labels = self.out / "labels.jsonl"
        save_jsonl_as_dataset(labels, self.out)
        atomic_write_text(self.out / "summary.json", summary.model_dump_json(indent=2))
        return labels

    def __enter__(self) -> LabelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
