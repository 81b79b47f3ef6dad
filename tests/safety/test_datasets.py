"""Safety inputs: generic rows, and the shared evaluation sets' exact formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.paths import SHARED_DATA as DATA
from constitution.errors import InputError
from constitution.safety.datasets import load_examples, load_moderation, load_xstest_prompts


def test_generic_rows(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    rows = [{"text": "hello", "label": "safe"}, {"prompt": "hi", "response": "go away", "label": 1}, {"prompt": "how?"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = load_examples(path)
    assert [e.label for e in ex] == [0, 1, None]
    assert ex[1].text == "go away" and ex[1].conversation[0].content == "hi"
    assert ex[2].text == "how?" and ex[2].conversation == []


def test_bad_label_names_the_line(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b", "label": "maybe"}\n')
    with pytest.raises(InputError, match=rf"{path}:2: label must be"):
        load_examples(path)


@pytest.mark.skipif(not (DATA / "openai-moderation").exists(), reason=f"shared data not present in {DATA} (set CONSTITUTION_SHARED_DATA)")
def test_moderation_unknown_labels_are_not_safe():
    ex = load_moderation(DATA / "openai-moderation" / "samples-1680.jsonl.gz")
    assert len(ex) == 1680
    known = [e for e in ex if e.label is not None]
    assert 0 < len(known) < 1680
    assert all(e.label == 1 or len(e.categories) == 8 for e in known)


@pytest.mark.skipif(not (DATA / "xstest").exists(), reason=f"shared data not present in {DATA} (set CONSTITUTION_SHARED_DATA)")
def test_xstest_prompts():
    ex = load_xstest_prompts(DATA / "xstest" / "xstest_prompts.csv")
    assert len(ex) == 450 and sum(e.label == 0 for e in ex) == 250
