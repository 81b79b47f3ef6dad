"""The labeler: judge pairs against the constitution and turn option log-probs into soft AI preference labels.

Per pair: the constitution's sampling rule picks principles; each is asked in both orders (A/B and B/A) unless told
otherwise; the two orders are averaged (position debiasing, RLAIF) and the principles are ensembled with their
weights (CAI).

It streams: pairs are read lazily and planned a chunk at a time, the chunk's cached judgments are read in one query,
and the missing ones are handed to the backend, which keeps its own window in flight (thousands of prompts for
in-process vLLM, hundreds of requests for ``vllm serve`` endpoints). Answers go to the cache as they arrive (flushed
every few hundred or two seconds) and each pair's record goes to the sink the moment its last judgment is in, so
memory does not grow with the dataset and a killed run loses at most ``flush_every`` answers. A pair that is too long is shortened
or skipped, a judgment that fails marks only its pair as failed; both are counted and listed by pair id.

A pair judge (:class:`~constitution.llm.base.PairJudge`, e.g. a reward model) is asked the same judgments, as pairs
in slot order instead of rendered prompts; its answers are cached and ensembled the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Protocol

from constitution.data.records import FeedbackRecord, Pair
from constitution.errors import InputError
from constitution.labeling.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.labeling.config import LabelConfig
from constitution.labeling.planning import (
    Kind,
    PlannedJudgment,
    PlannedPair,
    Planner,
    SkippedPair,
)
from constitution.labeling.stats import LabelStats, LabelSummary
from constitution.llm.base import (
    LLM,
    FeedbackError,
    GenerationFailed,
    OptionRequest,
    OptionResult,
    PairJudge,
    PairRequest,
    encode_prompts,
)
from constitution.llm.options import option_token_ids, two_way
from constitution.principles import Constitution
from constitution.prompts import Order

FLUSH_SECONDS = 2.0
Progress = Callable[[int], None]  # pairs just finished (labelled, skipped or failed)


class LabelSink(Protocol):
    """Where a labeling run's outcomes go, pair by pair (``index``: the pair's place in the input). Each pair ends
    in exactly one of ``write``, ``skipped`` and ``failed``, in any order; ``truncated`` may come before."""

    def write(self, index: int, record: FeedbackRecord) -> None: ...
    def truncated(self, index: int, pair_id: str) -> None: ...
    def skipped(self, index: int, pair_id: str, reason: str) -> None: ...
    def failed(self, index: int, pair_id: str, error: str) -> None: ...


class ListSink:
    """Keeps records in memory (input order on request) and the problems by pair id."""

    def __init__(self) -> None:
        self.records: dict[int, FeedbackRecord] = {}
        self.truncated_ids: list[str] = []
        self.skipped_ids: dict[str, str] = {}
        self.failed_ids: dict[str, str] = {}

    def write(self, index: int, record: FeedbackRecord) -> None:
        self.records[index] = record

    def truncated(self, index: int, pair_id: str) -> None:
        self.truncated_ids.append(pair_id)

    def skipped(self, index: int, pair_id: str, reason: str) -> None:
        self.skipped_ids[pair_id] = reason

    def failed(self, index: int, pair_id: str, error: str) -> None:
        self.failed_ids[pair_id] = error

    def in_order(self) -> list[FeedbackRecord]:
        return [self.records[i] for i in sorted(self.records)]


class _OpenPair:
    __slots__ = ("planned", "results", "missing", "error")

    def __init__(self, planned: PlannedPair) -> None:
        self.planned = planned
        self.results: dict[JudgmentKey, Judgment] = {}
        self.missing = 0
        self.error: str | None = None


class _Run:
    """The state of one ``Labeler.label`` call."""

    def __init__(self, labeler: Labeler, sink: LabelSink, progress: Progress | None) -> None:
        self.labeler = labeler
        self.sink = sink
        self.progress = progress
        self.stats = LabelStats()
        self.open: dict[int, _OpenPair] = {}
        self.buffer: list[Judgment] = []
        self.last_flush = time.monotonic()
        self.started = time.perf_counter()
        self.judgments = self.computed = self.cached = self.truncated = self.skipped = self.failed = self.identical = 0
        self.streak = 0
        self.last_error = ""
        self.rationales: dict[tuple[int, int], str] = {}

    # -- planning ---------------------------------------------------------------------------------------------
    def plan_chunk(self, chunk: list[tuple[int, Pair]]) -> list[tuple[int, int, PlannedJudgment]]:
        """Plan a chunk, take what the cache has, finish pairs that need nothing (and those whose responses are
        identical: a tie by definition); the judgments still to ask."""
        different = []
        for index, pair in chunk:
            if pair.response_a == pair.response_b:
                self.identical += 1
                self.sink.write(index, self.labeler.tie_record(pair))
                self._progress()
            else:
                different.append((index, pair))
        planned = []
        for plan in self.labeler.planner.plan_many(different) if different else ():
            if isinstance(plan, SkippedPair):
                self.skipped += 1
                self.sink.skipped(plan.index, plan.pair.id, plan.reason)
                self._progress()
            else:
                planned.append(plan)
        cached = self.labeler.cache.get_many(j.key for plan in planned for j in plan.judgments)
        missing: list[tuple[int, int, PlannedJudgment]] = []
        for plan in planned:
            state = _OpenPair(plan)
            if plan.truncated:
                self.truncated += 1
                self.sink.truncated(plan.index, plan.pair.id)
            self.judgments += len(plan.judgments)
            for k, judgment in enumerate(plan.judgments):
                if judgment.key in cached:
                    self.cached += 1
                    state.results[judgment.key] = cached[judgment.key]
                else:
                    state.missing += 1
                    missing.append((plan.index, k, judgment))
            if state.missing:
                self.open[plan.index] = state
            else:
                self._finish(state)
        return missing

    def requests(self, pairs: Iterable[Pair]) -> Iterator[OptionRequest | PairRequest]:
        """The judgments to ask, planned a chunk at a time as the backend asks for more: rendered prompts, or for a
        pair judge the conversation and the responses in the judgment's slot order."""
        pair_judge = isinstance(self.labeler.llm, PairJudge)
        for chunk in _chunks(pairs, self.labeler.config.chunk_pairs):
            for index, k, judgment in self.plan_chunk(chunk):
                if pair_judge:
                    pair = self.open[index].planned.pair
                    slots = (pair.response_a, pair.response_b) if judgment.order == "ab" else (pair.response_b, pair.response_a)
                    yield PairRequest((index, k), pair.prompt, *slots, judgment.principle.id)
                else:
                    yield self.labeler.request((index, k), judgment.prompt.text, judgment.token_ids, judgment.prompt.options)

    # -- answers ----------------------------------------------------------------------------------------------
    def receive(self, result: OptionResult) -> None:
        """One answer: cache it, and finish its pair when it was the last one missing."""
        index, k = result.key
        state = self.open[index]
        judgment = state.planned.judgments[k]
        rationale = self.rationales.pop(result.key, None)
        error = result.error or _unusable(result.logprobs, len(judgment.prompt.options))
        if error:
            self.streak += 1
            self.last_error = f"pair {state.planned.pair.id}, principle {judgment.principle.id}, order {judgment.order}: {error}"
            state.error = state.error or self.last_error
            if self.streak >= self.labeler.config.max_failure_streak:
                raise FeedbackError(
                    f"{self.streak} judgments in a row failed; the judge looks down. Last: {self.last_error}. "
                    "Every answer so far is cached: rerun to resume."
                )
        else:
            self.streak = 0
            self.computed += 1
            answer = Judgment(judgment.key, tuple(result.logprobs or ()), rationale)
            state.results[judgment.key] = answer
            self.buffer.append(answer)
            if len(self.buffer) >= self.labeler.config.flush_every or time.monotonic() - self.last_flush > FLUSH_SECONDS:
                self.flush()
        state.missing -= 1
        if not state.missing:
            del self.open[index]
            self._finish(state)

    def flush(self) -> None:
        """Store the buffered answers (one transaction)."""
        if self.buffer:
            self.labeler.cache.put_many(self.buffer)
            self.buffer = []
        self.last_flush = time.monotonic()

    def _finish(self, state: _OpenPair) -> None:
        plan = state.planned
        if state.error is not None:
            self.failed += 1
            self.sink.failed(plan.index, plan.pair.id, state.error)
        else:
            record, per_order, first_order = self.labeler.record(plan, state.results)
            self.stats.add(record, per_order, first_order)
            self.sink.write(plan.index, record)
        self._progress()

    def _progress(self) -> None:
        if self.progress is not None:
            self.progress(1)

    def summary(self) -> LabelSummary:
        labeler = self.labeler
        return self.stats.summary(
            judge=labeler.judge_name,
            constitution_hash=labeler.constitution.hash,
            judgments=self.judgments,
            computed=self.computed,
            cached=self.cached,
            seconds=time.perf_counter() - self.started,
            truncated=self.truncated,
            skipped=self.skipped,
            failed=self.failed,
            identical=self.identical,
        )


def _chunks(pairs: Iterable[Pair], size: int) -> Iterator[list[tuple[int, Pair]]]:
    numbered = enumerate(pairs)
    while chunk := list(islice(numbered, size)):
        yield chunk


def _unusable(logprobs: tuple[float, ...] | None, options: int) -> str | None:
    """Why option log-probs cannot make a label (None when they can): NaN, positive, or the wrong count."""
    values = logprobs or ()
    if len(values) != options or any(math.isnan(x) or x > 1e-6 for x in values):
        return f"judge returned unusable log-probs {list(values)}"
    return None


class Labeler:
    """Judges pairs with a backend against a constitution, through the judgment cache."""

    def __init__(self, constitution: Constitution, llm: LLM, cache: JudgmentCache, config: LabelConfig | None = None) -> None:
        self.constitution = constitution
        self.llm = llm
        self.cache = cache
        self.config = config or LabelConfig()
        if self.config.chain_of_thought and isinstance(llm, PairJudge):
            raise InputError(f"chain-of-thought needs a judge that writes; {llm.name} compares pairs without a rationale")
        self.kind: Kind = "cot" if self.config.chain_of_thought else "comparison"
        self.orders: tuple[Order, ...] = ("ab", "ba") if self.config.both_orders else ("ab",)
        judge = llm.identity + (f"|cot:{self.config.cot_max_tokens}" if self.kind == "cot" else "")
        self.planner = Planner(
            constitution, llm.tokenizer, judge=judge, kind=self.kind, orders=self.orders,
            max_model_len=llm.max_model_len, cot_max_tokens=self.config.cot_max_tokens,
        )  # fmt: skip
        self._option_ids: dict[tuple[str, ...], tuple[int, ...]] = {}

    @property
    def judge_name(self) -> str:
        """The judge as the records and the summary name it."""
        return self.llm.name + (":cot" if self.kind == "cot" else "")

    def request(self, key: Any, text: str, token_ids: list[int] | None, options: tuple[str, ...]) -> OptionRequest:
        """An option-scoring request for the backend (option token ids looked up once per option set)."""
        if options not in self._option_ids:
            tokenizer = self.llm.tokenizer
            self._option_ids[options] = tuple(option_token_ids(tokenizer, options)) if tokenizer is not None else ()
        return OptionRequest(key, text, token_ids or [], self._option_ids[options])

    def label(self, pairs: Iterable[Pair], sink: LabelSink, progress: Progress | None = None) -> LabelSummary:
        """Label ``pairs`` (any iterable, read lazily); records and problems go to ``sink``; returns the summary.

        Whatever happens (an exception, a stop), the answers received so far are stored in the cache first.
        """
        run = _Run(self, sink, progress)
        try:
            if self.kind == "cot":
                self._label_cot(pairs, run)
            else:
                ask = self.llm.compare if isinstance(self.llm, PairJudge) else self.llm.score_options
                for result in ask(run.requests(pairs)):  # type: ignore[arg-type]
                    run.receive(result)
        finally:
            run.flush()
        return run.summary()

    def _label_cot(self, pairs: Iterable[Pair], run: _Run) -> None:
        """Chain-of-thought, a chunk at a time: the chunk's rationales are generated, then its options scored."""
        for chunk in _chunks(pairs, self.config.chunk_pairs):
            missing = run.plan_chunk(chunk)
            if not missing:
                continue
            prompts = [j.prompt.text for _, _, j in missing]
            try:
                rationales: list[list[str] | None] = list(self.llm.generate(prompts, max_tokens=self.config.cot_max_tokens, temperature=0.0))
                errors: dict[int, str] = {}
            except GenerationFailed as failed:  # only these judgments fail (and their pairs), not the run
                rationales, errors = failed.completions, failed.errors
            for i, error in sorted(errors.items()):
                index, k, _ = missing[i]
                run.receive(OptionResult((index, k), None, f"no rationale: {error}"))
            asked = [(m, r[0] if r else "") for i, (m, r) in enumerate(zip(missing, rationales)) if i not in errors]
            texts = [j.prompt.with_rationale(rationale) for (_, _, j), rationale in asked]
            ids = encode_prompts(self.llm.tokenizer, texts) if self.llm.tokenizer is not None else [None] * len(texts)
            requests = []
            for ((index, k, judgment), rationale), text, token_ids in zip(asked, texts, ids):
                run.rationales[(index, k)] = rationale
                requests.append(self.request((index, k), text, token_ids, judgment.prompt.options))
            for result in self.llm.score_options(requests):
                run.receive(result)

    def _p_slot_a(self, judgment: Judgment) -> float:
        p = two_way(judgment.logprobs)
        if self.kind == "cot":
            lo, hi = self.config.cot_clamp
            p = min(max(p, lo), hi)
        return p

    def tie_record(self, pair: Pair) -> FeedbackRecord:
        """The record of a pair whose responses are identical: p = 0.5 for each principle drawn, no judge asked."""
        principles = {p.id: 0.5 for p in self.constitution.plan(pair.pair_hash())}
        return FeedbackRecord.of(
            pair, 0.5, principles, position_consistent=None, constitution_hash=self.constitution.hash,
            judge=self.judge_name,
        )  # fmt: skip

    def record(self, plan: PlannedPair, judgments: dict[JudgmentKey, Judgment]) -> tuple[FeedbackRecord, dict[str, dict[str, float]], float]:
        """The pair's record, P(response_a) per principle and order, and the A/B-order-only label."""
        pair = plan.pair
        per_order: dict[str, dict[str, float]] = {}  # principle -> order -> P(response_a preferred)
        weights: dict[str, float] = {}
        for planned in plan.judgments:
            p_slot_a = self._p_slot_a(judgments[planned.key])
            per_order.setdefault(planned.principle.id, {})[planned.order] = p_slot_a if planned.order == "ab" else 1.0 - p_slot_a
            weights[planned.principle.id] = planned.principle.weight
        per_principle = {pid: sum(orders.values()) / len(orders) for pid, orders in per_order.items()}
        total = sum(weights.values())
        p_a = sum(weights[pid] * p for pid, p in per_principle.items()) / total
        ensembled = {order: sum(weights[pid] * o[order] for pid, o in per_order.items()) / total for order in self.orders}
        consistent = len({v > 0.5 for v in ensembled.values()}) == 1 if len(self.orders) == 2 else None
        record = FeedbackRecord.of(
            pair, p_a, per_principle, position_consistent=consistent, constitution_hash=self.constitution.hash,
            judge=self.judge_name, truncated=plan.truncated,
        )  # fmt: skip
        return record, per_order, ensembled["ab"]


def label_pairs(labeler: Labeler, pairs: Iterable[Pair], progress: Progress | None = None) -> tuple[list[FeedbackRecord], LabelSummary]:
    """Label pairs in memory: the records in input order (skipped and failed pairs have none) and the summary."""
    sink = ListSink()
    summary = labeler.label(pairs, sink, progress)
    return sink.in_order(), summary
