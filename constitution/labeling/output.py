"""A labeling run's files: each pair's record is appended as it finishes; the AI-feedback dataset at the end.

In the output folder:

* ``labels.jsonl``: one :class:`FeedbackRecord` a line, in input order whatever order the judge answered in (a
  reorder buffer, :mod:`constitution.labeling.in_order`, holds pairs that finish early); while the run is going it is
  ``labels.jsonl.partial``, fsynced every few hundred records, and it becomes ``labels.jsonl`` in one rename when
  the run ends. The same input and constitution give the same file, resumed or not;
* the `datasets` files (``dataset_info.json``, ``state.json``, ``data-*.arrow``): the same records with TRL's
  ``prompt``/``chosen``/``rejected`` columns, built from ``labels.jsonl`` without loading it into memory, beside the
  folder, and published so that the folder loads as the old dataset or the new one, never half of either;
* ``summary.json``: the :class:`LabelSummary`;
* ``truncated.jsonl`` and ``skipped.jsonl``: pairs labelled on a shortened conversation, and pairs or rows not
  labelled (too long for the judge, a judgment that failed, an unreadable input row), one JSON object a line with
  the pair ``id`` (or the row's ``where``) and the ``reason``, in input order too.

A killed run leaves ``labels.jsonl.partial`` with the records of the pairs before the first unfinished one; the
rerun rebuilds the records from the judgment cache (asking the judge only what is missing) and writes the files
afresh.
"""

from __future__ import annotations

import json
from pathlib import Path

from constitution.atomic import PartialFiles, atomic_write_text
from constitution.data.pairs import PairReader
from constitution.data.records import FeedbackRecord
from constitution.data.writers import save_jsonl_as_dataset
from constitution.errors import InputError
from constitution.labeling.in_order import InOrder
from constitution.labeling.stats import LabelSummary

SYNC_EVERY = 256  # records


FILES = ("labels.jsonl", "truncated.jsonl", "skipped.jsonl")


class LabelWriter:
    """The file sink of :meth:`Labeler.label` (see the module docstring); at most a bounded reorder buffer is held
    in memory. ``index`` is the pair's place in the input."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.files = PartialFiles(self.out, FILES, SYNC_EVERY)
        self.in_order = InOrder(self.files.write)
        self.skipped_count = 0
        self.pairs_read = lambda: 0  # pairs read so far: where an unreadable row goes among them (see ``reading``)

    def reading(self, reader: PairReader) -> PairReader:
        """Have ``reader`` list its unreadable rows here, each among the pairs where it was read."""
        reader.on_bad = self.bad_row
        self.pairs_read = lambda: reader.report.kept
        return reader

    def write(self, index: int, record: FeedbackRecord) -> None:
        self.in_order.add(index, "labels.jsonl", record.model_dump_json())
        self.in_order.done(index)

    def truncated(self, index: int, pair_id: str) -> None:
        self.in_order.add(index, "truncated.jsonl", json.dumps({"id": pair_id, "reason": "earliest turns dropped to fit the judge"}))

    def skipped(self, index: int, pair_id: str, reason: str) -> None:
        self.skipped_count += 1
        self.in_order.add(index, "skipped.jsonl", json.dumps({"id": pair_id, "reason": reason}))
        self.in_order.done(index)

    def failed(self, index: int, pair_id: str, error: str) -> None:
        self.skipped(index, pair_id, f"failed: {error}")

    def bad_row(self, error: InputError) -> None:
        """An input row that could not be read (the reader's ``on_bad``), listed before the next pair read."""
        self.skipped_count += 1
        self.in_order.add(self.pairs_read(), "skipped.jsonl", json.dumps({"where": error.where, "reason": str(error)}))

    def close(self) -> None:
        """Sync and close the partial files (what a crash leaves behind: the lines released so far)."""
        self.in_order.close()
        self.files.close()

    def finish(self, summary: LabelSummary) -> Path:
        """Publish the files, build the dataset and write the summary."""
        self.in_order.drain()
        self.in_order.close()
        self.files.publish()
        labels = self.out / "labels.jsonl"
        save_jsonl_as_dataset(labels, self.out)
        atomic_write_text(self.out / "summary.json", summary.model_dump_json(indent=2))
        return labels

    def __enter__(self) -> LabelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
