"""Judge mode: the LLM judge reads the safety policy and answers "Does it violate…? Yes/No".

The unsafe score is P("Yes") of the first answer token, normalised over Yes/No (Llama Guard / ShieldGemma style).
Per-category scores ask the same question for one category at a time; the policy and the text come first in the
prompt, so vLLM's prefix cache shares them across the categories.
"""

from __future__ import annotations

from constitution.errors import InputError
from constitution.llm.base import LLM
from constitution.llm.options import option_logprobs, two_way
from constitution.principles import Constitution
from constitution.prompts import safety_prompt
from constitution.safety.datasets import SafetyExample


class JudgeSafetyScorer:
    """Unsafe scores from an LLM judge and the constitution's safety policy."""

    threshold: float | None = None  # a judge has no stored threshold

    def __init__(self, constitution: Constitution, llm: LLM) -> None:
        if constitution.safety_policy is None:
            raise InputError("the constitution has no safety_policy: add a `kind: safety_policy` file")
        self.constitution = constitution
        self.llm = llm
        self.mode = f"judge:{llm.name}"

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.constitution.safety_policy.categories]  # type: ignore[union-attr]

    def _p_yes(self, examples: list[SafetyExample], category_id: str | None) -> list[float]:
        if not examples:
            return []
        prompts = [safety_prompt(self.constitution, ex.conversation, ex.text, self.llm.tokenizer, category_id) for ex in examples]
        logprobs = option_logprobs(self.llm, [p.text for p in prompts], list(prompts[0].options))
        return [two_way(lp) for lp in logprobs]

    def unsafe_scores(self, examples: list[SafetyExample]) -> list[float]:
        """P(unsafe) per example under the whole policy."""
        return self._p_yes(examples, None)

    def category_scores(self, examples: list[SafetyExample]) -> list[dict[str, float]]:
        """P(violates category) per example and category."""
        per_category = {cid: self._p_yes(examples, cid) for cid in self.category_ids}
        return [{cid: per_category[cid][i] for cid in self.category_ids} for i in range(len(examples))]

    def close(self) -> None:
        """Release the judge."""
        self.llm.close()
