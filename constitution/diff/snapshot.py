"""Labels that remember their constitution, so that a later run can say what an edit changed.

A labels folder gets ``constitution.json`` (the exact :class:`Constitution` that produced its ``labels.jsonl``).
When a run relabels under a different constitution, :func:`keep_previous` copies the old folder's two files to a
``previous`` folder first; :func:`diff_folders` compares the two with no judge at all (the records carry every
principle's verdict).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from constitution.atomic import atomic_write_text, replace_dir
from constitution.data.records import FeedbackRecord
from constitution.diff.labels import compare_labels
from constitution.diff.run import DiffReport
from constitution.diff.spec import diff_constitutions
from constitution.principles import Constitution

SNAPSHOT = "constitution.json"
LABELS = "labels.jsonl"


def write_snapshot(constitution: Constitution, folder: Path) -> Path:
    """Store the constitution that labelled ``folder``."""
    return atomic_write_text(folder / SNAPSHOT, constitution.model_dump_json())


def read_snapshot(folder: Path) -> Constitution | None:
    """The constitution that labelled ``folder`` (None when it was not stored, or no labels are there)."""
    if not (folder / SNAPSHOT).is_file() or not (folder / LABELS).is_file():
        return None
    return Constitution.model_validate_json((folder / SNAPSHOT).read_text(encoding="utf-8"))


def _records(folder: Path) -> Iterator[FeedbackRecord]:
    with open(folder / LABELS, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield FeedbackRecord.model_validate_json(line)


def keep_previous(labels_dir: Path, previous_dir: Path, constitution: Constitution) -> bool:
    """Before ``labels_dir`` is relabelled under ``constitution``: keep its labels and constitution in
    ``previous_dir`` when the constitution differs (True), else drop a stale ``previous_dir`` (False)."""
    before = read_snapshot(labels_dir)
    if before is None or before.hash == constitution.hash:
        shutil.rmtree(previous_dir, ignore_errors=True)
        return False
    staged = previous_dir.with_name(f"{previous_dir.name}.staging")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for name in (SNAPSHOT, LABELS):
        shutil.copy2(labels_dir / name, staged / name)
    replace_dir(staged, previous_dir)
    return True


def diff_folders(previous_dir: Path, labels_dir: Path, *, top: int = 5) -> DiffReport | None:
    """The diff between two labels folders with snapshots (None unless both have one)."""
    before, after = read_snapshot(previous_dir), read_snapshot(labels_dir)
    if before is None or after is None:
        return None
    return DiffReport(
        old="previous run",
        new="this run",
        spec=diff_constitutions(before, after),
        labels=compare_labels(_records(previous_dir), _records(labels_dir), before, after, top=top),
    )
