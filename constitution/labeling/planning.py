"""What to ask the judge about one pair: the principles the sampling rule picks, each in one or both orders, as
rendered and tokenized prompts; an over-long pair is shortened from the start of its conversation, or skipped.

A pair that does not fit ``max_model_len`` loses its earliest turns, one at a time (both responses and the last
user turn are always kept whole); if even that does not fit, it is skipped. Judgment keys hash the content the
judge actually saw, so a shortened pair never shares a cached judgment with the full one.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from constitution.data.records import Message, Pair
from constitution.labeling.cache import JudgmentKey
from constitution.llm.base import encode_prompts
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.prompts import JudgePrompt, Order, comparison_prompt

Kind = Literal["comparison", "cot"]
COT_SLACK = 16  # tokens for the answer prefix after a rationale (and re-tokenization at the seam)


class PlannedJudgment(NamedTuple):
    """One judgment to ask (or find in the cache)."""

    key: JudgmentKey
    principle: ResolvedPrinciple
    order: Order
    prompt: JudgePrompt
    token_ids: list[int] | None


class PlannedPair(NamedTuple):
    """A pair and the judgments that label it."""

    index: int
    pair: Pair
    truncated: bool
    judgments: list[PlannedJudgment]


class SkippedPair(NamedTuple):
    """A pair the judge cannot see: too long even with only the last user turn."""

    index: int
    pair: Pair
    reason: str


def _shorter(messages: list[Message]) -> list[Message] | None:
    """The conversation without its earliest turn (and any assistant turns that would then open it); None when
    only the last user turn is left."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
    if last_user <= 0:
        return None
    rest = messages[1:]
    while rest and rest[0].role == "assistant" and len(rest) > 1:
        rest = rest[1:]
    return rest


class Planner:
    """Plans pairs for one judge, constitution and labeling mode."""

    def __init__(
        self,
        constitution: Constitution,
        tokenizer: Any,
        *,
        judge: str,
        kind: Kind,
        orders: tuple[Order, ...],
        max_model_len: int | None,
        cot_max_tokens: int,
    ) -> None:
        self.constitution = constitution
        self.tokenizer = tokenizer
        self.judge = judge
        self.kind = kind
        self.orders = orders
        self.max_model_len = max_model_len
        self.reserve = 1 if kind == "comparison" else cot_max_tokens + COT_SLACK

    def _render(self, pair: Pair, principles: list[ResolvedPrinciple]) -> list[tuple[ResolvedPrinciple, Order, JudgePrompt]]:
        return [
            (p, order, comparison_prompt(self.constitution, p, pair, order, self.tokenizer, self.kind))
            for p in principles
            for order in self.orders
        ]

    def plan_many(self, numbered: list[tuple[int, Pair]]) -> list[PlannedPair | SkippedPair]:
        """Plan several pairs, their prompts tokenized in one batch (the tokenizer works in parallel)."""
        rendered = [self._render(pair, self.constitution.plan(pair.pair_hash())) for _, pair in numbered]
        if self.tokenizer is None:
            return [self._planned(i, pair, pair, False, r, [None] * len(r)) for (i, pair), r in zip(numbered, rendered)]
        flat = encode_prompts(self.tokenizer, [prompt.text for r in rendered for _, _, prompt in r])
        plans: list[PlannedPair | SkippedPair] = []
        start = 0
        for (index, pair), prompts in zip(numbered, rendered):
            ids = flat[start : start + len(prompts)]
            start += len(prompts)
            plans.append(self._planned(index, pair, pair, False, prompts, ids) if self._fits(ids) else self.plan(index, pair))
        return plans

    def _fits(self, token_ids: list[list[int]]) -> bool:
        return self.max_model_len is None or max(len(t) for t in token_ids) + self.reserve <= self.max_model_len

    def _planned(
        self, index: int, pair: Pair, judged: Pair, truncated: bool, rendered: list[tuple[ResolvedPrinciple, Order, JudgePrompt]], token_ids: list
    ) -> PlannedPair:
        pair_hash = judged.pair_hash()
        judgments = [
            PlannedJudgment(JudgmentKey(self.judge, pair_hash, p.hash, prompt.template_hash, order), p, order, prompt, ids)
            for (p, order, prompt), ids in zip(rendered, token_ids)
        ]
        return PlannedPair(index, pair, truncated, judgments)

    def plan(self, index: int, pair: Pair) -> PlannedPair | SkippedPair:
        """The pair's judgments, shortened to fit if needed, or why it is skipped."""
        principles = self.constitution.plan(pair.pair_hash())
        judged, truncated = pair, False
        while True:
            rendered = self._render(judged, principles)
            if self.tokenizer is None:
                return self._planned(index, pair, judged, truncated, rendered, [None] * len(rendered))
            token_ids = encode_prompts(self.tokenizer, [r[2].text for r in rendered])
            if self._fits(token_ids):
                return self._planned(index, pair, judged, truncated, rendered, token_ids)
            shorter = _shorter(judged.prompt)
            if shorter is None:
                longest = max(len(t) for t in token_ids)
                return SkippedPair(
                    index, pair, f"a judge prompt is {longest} tokens even with only the last user turn; "
                    f"max_model_len={self.max_model_len} leaves room for {self.max_model_len - self.reserve}",  # type: ignore[operator]
                )  # fmt: skip
            judged, truncated = judged.model_copy(update={"prompt": shorter}), True
