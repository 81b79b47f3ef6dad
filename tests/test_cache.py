"""The judgment cache: stored at once, no duplicates, survives reopening, bad files reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from constitution.labeling.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.errors import InputError


def _key(i: int, order: str = "ab") -> JudgmentKey:
    return JudgmentKey(judge="j", template_hash="t", principle_hash=f"p{i}", pair_hash="x", order=order)


def test_put_get_and_no_duplicates(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    with JudgmentCache(path) as cache:
        assert cache.put_many([Judgment(key=_key(1), logprobs=(-0.1, -2.5)), Judgment(key=_key(2), logprobs=(-1.0, -0.5))]) == 2
        # the same key again is ignored, never duplicated, and the first value is kept
        assert cache.put_many([Judgment(key=_key(1), logprobs=(-9.0, -9.0))]) == 0
        assert cache.count() == 2
    with JudgmentCache(path) as cache:
        got = cache.get_many([_key(1), _key(2), _key(3), _key(1, "ba")])
        assert set(got) == {_key(1), _key(2)}
        assert got[_key(1)].logprobs == (-0.1, -2.5)


def test_logprobs_round_trip_exactly(tmp_path: Path):
    value = (-0.123456789012345678, -1e-300)
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([Judgment(key=_key(1), logprobs=value, rationale="because")])
        got = cache.get_many([_key(1)])[_key(1)]
    assert got.logprobs == value and got.rationale == "because"


@pytest.mark.reliability
def test_corrupt_cache_file_is_reported(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="not a readable SQLite database"):
        JudgmentCache(path)


def test_reads_many_pairs_at_once_and_keeps_judges_apart(tmp_path: Path):
    keys = [JudgmentKey(judge, f"pair{i}", "p", "t", order) for judge in ("j1", "j2") for i in range(900) for order in ("ab", "ba")]
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        cache.put_many(Judgment(k, (-float(i), -1.0)) for i, k in enumerate(keys) if k.judge == "j1")
        got = cache.get_many(keys)
    assert set(got) == {k for k in keys if k.judge == "j1"}  # 900 pairs: more than one query's worth
    assert all(got[k].logprobs == (-float(i), -1.0) for i, k in enumerate(keys) if k in got)
