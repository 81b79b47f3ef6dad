"""The labeler: judge pairs against the constitution and turn option log-probs into soft AI preference labels.

Per pair: the constitution's sampling rule picks principles; each is asked in both orders (A/B and B/A) unless told
otherwise; the two orders are averaged (position debiasing, RLAIF) and the principles are ensembled with their
weights (CAI). Every judgment goes to the cache the moment its batch returns, so a killed run resumes where it
stopped, and an edited principle is the only one asked again.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.atomic import atomic_write_text
from constitution.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.data import FeedbackRecord, Message, Pair, records_to_dataset, save_dataset
from constitution.feedback.base import FeedbackBackend
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.prompts import JudgePrompt, Order, comparison_prompt


class LabelConfig(BaseModel):
    """How pairs are judged."""

    model_config = ConfigDict(extra="forbid")

    both_orders: bool = Field(True, description="ask A/B and B/A and average them (position debiasing)")
    chain_of_thought: bool = Field(False, description="generate a rationale first, then score the options")
    cot_clamp: tuple[float, float] = Field((0.4, 0.6), description="clamp chain-of-thought probabilities to this range")
    cot_max_tokens: int = Field(96, ge=1, description="rationale length limit, in tokens")
    batch_size: int = Field(64, ge=1, description="judgments per backend call (each batch is cached when it returns)")

    @model_validator(mode="after")
    def _clamp_in_range(self) -> LabelConfig:
        lo, hi = self.cot_clamp
        if not 0.0 <= lo <= 0.5 <= hi <= 1.0:
            raise ValueError("cot_clamp must satisfy 0 <= low <= 0.5 <= high <= 1")
        return self


class PrincipleStats(BaseModel):
    """Label statistics of one principle over a run."""

    principle_id: str
    judged_pairs: int
    mean_p_a: float
    mean_margin: float = Field(description="mean |p - 0.5| after debiasing")
    same_position_pct: float | None = Field(None, description="% of pairs where both orders preferred the same slot")
    slot_a_pct: float = Field(description="% of single-order judgments that preferred slot (A)")
    agreement: float | None = Field(None, description="agreement of the debiased label with the reference label")


class LabelSummary(BaseModel):
    """What a labeling run did and how the labels look."""

    judge: str
    constitution_hash: str
    pairs: int
    judgments: int
    judgments_computed: int
    judgments_cached: int
    seconds: float
    pairs_per_s: float
    judgments_per_s: float
    same_position_pct: float | None = Field(None, description="% of (pair, principle) where both orders chose the same slot")
    slot_a_pct: float = Field(description="% of single-order judgments preferring slot (A): the judge's position bias")
    position_consistent_pct: float | None = Field(None, description="% of pairs whose ensembled orders agree")
    mean_margin: float
    agreement: float | None = Field(None, description="agreement with the input's labels, debiased and ensembled")
    agreement_first_order: float | None = Field(None, description="the same using only the A/B order (no debiasing)")
    per_principle: list[PrincipleStats]


def two_way(logprobs: tuple[float, ...] | list[float]) -> float:
    """P(first option) from the two options' log-probs, normalised over the two."""
    la, lb = logprobs[0], logprobs[1]
    return 1.0 / (1.0 + math.exp(lb - la))


def agreement(predicted: list[float], reference: list[float]) -> float | None:
    """Share of pairs where the label prefers the same response as the reference; a tie (0.5) counts half."""
    scores = [0.5 if p == 0.5 else float((p > 0.5) == (r > 0.5)) for p, r in zip(predicted, reference) if r != 0.5]
    return sum(scores) / len(scores) if scores else None


class _Task(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pair: Pair
    principle: ResolvedPrinciple
    order: Order
    key: JudgmentKey


ProgressFn = Callable[[int, int], None]  # (judgments just done, total judgments)


class Labeler:
    """Judges pairs with a backend against a constitution, through the cache."""

    def __init__(self, constitution: Constitution, backend: FeedbackBackend, cache: JudgmentCache, config: LabelConfig | None = None) -> None:
        self.constitution = constitution
        self.backend = backend
        self.cache = cache
        self.config = config or LabelConfig()
        self.kind: Literal["comparison", "cot"] = "cot" if self.config.chain_of_thought else "comparison"

    def _orders(self) -> tuple[Order, ...]:
        return ("ab", "ba") if self.config.both_orders else ("ab",)

    def _tasks(self, pairs: list[Pair]) -> list[_Task]:
        tasks: list[_Task] = []
        for pair in pairs:
            pair_hash = pair.pair_hash()
            for principle in self.constitution.plan(pair_hash):
                template = self.constitution.templates[self.constitution.template_name(principle, self.kind)]
                for order in self._orders():
                    key = JudgmentKey(
                        judge=self.backend.judge_id + (":cot" if self.kind == "cot" else ""),
                        template_hash=template.hash,
                        principle_hash=principle.hash,
                        pair_hash=pair_hash,
                        order=order,
                    )
                    tasks.append(_Task(pair=pair, principle=principle, order=order, key=key))
        return tasks

    def _judge(self, tasks: list[_Task]) -> list[Judgment]:
        """Ask the backend for one batch (prompts grouped by their option set)."""
        prompts: list[JudgePrompt] = [
            comparison_prompt(self.constitution, t.principle, t.pair, t.order, self.backend.tokenizer, self.kind) for t in tasks
        ]
        rationales: list[str | None] = [None] * len(tasks)
        texts = [p.text for p in prompts]
        if self.kind == "cot":
            outs = self.backend.generate(texts, max_tokens=self.config.cot_max_tokens, temperature=0.0)
            rationales = [o[0] for o in outs]
            texts = [p.with_rationale(r or "") for p, r in zip(prompts, rationales)]
        by_options: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i, p in enumerate(prompts):
            by_options[p.options].append(i)
        logprobs: list[list[float]] = [[] for _ in tasks]
        for options, indices in by_options.items():
            for i, lp in zip(indices, self.backend.option_logprobs([texts[i] for i in indices], list(options))):
                if len(lp) != len(options) or not all(math.isfinite(x) for x in lp):
                    raise RuntimeError(f"judge returned unusable log-probs {lp} for pair {tasks[i].pair.id}, principle {tasks[i].principle.id}")
                logprobs[i] = lp
        return [Judgment(key=t.key, logprobs=tuple(lp), rationale=r) for t, lp, r in zip(tasks, logprobs, rationales)]

    def judge_missing(self, tasks: list[_Task], progress: ProgressFn | None = None) -> tuple[dict[JudgmentKey, Judgment], int]:
        """Judgments for every task: cached ones are read, missing ones asked in batches and cached at once."""
        unique = list({t.key: t for t in tasks}.values())
        have = self.cache.get_many(t.key for t in unique)
        missing = [t for t in unique if t.key not in have]
        if progress:
            progress(len(have), len(unique))
        # Group a pair's prompts together so the backend sees shared prefixes back to back (prefix cache).
        missing.sort(key=lambda t: (t.key.pair_hash, t.order, t.principle.id))
        step = self.config.batch_size
        for start in range(0, len(missing), step):
            batch = self._judge(missing[start : start + step])
            self.cache.put_many(batch)
            have.update((j.key, j) for j in batch)
            if progress:
                progress(len(batch), len(unique))
        return have, len(missing)

    def _p_slot_a(self, judgment: Judgment) -> float:
        p = two_way(judgment.logprobs)
        if self.kind == "cot":
            lo, hi = self.config.cot_clamp
            p = min(max(p, lo), hi)
        return p

    def label(self, pairs: list[Pair], progress: ProgressFn | None = None) -> tuple[list[FeedbackRecord], LabelSummary]:
        """Label pairs; returns one record per pair (input order) and the run summary."""
        started = time.perf_counter()
        tasks = self._tasks(pairs)
        judgments, computed = self.judge_missing(tasks, progress)
        seconds = time.perf_counter() - started

        by_pair: dict[str, list[_Task]] = defaultdict(list)
        for t in tasks:
            by_pair[t.pair.id + "\0" + t.key.pair_hash].append(t)
        records: list[FeedbackRecord] = []
        stats = _StatsCollector()
        for pair in pairs:
            records.append(self._record(pair, by_pair[pair.id + "\0" + pair.pair_hash()], judgments, stats))
        summary = stats.summary(
            records,
            judge=self.backend.judge_id,
            constitution_hash=self.constitution.hash,
            judgments=len({t.key for t in tasks}),
            computed=computed,
            seconds=seconds,
        )
        return records, summary

    def _record(self, pair: Pair, tasks: list[_Task], judgments: dict[JudgmentKey, Judgment], stats: _StatsCollector) -> FeedbackRecord:
        per_order: dict[str, dict[str, float]] = defaultdict(dict)  # principle -> order -> P(response_a preferred)
        weights: dict[str, float] = {}
        for t in tasks:
            p_slot_a = self._p_slot_a(judgments[t.key])
            per_order[t.principle.id][t.order] = p_slot_a if t.order == "ab" else 1.0 - p_slot_a
            weights[t.principle.id] = t.principle.weight
            stats.slot_a.append(float(p_slot_a > 0.5))
        per_principle = {pid: sum(orders.values()) / len(orders) for pid, orders in per_order.items()}
        total = sum(weights.values())
        p_a = sum(weights[pid] * p for pid, p in per_principle.items()) / total
        ensembled_orders = {
            order: sum(weights[pid] * o[order] for pid, o in per_order.items()) / total for order in self._orders()
        }
        consistent = len({v > 0.5 for v in ensembled_orders.values()}) == 1
        stats.add(pair, per_order, per_principle, ensembled_orders)
        a = Message(role="assistant", content=pair.response_a)
        b = Message(role="assistant", content=pair.response_b)
        return FeedbackRecord(
            id=pair.id,
            prompt=pair.prompt,
            response_a=pair.response_a,
            response_b=pair.response_b,
            p_a=p_a,
            chosen=[a] if p_a >= 0.5 else [b],
            rejected=[b] if p_a >= 0.5 else [a],
            p_chosen=max(p_a, 1.0 - p_a),
            per_principle=per_principle,
            position_consistent=consistent,
            judge=self.backend.judge_id + (":cot" if self.kind == "cot" else ""),
            constitution_hash=self.constitution.hash,
            reference_p_a=pair.p_a,
        )


class _StatsCollector:
    """Accumulates per-principle and per-run label statistics."""

    def __init__(self) -> None:
        self.slot_a: list[float] = []
        self.same_position: list[float] = []
        self.first_order: list[float] = []
        self.reference: list[float | None] = []
        self.principle_p: dict[str, list[float]] = defaultdict(list)
        self.principle_same: dict[str, list[float]] = defaultdict(list)
        self.principle_ref: dict[str, list[float | None]] = defaultdict(list)
        self.principle_slot_a: dict[str, list[float]] = defaultdict(list)

    def add(self, pair: Pair, per_order: dict[str, dict[str, float]], per_principle: dict[str, float], ensembled: dict[str, float]) -> None:
        self.reference.append(pair.p_a)
        self.first_order.append(ensembled["ab"])
        for pid, orders in per_order.items():
            self.principle_p[pid].append(per_principle[pid])
            self.principle_ref[pid].append(pair.p_a)
            self.principle_slot_a[pid].append(float(orders["ab"] > 0.5))
            if "ba" in orders:
                # The same slot both times means the verdict flipped with the order: A/B chose a, B/A chose b, or back.
                same = (orders["ab"] > 0.5) != (orders["ba"] > 0.5)
                self.same_position.append(float(same))
                self.principle_same[pid].append(float(same))
                self.principle_slot_a[pid].append(float(orders["ba"] < 0.5))

    def summary(self, records: list[FeedbackRecord], *, judge: str, constitution_hash: str, judgments: int, computed: int, seconds: float) -> LabelSummary:
        def pct(values: list[float]) -> float | None:
            return 100.0 * sum(values) / len(values) if values else None

        def agree(pred: list[float], ref: list[float | None]) -> float | None:
            known = [(p, r) for p, r in zip(pred, ref) if r is not None]
            return agreement([p for p, _ in known], [r for _, r in known]) if known else None

        per_principle = [
            PrincipleStats(
                principle_id=pid,
                judged_pairs=len(ps),
                mean_p_a=sum(ps) / len(ps),
                mean_margin=sum(abs(p - 0.5) for p in ps) / len(ps),
                same_position_pct=pct(self.principle_same[pid]),
                slot_a_pct=pct(self.principle_slot_a[pid]) or 0.0,
                agreement=agree(ps, self.principle_ref[pid]),
            )
            for pid, ps in sorted(self.principle_p.items())
        ]
        p_all = [r.p_a for r in records]
        return LabelSummary(
            judge=judge,
            constitution_hash=constitution_hash,
            pairs=len(records),
            judgments=judgments,
            judgments_computed=computed,
            judgments_cached=judgments - computed,
            seconds=seconds,
            pairs_per_s=len(records) / seconds if seconds > 0 else float("inf"),
            judgments_per_s=computed / seconds if seconds > 0 else float("inf"),
            same_position_pct=pct(self.same_position),
            slot_a_pct=pct(self.slot_a) or 0.0,
            position_consistent_pct=pct([float(r.position_consistent) for r in records]) if self.same_position else None,
            mean_margin=sum(abs(p - 0.5) for p in p_all) / len(p_all) if p_all else 0.0,
            agreement=agree(p_all, self.reference),
            agreement_first_order=agree(self.first_order, self.reference),
            per_principle=per_principle,
        )


def label_with_progress(labeler: Labeler, pairs: list[Pair], *, show: bool = True, desc: str | None = None) -> tuple[list[FeedbackRecord], LabelSummary]:
    """``labeler.label`` with a tqdm bar (on stderr) over the judgments."""
    import sys

    from tqdm import tqdm

    with tqdm(unit="judgment", disable=not show, file=sys.stderr, desc=desc) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done)

        return labeler.label(pairs, progress=progress)


def write_labels(out: Path, records: list[FeedbackRecord], summary: LabelSummary) -> None:
    """The AI-feedback dataset (a `datasets` folder), ``labels.jsonl`` and ``summary.json`` in ``out``."""
    save_dataset(records_to_dataset(records), out)
    atomic_write_text(out / "labels.jsonl", "".join(r.model_dump_json() + "\n" for r in records))
    atomic_write_text(out / "summary.json", summary.model_dump_json(indent=2))


def format_summary(summary: LabelSummary, top: int = 30) -> str:
    """A terminal table: headline figures, then one row per principle."""

    def f(x: float | None, spec: str = ".1f") -> str:
        return "-" if x is None else format(x, spec)

    lines = [
        f"judge {summary.judge}  constitution {summary.constitution_hash}",
        f"pairs {summary.pairs}  judgments {summary.judgments} (computed {summary.judgments_computed}, cached {summary.judgments_cached})"
        f"  {summary.seconds:.1f}s  {summary.pairs_per_s:.2f} pairs/s",
        f"slot (A) preferred {f(summary.slot_a_pct)}%  same position preferred {f(summary.same_position_pct)}%"
        f"  position-consistent pairs {f(summary.position_consistent_pct)}%  mean |p-0.5| {summary.mean_margin:.3f}",
    ]
    if summary.agreement is not None:
        lines.append(f"agreement with input labels: {100 * summary.agreement:.1f}% debiased, {f(100 * summary.agreement_first_order if summary.agreement_first_order is not None else None)}% A/B order only")
    lines.append(f"{'principle':<24} {'pairs':>5} {'mean p_a':>8} {'|p-.5|':>7} {'same pos%':>9} {'slot A%':>7} {'agree%':>6}")
    for s in summary.per_principle[:top]:
        lines.append(
            f"{s.principle_id:<24} {s.judged_pairs:>5} {s.mean_p_a:>8.3f} {s.mean_margin:>7.3f} {f(s.same_position_pct):>9} {s.slot_a_pct:>7.1f} {f(100 * s.agreement if s.agreement is not None else None):>6}"
        )
    return "\n".join(lines)
