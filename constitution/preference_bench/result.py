"""A benchmark result: accuracy per subset and per RewardBench section, accumulated row by row, and its table.

Each row scores 1 (the chosen response preferred), 0 (the rejected one) or 0.5 (a tie).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, Field

from constitution.preference_bench.sections import SECTIONS, section_of, subset_weight
from constitution.errors import InputError
from constitution.labeling.stats import Mean


class SubsetScore(BaseModel):
    subset: str
    section: str
    rows: int
    accuracy: float
    ties: int = Field(description="rows scored 0.5")


class SectionScore(BaseModel):
    section: str
    rows: int
    accuracy: float = Field(description="the mean of its subsets' accuracies, weighted as RewardBench weighs them")
    subsets: list[str]


class BenchResult(BaseModel):
    """One model or judge on one benchmark."""

    model: str
    kind: Literal["reward_model", "judge"]
    data: str
    protocol: str = Field(description="how a row is scored")
    rows: int = Field(description="rows scored")
    rows_skipped: int = Field(0, description="rows the judge could not see (too long), left out of every figure")
    rows_failed: int = Field(0, description="rows whose judgment failed, left out of every figure")
    accuracy: float = Field(description="share of rows where the chosen response was preferred (ties count half)")
    score: float = Field(description="the mean of the section accuracies (RewardBench's score on its own sections)")
    sections: list[SectionScore]
    subsets: list[SubsetScore]
    seconds: float


def outcome(margin: float) -> float:
    """1 when the chosen response is ahead, 0 when behind, 0.5 for a tie."""
    return 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5


class BenchTally:
    """Outcomes per subset, one row at a time."""

    def __init__(self) -> None:
        self.subsets: dict[str, Mean] = defaultdict(Mean)
        self.ties: dict[str, int] = defaultdict(int)

    def add(self, subset: str, score: float) -> None:
        self.subsets[subset].add(score)
        self.ties[subset] += score == 0.5

    def result(
        self, *, model: str, kind: Literal["reward_model", "judge"], data: str, protocol: str, seconds: float, skipped: int = 0, failed: int = 0
    ) -> BenchResult:
        """The result; a benchmark where no row was scored is an input error."""
        if not self.subsets:
            raise InputError("no rows scored", where=data)
        subsets = [
            SubsetScore(subset=s, section=section_of(s), rows=m.n, accuracy=m.value or 0.0, ties=self.ties[s])
            for s, m in self.subsets.items()
        ]
        order = list(SECTIONS)
        subsets.sort(key=lambda s: (order.index(s.section) if s.section in order else len(order), s.subset))
        sections: dict[str, list[SubsetScore]] = defaultdict(list)
        for s in subsets:
            sections[s.section].append(s)
        section_scores = [
            SectionScore(
                section=name,
                rows=sum(s.rows for s in members),
                accuracy=sum(s.accuracy * subset_weight(s.subset, s.rows) for s in members)
                / sum(subset_weight(s.subset, s.rows) for s in members),
                subsets=[s.subset for s in members],
            )
            for name, members in sections.items()
        ]
        rows = sum(m.n for m in self.subsets.values())
        return BenchResult(
            rows=rows,
            accuracy=sum(m.total for m in self.subsets.values()) / rows,
            score=sum(s.accuracy for s in section_scores) / len(section_scores),
            sections=section_scores,
            subsets=subsets,
            model=model,
            kind=kind,
            data=data,
            protocol=protocol,
            rows_skipped=skipped,
            rows_failed=failed,
            seconds=seconds,
        )


def format_result(result: BenchResult) -> str:
    """The result as a terminal table."""
    lines = [
        f"{result.kind.replace('_', ' ')} {result.model} on {result.data}: {result.protocol}",
        f"{'section':<10} {'subset':<24} {'rows':>5} {'accuracy':>8} {'ties':>5}",
    ]
    for s in result.subsets:
        lines.append(f"{s.section:<10} {s.subset:<24} {s.rows:>5} {s.accuracy:>8.3f} {s.ties:>5}")
    lines.append("sections: " + "  ".join(f"{s.section} {s.accuracy:.3f} ({s.rows})" for s in result.sections))
    lines.append(f"score {result.score:.3f} (mean of sections)  accuracy {result.accuracy:.3f} over {result.rows} rows  {result.seconds:.1f}s")
    if result.rows_skipped or result.rows_failed:
        lines.append(f"left out: {result.rows_skipped} rows too long for the judge, {result.rows_failed} failed")
    return "\n".join(lines)
