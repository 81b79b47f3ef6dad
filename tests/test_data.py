"""Pair formats: {prompt, response_a, response_b}, TRL {prompt, chosen, rejected}, HH-RLHF dialogues; errors name rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from constitution.data import Message, as_messages, load_pairs, parse_dialogue
from constitution.errors import InputError

from tests.helpers.paths import HH_TEST as HH


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ab_format_with_soft_label(tmp_path: Path):
    pairs, report = load_pairs(_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi", "response_a": "a", "response_b": "b", "p_a": 0.7}]))
    assert report.format == "ab" and pairs[0].p_a == 0.7
    assert pairs[0].prompt[0].role == "user" and pairs[0].prompt[0].content == "hi"


def test_trl_conversational_format(tmp_path: Path):
    row = {
        "prompt": [{"role": "user", "content": "hi"}],
        "chosen": [{"role": "assistant", "content": "hello"}],
        "rejected": [{"role": "assistant", "content": "go away"}],
    }
    pairs, report = load_pairs(_jsonl(tmp_path / "p.jsonl", [row]))
    assert report.format == "trl"
    assert (pairs[0].response_a, pairs[0].response_b, pairs[0].p_a) == ("hello", "go away", 1.0)


def test_hh_dialogues_split_at_last_turn_and_mismatches_are_dropped(tmp_path: Path):
    good = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: bye"}
    bad = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: yo\n\nAssistant: bye"}
    path = tmp_path / "hh.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    pairs, report = load_pairs(path)
    assert report.format == "hh" and report.kept == 1 and report.dropped_mismatched == 1
    assert report.dropped_where == [f"{path}:2"]
    assert pairs[0].response_a == "hello" and pairs[0].response_b == "bye"


def test_csv_and_parquet(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "p.csv").write_text("prompt,response_a,response_b\nhi,a,b\n")
    assert load_pairs(tmp_path / "p.csv")[0][0].response_b == "b"
    pq.write_table(pa.Table.from_pylist([{"prompt": "hi", "chosen": "c", "rejected": "r"}]), tmp_path / "p.parquet")
    assert load_pairs(tmp_path / "p.parquet")[0][0].response_a == "c"


def test_datasets_folder(tmp_path: Path):
    import datasets

    datasets.Dataset.from_list([{"prompt": "hi", "chosen": "c", "rejected": "r"}]).save_to_disk(str(tmp_path / "ds"))
    assert load_pairs(tmp_path / "ds")[0][0].response_b == "r"


def test_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        load_pairs(tmp_path / "absent.jsonl")


def test_bom_and_empty_label_cells_are_accepted(tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffprompt,response_a,response_b,p_a\nhi,a,b,\nyo,c,d,0.25\n".encode())
    pairs, report = load_pairs(path)
    assert report.format == "ab" and [p.p_a for p in pairs] == [None, 0.25]


def test_as_messages_accepts_strings_messages_and_dicts():
    hi = Message(role="user", content="hi")
    assert as_messages("hi") == [hi]
    assert as_messages([hi, {"role": "assistant", "content": "yo", "extra": 1}]) == [hi, Message(role="assistant", content="yo")]
    assert as_messages(({"role": "user", "content": "hi"},)) == [hi]


@pytest.mark.parametrize("value, message", [(5, "expected a string or a list"), ([{"role": "bot", "content": "x"}], "chat message 0: role")])
def test_as_messages_errors_name_where_and_column(value, message: str):
    with pytest.raises(InputError, match=rf"^f.jsonl:3: column 'chosen': {message}"):
        as_messages(value, "f.jsonl:3", "chosen")


def test_parse_dialogue_rejects_plain_text():
    with pytest.raises(ValueError):
        parse_dialogue("just text")


@pytest.mark.skipif(not HH.exists(), reason="shared HH-RLHF data not present (../shared/data)")
def test_real_hh_test_split_loads():
    pairs, report = load_pairs(HH)
    assert report.rows == 2312 and report.kept + report.dropped_mismatched == 2312
    assert report.dropped_mismatched < 20
    assert all(p.prompt and p.prompt[-1].role == "user" for p in pairs)


def _labels(path: Path, n: int) -> Path:
    from constitution.data import FeedbackRecord, Pair

    pairs = [Pair(id=str(i), prompt=[Message(role="user", content=f"q{i}")], response_a="a", response_b="b") for i in range(n)]
    records = [FeedbackRecord.of(p, 0.7, {"x": 0.7}, position_consistent=True, judge="j", constitution_hash="h") for p in pairs]
    path.write_text("".join(r.model_dump_json() + "\n" for r in records))
    return path


def test_the_labels_dataset_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch):
    """Failures injected while the new dataset is written and at the moment it is published: the folder still
    loads, with the old rows; the next success leaves only the new dataset's files."""
    import datasets

    from constitution.data import writers

    out = tmp_path / "labels"
    writers.save_jsonl_as_dataset(_labels(tmp_path / "old.jsonl", 3), out)
    new = _labels(tmp_path / "new.jsonl", 5)
    write_shard = datasets.Dataset._save_to_disk_single

    def killed_mid_write(**kwargs):
        yield from write_shard(**kwargs)
        Path(kwargs["fpath"]).write_bytes(Path(kwargs["fpath"]).read_bytes()[:64])  # the shard cut off
        raise OSError("injected: killed while writing the Arrow file")

    with monkeypatch.context() as m:
        m.setattr(datasets.Dataset, "_save_to_disk_single", staticmethod(killed_mid_write))
        with pytest.raises(OSError, match="injected"):
            writers.save_jsonl_as_dataset(new, out)
    assert len(datasets.load_from_disk(str(out))) == 3

    def killed_at_commit(path, text):
        if Path(path).name == "state.json":
            raise OSError("injected: killed before state.json was replaced")
        return atomic_write_text(path, text)

    atomic_write_text = writers.atomic_write_text
    with monkeypatch.context() as m:
        m.setattr(writers, "atomic_write_text", killed_at_commit)
        with pytest.raises(OSError, match="injected"):
            writers.save_jsonl_as_dataset(new, out)
    assert len(datasets.load_from_disk(str(out))) == 3 and len(list(out.glob("data-*.arrow"))) == 2

    writers.save_jsonl_as_dataset(new, out)
    assert [r["id"] for r in datasets.load_from_disk(str(out))] == ["0", "1", "2", "3", "4"]
    assert len(list(out.glob("data-*.arrow"))) == 1 and not list(tmp_path.glob(".labels.build-*"))
