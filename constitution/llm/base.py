"""The protocol every backend implements, the records it streams, and the helpers the backends share.

Prompts reaching a backend are fully rendered (the chat template applied by :mod:`constitution.prompts`) and, for
option scoring, already tokenized without special tokens: the rendered text is the exact model input, and a template
that already starts with BOS never gets a second one.

Option scoring streams: :meth:`LLM.score_options` takes an iterable of :class:`OptionRequest` and yields one
:class:`OptionResult` per request as each finishes (in any order), keeping its own window of work in flight. A
request that fails on its own (every retry exhausted, a malformed answer) yields a result with ``error`` set, never
a made-up value; a failure of the backend itself (the engine died) raises. :meth:`LLM.generate` raises
:class:`GenerationFailed`, carrying the completions it did get, when only some of its prompts failed.

A pair judge (:class:`PairJudge`, e.g. a reward model) reads no prompt: it is handed the conversation, the two
responses in slot order and the principle, and answers with the same two-option log-probs (first slot, second slot).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from constitution.data.records import Message
from constitution.errors import InputError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class OptionRequest(NamedTuple):
    """Score the single-token options at the next position after a prompt (given as text and as token ids)."""

    key: Any
    text: str
    token_ids: list[int]
    option_ids: tuple[int, ...]


class OptionResult(NamedTuple):
    """fp32 log-softmax (full vocabulary) of each option, or why there is none."""

    key: Any
    logprobs: tuple[float, ...] | None
    error: str | None = None


class PairRequest(NamedTuple):
    """Compare two responses to one conversation under one principle (``first`` is in slot A)."""

    key: Any
    prompt: list[Message]
    first: str
    second: str
    principle: str


class FeedbackError(RuntimeError):
    """The model could not produce a value (e.g. every retry against the servers failed)."""


class GenerationFailed(FeedbackError):
    """Some prompts of a ``generate`` call got no completion (every retry failed on its own) while the others did:
    ``completions`` in prompt order (None where it failed) and ``errors`` by prompt index, so that a caller can fail
    only what depended on the failed prompts."""

    def __init__(self, completions: list[list[str] | None], errors: dict[int, str]) -> None:
        self.completions = completions
        self.errors = errors
        first = min(errors)
        super().__init__(f"{len(errors)} of {len(completions)} prompt(s) got no completion; prompt {first}: {errors[first]}")


@runtime_checkable
class LLM(Protocol):
    """A judge or policy model."""

    name: str
    """Short name for display and provenance (alias, hub id or folder name, with the backend)."""
    identity: str
    """Stable identity for caches: two models share it only if they give the same answers."""
    tokenizer: PreTrainedTokenizerBase
    max_model_len: int | None

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        """One result per request, as each finishes (see the module docstring)."""
        ...

    def generate(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[list[str]]:
        """``n`` completions per rendered prompt (stop strings are not included in the text)."""
        ...

    def close(self) -> None:
        """Release the model / engine / connections."""
        ...


@runtime_checkable
class PairJudge(Protocol):
    """A judge that compares pairs directly (no prompt, no tokenizer: ``tokenizer`` and ``max_model_len`` are None)."""

    def compare(self, requests: Iterable[PairRequest]) -> Iterator[OptionResult]:
        """One result per request: log-probs of (first slot preferred, second slot preferred), normalised over the
        two; a principle the judge cannot answer is an InputError."""
        ...


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> list[list[int]]:
    """Token ids of rendered prompts, without adding special tokens (the template already has them)."""
    if not prompts:
        return []
    return [list(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]


def check_prompt_lengths(token_ids: list[list[int]], max_len: int | None, reserve: int = 1) -> None:
    """Raise InputError naming the first prompt that leaves fewer than ``reserve`` positions, or is empty."""
    for index, ids in enumerate(token_ids):
        if not ids:
            raise InputError("empty prompt", where=f"prompt {index}")
        if max_len is not None and len(ids) + reserve > max_len:
            raise InputError(
                f"prompt is {len(ids)} tokens; with {reserve} new token(s) it exceeds max_model_len={max_len}",
                where=f"prompt {index}",
            )


def batched_scores(
    score: Callable[[list[OptionRequest]], Iterable[OptionResult]], requests: Iterable[OptionRequest], batch: int
) -> Iterator[OptionResult]:
    """Stream results by scoring ``batch`` requests at a time (backends without a scheduler of their own)."""
    it = iter(requests)
    while chunk := list(islice(it, batch)):
        yield from score(chunk)


def truncate_at_stop(text: str, stop: list[str] | None) -> str:
    """Cut a completion at the first stop string (the stop string itself is dropped), like vLLM does."""
    if not stop:
        return text
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


def sample_count(n: int, temperature: float) -> int:
    """How many completions to actually draw: greedy decoding (temperature 0) gives n identical ones, so 1."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    return n if temperature > 0.0 else 1


def replicate(texts: list[str], n: int) -> list[str]:
    """A greedy single completion repeated to the ``n`` the caller asked for."""
    return texts if len(texts) == n else texts * n
