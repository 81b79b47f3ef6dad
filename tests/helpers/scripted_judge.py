"""A scripted judge: a real object implementing the backend protocol, with known preferences and a known position
bias, so that labeling tests can compute the expected numbers exactly."""

from __future__ import annotations

import math
import re

from constitution.data import Message, Pair
from constitution.llm.base import OptionResult, batched_scores

SLOTS = re.compile(r"\(A\) (.*?)\n\n\(B\) (.*?)\n\nQuestion: (.*?)\n", re.S)


class ScriptedJudge:
    """Prefers the response that contains the word the principle asks about; adds `bias` nats to slot (B)."""

    name = identity = "scripted"
    tokenizer = None
    max_model_len = None
    batch = 8

    def __init__(self, bias: float = 1.0, margin: float = 2.0, rationale: str = "Thinking.") -> None:
        self.bias, self.margin, self.rationale = bias, margin, rationale
        self.scored: list[str] = []
        self.fail_after: int | None = None

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        if self.fail_after is not None and len(self.scored) + len(prompts) > self.fail_after:
            raise RuntimeError("judge died")
        out = []
        for text in prompts:
            a, b, question = SLOTS.search(text).groups()
            word = "kind" if "kind" in question else "short"
            la = self.margin * (word in a)
            lb = self.margin * (word in b) + self.bias
            z = math.log(math.exp(la) + math.exp(lb))
            out.append([la - z, lb - z])
        self.scored.extend(prompts)
        return out

    def score_options(self, requests):
        def score(chunk):
            logprobs = self.option_logprobs([r.text for r in chunk], ["A", "B"])
            return [OptionResult(r.key, tuple(lp)) for r, lp in zip(chunk, logprobs)]

        return batched_scores(score, requests, self.batch)

    def generate(self, prompts, *, max_tokens, temperature=0.0, n=1, seed=None, stop=None):
        return [[self.rationale] * n for _ in prompts]

    def close(self) -> None:
        pass


def word_pair(i: int, a: str, b: str, p_a: float | None = 1.0) -> Pair:
    """Pair ``i``: a one-turn question and the responses ``a`` and ``b``."""
    return Pair(id=str(i), prompt=[Message(role="user", content=f"question {i}")], response_a=a, response_b=b, p_a=p_a)
