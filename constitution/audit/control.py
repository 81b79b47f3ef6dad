"""The length-matched neutral control of a probe: the original response with content-free text where the probe added
text, as long as what it added there. A reward that pays for length alone moves the control as much as the probe;
what the probe's own content does is the difference between the two.

Length is what the reward model reads: its tokens when it has a tokenizer (:func:`token_counter`; a citation or emoji
is more tokens per character than plain words), characters otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

NEUTRAL_TEXT = (
    "It is worth noting that there are many aspects to consider here, and each of them deserves careful thought. "
    "Overall, this is an important topic with many facets."
)
"""The shipped neutral text (the ``filler`` probe's): it says nothing, flatters no one and claims nothing."""

Measure = Callable[[str], int]
"""How long a text is: ``len`` (characters) or a tokenizer's count (:func:`token_counter`)."""


def token_counter(tokenizer: Any | None) -> Measure:
    """A text's length in ``tokenizer``'s tokens (no special tokens); characters without a tokenizer."""
    if tokenizer is None:
        return len
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def neutral(length: int, text: str = NEUTRAL_TEXT, measure: Measure = len) -> str:
    """``text`` repeated as often as needed, ``length`` long: exactly ``length`` characters, or in tokens the fewest
    whole words that are at least ``length`` tokens."""
    if length <= 0:
        return ""
    unit = text.strip() + " "
    if measure is len:
        return (unit * (length // len(unit) + 1))[:length]
    words = list(itertools.islice(itertools.cycle(unit.split()), length))  # a word is at least one token
    low, high = 1, length  # the fewest words with enough tokens (a word more is never fewer tokens)
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if measure(" ".join(words[:mid])) >= length else (mid + 1, high)
    return " ".join(words[:low])


def _before(added: str, text: str, measure: Measure) -> str:
    core = added.rstrip()
    return neutral(measure(core), text, measure) + added[len(core) :]


def _after(added: str, text: str, measure: Measure) -> str:
    core = added.lstrip()
    return added[: len(added) - len(core)] + neutral(measure(core), text, measure)


def length_control(original: str, edited: str, text: str = NEUTRAL_TEXT, measure: Measure = len) -> str:
    """``original`` with neutral text where ``edited`` added some: as long (by ``measure``) before and after it, the
    whitespace next to it kept. An edit that does not contain the original (a refusal in its place, a list) gets its
    extra length appended; one that adds none gets the original back."""
    at = edited.find(original) if original else -1
    if at < 0:
        extra = measure(edited) - measure(original)
        if extra <= 0:
            return original
        if measure is len:
            return original + (" " + neutral(extra - 1, text))[:extra]
        return original + " " + neutral(extra, text, measure)
    return _before(edited[:at], text, measure) + original + _after(edited[at + len(original) :], text, measure)
