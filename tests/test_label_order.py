"""The same job gives the same dataset: labels are written in input order whatever order the judge answers in (and
after a resume), and the train/test split keeps a prompt's pairs together and does not depend on file order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from constitution.data.pairs import load_pairs, split_pairs
from constitution.errors import InputError
from constitution.labeling import JudgmentCache, LabelConfig, label_dataset
from constitution.labeling.in_order import InOrder
from constitution.labeling.jury.config import JudgeSpec
from constitution.loader import load_constitution
from tests.helpers.scripted_judge import ScriptedJudge, word_pair


class ShufflingJudge(ScriptedJudge):
    """A fake that injects what a real engine does with a window in flight: each batch's answers come back in a
    shuffled order."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    def score_options(self, requests):
        batch: list = []
        for result in super().score_options(requests):
            batch.append(result)
            if len(batch) == self.batch:
                self.rng.shuffle(batch)
                yield from batch
                batch = []
        self.rng.shuffle(batch)
        yield from batch


def _generated(prompts: int, per_prompt: int) -> list:
    """Pairs as ``generate`` writes them: several per prompt."""
    pairs = []
    for g in range(prompts):
        for k in range(per_prompt):
            pair = word_pair(len(pairs), f"kind {g}.{k}", f"short {g}.{k}")
            pairs.append(pair.model_copy(update={"prompt": [pair.prompt[0].model_copy(update={"content": f"question {g}"})]}))
    return pairs


def test_a_prompts_pairs_never_straddle_the_split_and_file_order_does_not_matter():
    pairs = _generated(prompts=40, per_prompt=3)
    train, test = split_pairs(pairs, 96, seed=0)
    assert len(train) + len(test) == 120 and 24 <= len(test) <= 26
    prompts = lambda side: {p.prompt[0].content for p in side}  # noqa: E731
    assert not prompts(train) & prompts(test)
    shuffled = random.Random(1).sample(pairs, len(pairs))
    again = split_pairs(shuffled, 96, seed=0)
    assert {p.id for p in again[1]} == {p.id for p in test}
    assert [p.id for p in train] == sorted((p.id for p in train), key=int)  # each side keeps the input order
    assert {p.id for p in split_pairs(pairs, 96, seed=1)[1]} != {p.id for p in test}
    one_prompt = _generated(prompts=1, per_prompt=5)
    assert split_pairs(one_prompt, 4) == (one_prompt, [])  # never every prompt to the test side


def test_the_reorder_buffer_releases_in_slot_order_and_spills_past_its_bound():
    out: list[tuple[str, str]] = []
    buffer = InOrder(lambda name, line: out.append((name, line)), max_held=3)
    slots = list(range(50))
    random.Random(0).shuffle(slots)
    slots.remove(0)
    buffer.add(0, "skipped", "bad row before pair 0")
    for slot in slots:  # slot 0 finishes last: everything else waits, mostly on disk
        if slot % 7 == 0:
            buffer.add(slot, "truncated", f"t{slot}")
        buffer.add(slot, "labels", f"r{slot}")
        buffer.done(slot)
    assert out == [] and buffer.spilled == 49 - 3
    buffer.add(0, "labels", "r0")
    buffer.done(0)
    buffer.add(50, "skipped", "bad row after the last pair")
    buffer.drain()
    buffer.close()
    expected = [("skipped", "bad row before pair 0")]
    for slot in range(50):
        expected += [("truncated", f"t{slot}")] * (slot % 7 == 0 and slot > 0) + [("labels", f"r{slot}")]
    assert out == [*expected, ("skipped", "bad row after the last pair")] and buffer.spilled == 0


@pytest.fixture()
def principles(tmp_path: Path) -> Path:
    folder = tmp_path / "principles"
    folder.mkdir()
    (folder / "p.yaml").write_text(
        "kind: principle_set\nid: s\nprinciples:\n"
        "  - id: kind\n    text: Which response is more kind?\n  - id: short\n    text: Which response is more short?\n"
    )
    return folder


SPEC = JudgeSpec.model_validate({"backend": "hf", "model": "scripted"})  # the judge is handed over loaded (``llm``)


def _label(principles: Path, source: Path, out: Path, cache: Path, judge: ScriptedJudge) -> None:
    with JudgmentCache(cache) as judgments:
        label_dataset(str(source), out, load_constitution(principles), [SPEC], judgments, LabelConfig(chunk_pairs=8), llm=judge, show_progress=False)


def test_the_entry_point_refuses_what_it_cannot_do(principles: Path, tmp_path: Path):
    constitution, cache = load_constitution(principles), JudgmentCache(tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="no judge"):
        label_dataset("x.jsonl", tmp_path / "out", constitution, [], cache)
    with pytest.raises(InputError, match="quorum is for a jury"):
        label_dataset("x.jsonl", tmp_path / "out", constitution, [SPEC], cache, quorum=1)
    with pytest.raises(ValueError, match="a loaded judge is for a single judge"):
        label_dataset("x.jsonl", tmp_path / "out", constitution, [SPEC, SPEC], cache, llm=ScriptedJudge())


def test_the_same_input_gives_the_same_labels_and_split_when_resumed(principles: Path, tmp_path: Path):
    source = tmp_path / "pairs.jsonl"
    pairs = _generated(prompts=10, per_prompt=3)
    source.write_text("".join(json.dumps({"id": p.id, "prompt": p.prompt[0].content, "response_a": p.response_a, "response_b": p.response_b}) + "\n" for p in pairs))
    _label(principles, source, tmp_path / "one", tmp_path / "one.sqlite", ShufflingJudge(seed=0))
    dying = ShufflingJudge(seed=1)
    dying.fail_after = 70  # killed part-way: what was answered is in the cache
    with pytest.raises(RuntimeError, match="judge died"):
        _label(principles, source, tmp_path / "two", tmp_path / "two.sqlite", dying)
    partial = (tmp_path / "two" / "labels.jsonl.partial").read_text().splitlines()
    assert [json.loads(line)["id"] for line in partial] == [p.id for p in pairs[: len(partial)]]
    _label(principles, source, tmp_path / "two", tmp_path / "two.sqlite", ShufflingJudge(seed=2))  # resumed

    one, two = ((tmp_path / run / "labels.jsonl").read_text() for run in ("one", "two"))
    assert one == two
    assert [json.loads(line)["id"] for line in one.splitlines()] == [p.id for p in pairs]
    splits = [split_pairs(loaded, 24) for loaded in (load_pairs(tmp_path / "one")[0], load_pairs(tmp_path / "two")[0])]
    assert [[p.id for p in side] for side in splits[0]] == [[p.id for p in side] for side in splits[1]]
