"""The jury's votes: each judge's labels read back from its folder, kept as a few floats per pair id.

A judge's folder is what :func:`label_to_folder` wrote (``labels.jsonl``, ``skipped.jsonl``); the records are read
one line at a time and only their numbers are kept, so memory holds no text. ``combine`` ensembles one pair's votes
with the judges' weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from constitution.errors import InputError

FAILED_PREFIX = "failed: "  # how LabelWriter.failed marks a pair whose judgment failed, in skipped.jsonl


class Votes:
    """One pair's labels from each judge (None where a judge has none)."""

    __slots__ = ("p_a", "principles", "consistent", "truncated", "failed")

    def __init__(self, judges: int) -> None:
        self.p_a: list[float | None] = [None] * judges
        self.principles: dict[str, list[float | None]] = {}
        self.consistent: list[bool | None] = [None] * judges
        self.truncated = False
        self.failed = False

    @property
    def count(self) -> int:
        """How many judges labelled the pair."""
        return sum(p is not None for p in self.p_a)


class Combined(NamedTuple):
    """A pair's jury label."""

    p_a: float
    per_principle: dict[str, float]
    position_consistent: bool | None


def _weighted(values: list[float | None], weights: list[float]) -> float:
    total = sum(w for v, w in zip(values, weights) if v is not None)
    return sum(v * w for v, w in zip(values, weights) if v is not None) / total


def combine(votes: Votes, weights: list[float]) -> Combined:
    """The weighted mean of the judges' labels, overall and per principle (over the judges that have one);
    position-consistent when every voting judge's orders agreed (None when only one order was asked)."""
    consistent = [c for c, p in zip(votes.consistent, votes.p_a) if p is not None]
    return Combined(
        _weighted(votes.p_a, weights),
        {pid: _weighted(values, weights) for pid, values in votes.principles.items()},
        None if None in consistent else all(consistent),  # type: ignore[arg-type]
    )


class VoteTable:
    """Every judge's votes by pair id."""

    def __init__(self, judges: int) -> None:
        self.judges = judges
        self.votes: dict[str, Votes] = {}

    def _votes(self, pair_id: str) -> Votes:
        votes = self.votes.get(pair_id)
        if votes is None:
            votes = self.votes[pair_id] = Votes(self.judges)
        return votes

    def read(self, judge: int, folder: Path) -> str | None:
        """Take judge number ``judge``'s labels and failures from its folder; the first failure's reason, if any."""
        labels = folder / "labels.jsonl"
        with open(labels, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                votes = self._votes(record["id"])
                if votes.p_a[judge] is not None:
                    raise InputError(
                        f"pair id {record['id']!r} appears twice: a jury combines its judges' labels by pair id, so "
                        "every pair needs its own id", where=f"{labels}:{lineno}",
                    )  # fmt: skip
                votes.p_a[judge] = record["p_a"]
                votes.consistent[judge] = record["position_consistent"]
                votes.truncated = votes.truncated or record["truncated"]
                for pid, p in record["per_principle"].items():
                    votes.principles.setdefault(pid, [None] * self.judges)[judge] = p
        first_failure = None
        with open(folder / "skipped.jsonl", encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                if "id" in entry and entry["reason"].startswith(FAILED_PREFIX):
                    self._votes(entry["id"]).failed = True
                    first_failure = first_failure or entry["reason"][len(FAILED_PREFIX) :]
        return first_failure

    def pop(self, pair_id: str) -> Votes:
        """A pair's votes (none at all when no judge labelled it), forgotten once taken."""
        return self.votes.pop(pair_id, None) or Votes(self.judges)
