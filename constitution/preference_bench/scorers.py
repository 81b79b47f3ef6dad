"""Score benchmark rows with a reward model (chosen's reward against rejected's) or with a generative judge.

The judge is the labeler's: it is asked with the constitution's principles (its sampling rule and weights), or with
one principle, in both orders. RewardBench asks a generative judge once, in a random order; here a row counts 1
only when both orders prefer the chosen response, 0 when both prefer the rejected one, and 0.5 when the verdict
changes with the order (position bias) or the label is exactly 0.5: stricter, and independent of a random draw.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from constitution.data.records import FeedbackRecord, Pair
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.labeler import Labeler, Progress
from constitution.labeling.progress import progress_bar
from constitution.llm.base import LLM
from constitution.llm.config import LLMConfig
from constitution.llm.factory import make_llm
from constitution.preference_bench.data import BenchRow
from constitution.preference_bench.result import BenchResult, BenchTally, outcome
from constitution.principles import Constitution
from constitution.reward.model import RewardModel

REWARD_PROTOCOL = "reward(chosen) against reward(rejected); equal rewards count 0.5"
JUDGE_PROTOCOL = "asked in both orders; 1 when both prefer chosen, 0.5 when the verdict changes with the order"
CHUNK_ROWS = 1024  # rows scored by a reward model together


def bench_reward_model(model: RewardModel, rows: Iterable[BenchRow], *, name: str, data: str, batch_size: int = 64) -> BenchResult:
    """Accuracy of a reward model: does the chosen response get the higher reward?"""
    started = time.perf_counter()
    tally = BenchTally()
    it = iter(rows)
    while chunk := list(islice(it, CHUNK_ROWS)):
        chosen, rejected = model.score_pairs([row.pair for row in chunk], batch_size=batch_size)
        for row, a, b in zip(chunk, chosen, rejected):
            tally.add(row.subset, outcome(a - b))
    return tally.result(model=name, kind="reward_model", data=data, protocol=REWARD_PROTOCOL, seconds=time.perf_counter() - started)


def judge_outcome(record: FeedbackRecord) -> float:
    """A judge's score for one row (response A is the chosen one)."""
    return 0.5 if record.position_consistent is False else outcome(record.p_a - 0.5)


class _Outcomes:
    """The labeler's sink: each labelled row's outcome into the tally; rows left out are counted."""

    def __init__(self, subsets: list[str], tally: BenchTally) -> None:
        self.subsets = subsets
        self.tally = tally
        self.rows_skipped = self.rows_failed = 0

    def write(self, index: int, record: FeedbackRecord) -> None:
        self.tally.add(self.subsets[index], judge_outcome(record))

    def truncated(self, index: int, pair_id: str) -> None:
        pass  # judged on a shortened conversation: still a verdict

    def skipped(self, index: int, pair_id: str, reason: str) -> None:
        self.rows_skipped += 1

    def failed(self, index: int, pair_id: str, error: str) -> None:
        self.rows_failed += 1


def bench_judge(
    constitution: Constitution, llm: LLM, cache: JudgmentCache, rows: Iterable[BenchRow], *, data: str, progress: Progress | None = None
) -> BenchResult:
    """Accuracy of a generative judge, asked in both orders (see the module docstring)."""
    started = time.perf_counter()
    tally = BenchTally()
    subsets: list[str] = []

    def pairs() -> Iterator[Pair]:
        for row in rows:
            subsets.append(row.subset)
            yield row.pair

    sink = _Outcomes(subsets, tally)
    Labeler(constitution, llm, cache).label(pairs(), sink, progress)
    return tally.result(
        model=llm.name, kind="judge", data=data, protocol=JUDGE_PROTOCOL, seconds=time.perf_counter() - started,
        skipped=sink.rows_skipped, failed=sink.rows_failed,
    )  # fmt: skip


def bench_judge_job(
    constitution: Constitution,
    judge: LLMConfig,
    rows: Iterable[BenchRow],
    *,
    data: str,
    cache: str | Path | None = None,
    total: int | None = None,
    show_progress: bool = False,
) -> BenchResult:
    """:func:`bench_judge` as a whole job: the judge started and closed, the judgment cache ``cache`` (a temporary one
    by default) opened, a progress bar over ``total`` rows."""
    with tempfile.TemporaryDirectory(prefix="constitution-bench-") as tmp:
        llm = make_llm(judge)
        try:
            with JudgmentCache(cache or Path(tmp) / "judgments.sqlite") as judgments, progress_bar(show=show_progress, total=total, desc="bench") as progress:
                return bench_judge(constitution, llm, judgments, rows, data=data, progress=progress)
        finally:
            llm.close()
