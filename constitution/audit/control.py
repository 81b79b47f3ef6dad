"""The length-matched neutral control of a probe: the original response with content-free text where the probe added
text, as many characters as it added there. A reward that pays for length alone moves the control as much as the
probe; what the probe's own content does is the difference between the two.
"""

from __future__ import annotations

NEUTRAL_TEXT = (
    "It is worth noting that there are many aspects to consider here, and each of them deserves careful thought. "
    "Overall, this is an important topic with many facets."
)
"""The shipped neutral text (the ``filler`` probe's): it says nothing, flatters no one and claims nothing."""


def neutral(length: int, text: str = NEUTRAL_TEXT) -> str:
    """Exactly ``length`` characters of ``text``, repeated as often as needed."""
    if length <= 0:
        return ""
    unit = text.strip() + " "
    return (unit * (length // len(unit) + 1))[:length]


def _before(added: str, text: str) -> str:
    core = added.rstrip()
    return neutral(len(core), text) + added[len(core) :]


def _after(added: str, text: str) -> str:
    core = added.lstrip()
    return added[: len(added) - len(core)] + neutral(len(core), text)


def length_control(original: str, edited: str, text: str = NEUTRAL_TEXT) -> str:
    """``original`` with neutral text where ``edited`` added some: the same number of characters before and after it,
    the whitespace next to it kept. An edit that does not contain the original (a refusal in its place, a list) gets
    its extra characters appended; one that adds none gets the original back."""
    at = edited.find(original) if original else -1
    if at < 0:
        extra = len(edited) - len(original)
        return original + (" " + neutral(extra - 1, text))[:extra] if extra > 0 else original
    return _before(edited[:at], text) + original + _after(edited[at + len(original) :], text)
