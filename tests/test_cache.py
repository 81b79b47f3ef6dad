"""The judgment cache: stored at once, no duplicates, survives reopening, bad files reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from constitution.errors import InputError
from constitution.file_digests import FileDigests
from constitution.labeling.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.revise.cache import Generation, GenerationCache, GenerationKey


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


def _damage(path: Path) -> None:
    """Overwrite data pages in the middle of a database file (its header and schema page stay intact)."""
    with open(path, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(b"\xde\xad" * 4096 * 3)


def _judgments(path: Path) -> tuple[JudgmentCache, list]:
    keys = [JudgmentKey("j", f"pair{i:05d}", "p", "t", "ab") for i in range(2000)]
    with JudgmentCache(path) as cache:
        cache.put_many(Judgment(k, (-0.1, -0.2), "r" * 100) for k in keys)
    cache = JudgmentCache(path)
    return cache, [lambda: cache.get_many(keys), cache.count, lambda: cache.put_many(Judgment(k, (-1.0, -1.0)) for k in keys)]


def _generations(path: Path) -> tuple[GenerationCache, list]:
    keys = [GenerationKey("m", f"request{i:05d}", 1, "s") for i in range(2000)]
    with GenerationCache(path) as cache:
        cache.put_many(Generation(k, "critique", "t" * 100) for k in keys)
    cache = GenerationCache(path)
    return cache, [lambda: cache.get_many(keys), cache.count]


def _digests(path: Path) -> tuple[FileDigests, list]:
    files = [path.parent / f"f{i}" for i in range(1500)]
    with FileDigests(path) as cache:
        for f in files:
            f.write_text(str(f))
            cache.sha256(f)
    cache = FileDigests(path)
    return cache, [lambda: [cache.sha256(f) for f in files]]


@pytest.mark.reliability
@pytest.mark.parametrize("make", [_judgments, _generations, _digests], ids=["judgments", "generations", "file-digests"])
def test_a_cache_damaged_after_opening_is_reported_with_its_file(tmp_path: Path, make):
    path = tmp_path / "cache.sqlite"
    cache, uses = make(path)  # opened (and its schema read) before the damage
    _damage(path)
    for use in uses:
        with pytest.raises(InputError, match=f"{path}: the .* is not a readable SQLite database"):
            use()
    cache.close()


def test_reads_many_pairs_at_once_and_keeps_judges_apart(tmp_path: Path):
    keys = [JudgmentKey(judge, f"pair{i}", "p", "t", order) for judge in ("j1", "j2") for i in range(900) for order in ("ab", "ba")]
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        cache.put_many(Judgment(k, (-float(i), -1.0)) for i, k in enumerate(keys) if k.judge == "j1")
        got = cache.get_many(keys)
    assert set(got) == {k for k in keys if k.judge == "j1"}  # 900 pairs: more than one query's worth
    assert all(got[k].logprobs == (-float(i), -1.0) for i, k in enumerate(keys) if k in got)
