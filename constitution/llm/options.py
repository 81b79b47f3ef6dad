"""Answer options: their single token ids, their log-probs for a list of prompts, and the two-way probability."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from constitution.errors import InputError
from constitution.llm.base import (
    LLM,
    FeedbackError,
    OptionRequest,
    check_prompt_lengths,
    encode_prompts,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class OptionTokenError(InputError):
    """An option is not exactly one token of the judge's tokenizer."""


def option_token_ids(tokenizer: PreTrainedTokenizerBase, options: Sequence[str]) -> list[int]:
    """The single token id of each option; raises OptionTokenError if one is not exactly one token."""
    if not options:
        raise OptionTokenError("no options given")
    ids: list[int] = []
    for option in options:
        tokens = tokenizer.encode(option, add_special_tokens=False)
        if len(tokens) != 1:
            pieces = tokenizer.convert_ids_to_tokens(tokens)
            raise OptionTokenError(
                f"option {option!r} is {len(tokens)} tokens {pieces} for this tokenizer; "
                "options must be exactly one token (e.g. 'A', 'B', ' Yes')"
            )
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise OptionTokenError(f"options {list(options)} do not map to distinct tokens: {ids}")
    return ids


def two_way(logprobs: Sequence[float]) -> float:
    """P(first option) from the first two options' log-probs, normalised over the two: σ(la − lb), computed stably.

    Works for any finite log-probs (``vllm serve`` reports −inf as −9999) and for −inf: one −inf gives 0 or 1,
    both −inf (no information) give 0.5.
    """
    la, lb = float(logprobs[0]), float(logprobs[1])
    if la == lb:  # equal values, including both -inf
        return 0.5
    d = la - lb
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def option_logprobs(llm: LLM, prompts: list[str], options: list[str]) -> list[list[float]]:
    """Option log-probs for a list of rendered prompts, in order; FeedbackError naming the first prompt that failed."""
    ids = tuple(option_token_ids(llm.tokenizer, options))
    token_ids = encode_prompts(llm.tokenizer, prompts)
    check_prompt_lengths(token_ids, llm.max_model_len)
    results: list[list[float] | None] = [None] * len(prompts)
    for result in llm.score_options(OptionRequest(i, p, t, ids) for i, (p, t) in enumerate(zip(prompts, token_ids))):
        if result.error is not None:
            raise FeedbackError(f"prompt {result.key}: {result.error}")
        results[result.key] = list(result.logprobs or ())
    return results  # type: ignore[return-value]


class OptionScoring:
    """``llm.option_logprobs(prompts, options)``: the list form of :meth:`LLM.score_options`, for the backends."""

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        """Option log-probs per rendered prompt, in order (FeedbackError naming the first prompt that failed)."""
        return option_logprobs(self, prompts, options)  # type: ignore[arg-type]
