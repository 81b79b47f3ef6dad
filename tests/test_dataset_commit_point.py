"""The labels dataset has one commit point, ``state.json``: a writer killed between writing ``dataset_info.json``
and ``state.json`` (a monkeypatched failure of the second write stands in for the kill) leaves a folder that
`load_from_disk` reads as the old version, whole, even when the new version's features differ from the old's."""

from __future__ import annotations

from pathlib import Path

import pytest

from constitution.data import Message, Pair
from constitution.data.records import FeedbackRecord


def _labels(path: Path, n: int, reference_p_a: float | None) -> Path:
    """``n`` records; ``reference_p_a`` None gives that column Arrow type null, a number gives it float64."""
    pairs = [Pair(id=str(i), prompt=[Message(role="user", content=f"q{i}")], response_a="a", response_b="b", p_a=reference_p_a) for i in range(n)]
    records = [FeedbackRecord.of(p, 0.7, {"x": 0.7}, position_consistent=True, judge="j", constitution_hash="h") for p in pairs]
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    return path


def test_a_kill_between_the_info_and_the_state_leaves_the_old_version_whole(tmp_path: Path, monkeypatch):
    import datasets

    from constitution.data import writers

    out = tmp_path / "labels"
    writers.save_jsonl_as_dataset(_labels(tmp_path / "old.jsonl", 3, None), out)
    new = _labels(tmp_path / "new.jsonl", 5, 0.9)
    write = writers.atomic_write_text
    written = []

    def killed_before_state(path, text):
        if Path(path).name == writers.STATE:
            raise OSError("injected: killed after dataset_info.json, before state.json")
        written.append(Path(path).name)
        return write(path, text)

    with monkeypatch.context() as m:
        m.setattr(writers, "atomic_write_text", killed_before_state)
        with pytest.raises(OSError, match="injected"):
            writers.save_jsonl_as_dataset(new, out)
    assert written == [writers.INFO]  # the kill came between the two writes
    old = datasets.load_from_disk(str(out))  # before: "External features info don't match the dataset"
    assert [r["id"] for r in old] == ["0", "1", "2"] and old.features["reference_p_a"] == datasets.Value("null")

    writers.save_jsonl_as_dataset(new, out)
    published = datasets.load_from_disk(str(out))
    assert len(published) == 5 and published.features["reference_p_a"] == datasets.Value("float64")
    assert published["reference_p_a"] == [0.9] * 5
