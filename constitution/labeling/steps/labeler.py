"""Step labels: judge each step of a reasoning trace against the step principles, for soft process labels.

For step k the judge sees the conversation, steps 1..k-1 and step k, and answers a step principle's question; each
principle is asked in both option orders (Yes/No and No/Yes) unless told otherwise. The label of a step is P(good):
the option probabilities of the two orders averaged (position debiasing), then the principles combined by weight
(``mean``) or by the worst of them (``min``).

Judgments go through the ordinary judgment cache, keyed by the hash of (prompt, steps before k, step k) in place of
a pair's hash: editing step k re-judges steps k, k+1, … only, and a killed run resumes where it stopped. Traces are
planned a chunk at a time; a trace whose prompt is too long for the judge is skipped, one whose judgment fails is
listed as failed (both by id), and too many failures in a row stop the run (the judge is down).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from constitution.data.records import Message
from constitution.data.steps import StepTrace, hard_labels
from constitution.labeling.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.llm.base import LLM, FeedbackError, OptionRequest, encode_prompts
from constitution.llm.options import option_token_ids, two_way
from constitution.prompts import JudgePrompt, Order
from constitution.step_principles import ResolvedStepPrinciple, StepPrinciples, step_prompt


class StepLabelConfig(BaseModel):
    """How steps are judged."""

    model_config = ConfigDict(extra="forbid")

    both_orders: bool = Field(True, description="ask with the options in both orders and average (position debiasing)")
    combine: Literal["mean", "min"] = Field("mean", description="step label from the principles: weighted mean, or the lowest")
    chunk_traces: int = Field(64, ge=1, description="traces planned and looked up in the cache together")
    flush_every: int = Field(256, ge=1, description="answers stored in the cache per write: at most this many are lost to a kill")
    max_failure_streak: int = Field(200, ge=1, description="stop after this many judgments in a row failed; rerun to resume")


class StepLabelRecord(BaseModel):
    """A labelled trace: TRL's stepwise row (``labels``: true where P(step good) >= 0.5, as TRL's PRM trainer reads
    them) plus the soft labels themselves (``soft_labels``: P(step good), what ``train --kind process`` learns) and
    each principle's soft labels."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: str | list[Message]
    completions: list[str]
    labels: list[bool]
    soft_labels: list[float]
    per_principle: dict[str, list[float]]
    judge: str
    step_principles_hash: str


class StepLabelSummary(BaseModel):
    """What a step-labeling run did."""

    judge: str
    step_principles_hash: str
    traces: int = Field(description="traces labelled")
    traces_skipped: int = Field(0, description="a step prompt is too long for the judge")
    traces_failed: int = Field(0, description="a judgment failed; rerun to retry")
    rows_bad: int = Field(0, description="input rows that could not be read (listed in skipped.jsonl)")
    steps: int = 0
    judgments: int = 0
    judgments_computed: int = 0
    judgments_cached: int = 0
    seconds: float = 0.0
    steps_per_s: float = 0.0
    judgments_per_s: float = 0.0
    mean_label: float | None = Field(None, description="mean P(step good)")
    traces_with_bad_step_pct: float | None = Field(None, description="% of traces with a step labelled below 0.5")
    order_flip_pct: float | None = Field(None, description="% of (step, principle) whose two orders disagree on good/bad")
    per_principle_mean: dict[str, float] = Field(default_factory=dict)


class StepSink(Protocol):
    def write(self, record: StepLabelRecord) -> None: ...
    def skipped(self, trace_id: str, reason: str) -> None: ...
    def failed(self, trace_id: str, error: str) -> None: ...


class _Planned(NamedTuple):
    step: int
    principle: ResolvedStepPrinciple
    order: Order
    key: JudgmentKey
    prompt: JudgePrompt
    token_ids: list[int]


class _Tally:
    """Running counts and sums for the summary."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.traces = self.skipped = self.failed = self.steps = 0
        self.judgments = self.computed = self.cached = 0
        self.label_sum = 0.0
        self.bad_traces = 0
        self.flips = [0, 0]
        self.per_principle: dict[str, float] = {}  # sum of each principle's step labels (over ``steps`` steps)


Progress = Callable[[int], None]


class StepLabeler:
    """Judges the steps of traces with a backend against step principles, through the judgment cache."""

    def __init__(self, principles: StepPrinciples, llm: LLM, cache: JudgmentCache, config: StepLabelConfig | None = None) -> None:
        self.principles = principles
        self.llm = llm
        self.cache = cache
        self.config = config or StepLabelConfig()
        self.orders: tuple[Order, ...] = ("ab", "ba") if self.config.both_orders else ("ab",)
        self._option_ids: dict[tuple[str, ...], tuple[int, ...]] = {}

    def plan(self, trace: StepTrace) -> list[_Planned]:
        """Every judgment that labels the trace: steps × principles × orders."""
        rendered = [
            (k, p, order, step_prompt(p, trace, k, order, self.llm.tokenizer))
            for k in range(len(trace.completions)) for p in self.principles.active for order in self.orders
        ]  # fmt: skip
        ids = encode_prompts(self.llm.tokenizer, [r[3].text for r in rendered]) if self.llm.tokenizer is not None else [[] for _ in rendered]
        hashes = [trace.step_hash(k) for k in range(len(trace.completions))]
        return [
            _Planned(k, p, order, JudgmentKey(self.llm.identity, hashes[k], p.hash, prompt.template_hash, order), prompt, t)
            for (k, p, order, prompt), t in zip(rendered, ids)
        ]

    def _too_long(self, planned: list[_Planned]) -> str | None:
        limit = self.llm.max_model_len
        longest = max((len(j.token_ids) for j in planned), default=0)
        if limit is not None and longest + 1 > limit:
            return f"a step prompt is {longest} tokens; max_model_len={limit}"
        return None

    def _request(self, key: object, judgment: _Planned) -> OptionRequest:
        options = judgment.prompt.options
        if options not in self._option_ids:
            tokenizer = self.llm.tokenizer
            self._option_ids[options] = tuple(option_token_ids(tokenizer, options)) if tokenizer is not None else ()
        return OptionRequest(key, judgment.prompt.text, judgment.token_ids, self._option_ids[options])

    def label(self, traces: Iterable[StepTrace], sink: StepSink, progress: Progress | None = None) -> StepLabelSummary:
        """Label ``traces`` (read lazily, a chunk at a time) into ``sink``; returns the summary."""
        tally = _Tally()
        numbered = iter(traces)
        while chunk := list(islice(numbered, self.config.chunk_traces)):
            self._label_chunk(chunk, sink, tally)
            if progress is not None:
                progress(len(chunk))
        return self._summary(tally)

    def _label_chunk(self, chunk: list[StepTrace], sink: StepSink, tally: _Tally) -> None:
        plans: list[tuple[StepTrace, list[_Planned]]] = []
        for trace in chunk:
            planned = self.plan(trace)
            reason = self._too_long(planned)
            if reason:
                tally.skipped += 1
                sink.skipped(trace.id, reason)
            else:
                plans.append((trace, planned))
        found = self.cache.get_many(j.key for _, planned in plans for j in planned)
        answers: dict[JudgmentKey, tuple[float, ...]] = {k: v.logprobs for k, v in found.items()}
        errors: dict[int, str] = {}
        missing = [(t, j) for t, (_, planned) in enumerate(plans) for j in planned if j.key not in answers]
        tally.judgments += sum(len(p) for _, p in plans)
        tally.cached += sum(len(p) for _, p in plans) - len(missing)
        buffer: list[Judgment] = []
        streak = 0
        try:
            for result in self.llm.score_options(self._request(i, j) for i, (_, j) in enumerate(missing)):
                t, judgment = missing[result.key]
                error = result.error or _unusable(result.logprobs)
                if error:
                    streak += 1
                    errors.setdefault(t, f"step {judgment.step}, principle {judgment.principle.id}, order {judgment.order}: {error}")
                    if streak >= self.config.max_failure_streak:
                        raise FeedbackError(f"{streak} judgments in a row failed; the judge looks down. Last: {errors[t]}. Rerun to resume.")
                    continue
                streak = 0
                tally.computed += 1
                answers[judgment.key] = tuple(result.logprobs or ())
                buffer.append(Judgment(judgment.key, answers[judgment.key]))
                if len(buffer) >= self.config.flush_every:
                    self.cache.put_many(buffer)
                    buffer = []
        finally:
            self.cache.put_many(buffer)
        for t, (trace, planned) in enumerate(plans):
            if t in errors:
                tally.failed += 1
                sink.failed(trace.id, errors[t])
            else:
                sink.write(self._record(trace, planned, answers, tally))

    def _record(self, trace: StepTrace, planned: list[_Planned], answers: dict[JudgmentKey, tuple[float, ...]], tally: _Tally) -> StepLabelRecord:
        n = len(trace.completions)
        votes: dict[str, list[dict[str, float]]] = {p.id: [{} for _ in range(n)] for p in self.principles.active}
        for j in planned:
            p_first = two_way(answers[j.key])
            votes[j.principle.id][j.step][j.order] = p_first if j.prompt.options[0] == j.principle.good_answer else 1.0 - p_first
        per_principle = {pid: [sum(o.values()) / len(o) for o in steps] for pid, steps in votes.items()}
        weights = {p.id: p.weight for p in self.principles.active}
        if self.config.combine == "min":
            labels = [min(per_principle[pid][k] for pid in weights) for k in range(n)]
        else:
            total = sum(weights.values())
            labels = [sum(w * per_principle[pid][k] for pid, w in weights.items()) / total for k in range(n)]
        tally.traces += 1
        tally.steps += n
        tally.label_sum += sum(labels)
        tally.bad_traces += any(x < 0.5 for x in labels)
        for pid, steps in votes.items():
            tally.per_principle[pid] = tally.per_principle.get(pid, 0.0) + sum(per_principle[pid])
            for orders in steps:
                if len(orders) == 2:
                    tally.flips[0] += (orders["ab"] > 0.5) != (orders["ba"] > 0.5)
                    tally.flips[1] += 1
        return StepLabelRecord(
            id=trace.id, prompt=trace.prompt, completions=trace.completions, labels=hard_labels(labels), soft_labels=labels, per_principle=per_principle,
            judge=self.llm.name, step_principles_hash=self.principles.hash,
        )  # fmt: skip

    def _summary(self, tally: _Tally) -> StepLabelSummary:
        seconds = time.perf_counter() - tally.started
        return StepLabelSummary(
            judge=self.llm.name, step_principles_hash=self.principles.hash, traces=tally.traces, traces_skipped=tally.skipped,
            traces_failed=tally.failed, steps=tally.steps, judgments=tally.judgments, judgments_computed=tally.computed,
            judgments_cached=tally.cached, seconds=seconds, steps_per_s=tally.steps / seconds if seconds else 0.0,
            judgments_per_s=tally.computed / seconds if seconds else 0.0,
            mean_label=tally.label_sum / tally.steps if tally.steps else None,
            traces_with_bad_step_pct=100.0 * tally.bad_traces / tally.traces if tally.traces else None,
            order_flip_pct=100.0 * tally.flips[0] / tally.flips[1] if tally.flips[1] else None,
            per_principle_mean={pid: total / tally.steps for pid, total in tally.per_principle.items()} if tally.steps else {},
        )  # fmt: skip


def _unusable(logprobs: tuple[float, ...] | None) -> str | None:
    values = logprobs or ()
    if len(values) != 2 or any(math.isnan(x) or x > 1e-6 for x in values):
        return f"judge returned unusable log-probs {list(values)}"
    return None


class StepListSink:
    """Keeps records and problems in memory (tests, benchmarks)."""

    def __init__(self) -> None:
        self.records: list[StepLabelRecord] = []
        self.problems: dict[str, str] = {}

    def write(self, record: StepLabelRecord) -> None:
        self.records.append(record)

    def skipped(self, trace_id: str, reason: str) -> None:
        self.problems[trace_id] = reason

    def failed(self, trace_id: str, error: str) -> None:
        self.problems[trace_id] = f"failed: {error}"


def label_steps(labeler: StepLabeler, traces: Iterable[StepTrace]) -> tuple[list[StepLabelRecord], StepLabelSummary, dict[str, str]]:
    """Label traces in memory: records, summary and the problems by trace id."""
    sink = StepListSink()
    summary = labeler.label(traces, sink)
    return sink.records, summary, sink.problems


def records_as_traces(records: Iterable[StepLabelRecord]) -> Iterator[StepTrace]:
    """Labelled records as stepwise traces (for training)."""
    for r in records:
        yield StepTrace(id=r.id, prompt=r.prompt, completions=r.completions, labels=r.soft_labels)
