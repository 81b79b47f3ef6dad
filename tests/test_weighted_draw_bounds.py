"""The weighted draw's u at the ends of the hash range: a hash whose top bits are all ones gives u < 1 (so weights
still rank the principles), and one whose top bits are all zeros ranks its principle last instead of failing. The
hash is replaced (monkeypatched) only to reach these digests, which real keys hit about once in 2**53."""

from __future__ import annotations

import pytest

import constitution.principles as principles
from constitution.loader import load_constitution
from constitution.principles import hash_uniform, weighted_draw
from constitution.resources import default_principles


def test_u_stays_below_one_at_the_top_of_the_hash_range():
    assert hash_uniform(b"\xff" * 32) == 1.0 - 2.0**-53
    assert hash_uniform(b"\x00" * 32) == 0.0


@pytest.fixture
def shipped():
    return load_constitution(default_principles()).principles


def test_a_top_of_range_hash_still_lets_the_heavier_principle_win(shipped, monkeypatch):
    """With u rounded to 1.0 every key was ln(1)/w = 0 whatever the weight, and the first listed won."""
    light, heavy = shipped[0].model_copy(update={"weight": 1.0}), shipped[1].model_copy(update={"weight": 3.0})
    monkeypatch.setattr(principles, "joined_digest", lambda *parts: b"\xff" * 32)
    assert weighted_draw([light, heavy], 2, 0, "pair") == [heavy, light]


def test_a_bottom_of_range_hash_ranks_its_principle_last(shipped, monkeypatch):
    first = shipped[0]
    monkeypatch.setattr(principles, "joined_digest", lambda seed, key, pid: (b"\x00" if pid == first.id else b"\x80") * 32)
    drawn = weighted_draw(shipped, len(shipped), 0, "pair")
    assert len(drawn) == len(shipped) and drawn[-1] == first
