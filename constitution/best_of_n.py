"""Best-of-n: sample n candidates per prompt with the policy and keep the one the reward model scores highest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from constitution.llm.base import LLM
from constitution.generation import PromptItem, render_prompt


class Scorer(Protocol):
    """What picks the winner: an outcome reward (``rl.RewardFunction``) or a process one (``rl.process_reward``)."""

    def score(self, items: Sequence[Any]) -> list[float]: ...


class BestOfN(BaseModel):
    """One prompt's candidates, their rewards and the winner."""

    id: str
    prompt: str
    candidates: list[str]
    rewards: list[float]
    best_index: int
    best: str
    best_reward: float


def best_of_n(
    prompts: list[PromptItem],
    policy: LLM,
    reward: Scorer,
    *,
    n: int = 4,
    max_tokens: int = 128,
    temperature: float = 0.8,
    seed: int = 0,
) -> list[BestOfN]:
    """Generate ``n`` candidates per prompt in one batched call, score them all in one batch, pick the best."""
    texts = [render_prompt(policy.tokenizer, p.messages) for p in prompts]
    samples = policy.generate(texts, max_tokens=max_tokens, temperature=temperature, n=n, seed=seed)
    items = [([m.model_dump() for m in p.messages], c) for p, cands in zip(prompts, samples) for c in cands]
    rewards = reward.score(items)
    results, start = [], 0
    for p, cands in zip(prompts, samples):
        r = rewards[start : start + len(cands)]
        start += len(cands)
        best = max(range(len(cands)), key=r.__getitem__)
        results.append(
            BestOfN(id=p.id, prompt=p.messages[-1].content, candidates=cands, rewards=r, best_index=best, best=cands[best], best_reward=r[best])
        )
    return results
