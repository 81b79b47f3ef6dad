"""Judge mode: the feedback model reads the safety policy and answers "Does it violate…? Yes/No".

The unsafe score is P("Yes") of the first answer token, normalised over Yes/No (Llama Guard / ShieldGemma style).
Per-category scores ask the same question for one category at a time; the policy and the text come first in the
prompt, so vLLM's prefix cache shares them across the categories.
"""

from __future__ import annotations

from collections.abc import Callable

from constitution.feedback.base import FeedbackBackend
from constitution.labeling import two_way
from constitution.principles import Constitution
from constitution.prompts import safety_prompt
from constitution.safety.datasets import SafetyExample

ProgressFn = Callable[[int], None]


class JudgeSafetyScorer:
    """Unsafe scores from an LLM judge and the constitution's safety policy."""

    def __init__(self, constitution: Constitution, backend: FeedbackBackend, batch_size: int = 64) -> None:
        if constitution.safety_policy is None:
            from constitution.errors import InputError

            raise InputError("the constitution has no safety_policy: add a `kind: safety_policy` file")
        self.constitution = constitution
        self.backend = backend
        self.batch_size = batch_size
        self.mode = f"judge:{backend.judge_id}"

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.constitution.safety_policy.categories]  # type: ignore[union-attr]

    def _p_yes(self, examples: list[SafetyExample], category_id: str | None, progress: ProgressFn | None) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(examples), self.batch_size):
            batch = examples[start : start + self.batch_size]
            prompts = [safety_prompt(self.constitution, ex.conversation, ex.text, self.backend.tokenizer, category_id) for ex in batch]
            options = list(prompts[0].options)
            logprobs = self.backend.option_logprobs([p.text for p in prompts], options)
            scores.extend(two_way(lp) for lp in logprobs)
            if progress:
                progress(len(batch))
        return scores

    def unsafe_scores(self, examples: list[SafetyExample], progress: ProgressFn | None = None) -> list[float]:
        """P(unsafe) per example under the whole policy."""
        return self._p_yes(examples, None, progress)

    def category_scores(self, examples: list[SafetyExample]) -> list[dict[str, float]]:
        """P(violates category) per example and category."""
        per_category = {cid: self._p_yes(examples, cid, None) for cid in self.category_ids}
        return [{cid: per_category[cid][i] for cid in self.category_ids} for i in range(len(examples))]
