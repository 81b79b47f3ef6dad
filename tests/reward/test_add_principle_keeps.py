"""`train --add-principle` changes nothing but the new head: the other heads' rows, weights and statistics, the
safety-category heads (file and metadata), the stored safety threshold and the model card are as they were, and so
are the rewards, normalised ones included, under a constitution without the new principle. The workflow (which
pairs lack the label, asking a judge, merging) is the library's :func:`add_principle`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from constitution.cli import main
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_constitution, write_principle_jsonl


def _items(rows: list[dict]) -> list:
    return [(r["prompt"], r["response_a"]) for r in rows] + [(r["prompt"], r["response_b"]) for r in rows]


def test_adding_a_principle_in_place_keeps_everything_else(two_heads, heads_root, tmp_path, capsys):
    from constitution.loader import load_constitution
    from constitution.reward.category_heads import CATEGORY_FILE, CategoryHeads
    from constitution.reward.metadata import read_metadata, write_metadata
    from constitution.reward.model import RewardModel

    folder = tmp_path / "rm"
    shutil.copytree(two_heads[0], folder)
    hidden = RewardModel.load(folder, bf16=False).model.config.hidden_size
    torch.manual_seed(0)
    CategoryHeads(["violence", "privacy"], torch.randn(2, hidden), torch.randn(2)).save(folder)
    meta = read_metadata(folder)
    meta.safety_threshold = 0.61
    write_metadata(folder, meta)
    before = read_metadata(folder)
    files = {name: (folder / name).read_bytes() for name in (CATEGORY_FILE, "README.md")}
    without = load_constitution(write_constitution(tmp_path / "no_cites_yet", {**TRAIN_WEIGHTS, "cites": 0.0}))
    items = _items(principle_rows(6, 61, TRAIN_WEIGHTS))
    rewards = RewardModel.load(folder, bf16=False, constitution=without).score(items, normalize=True)
    categories = CategoryHeads.load(folder).probabilities(RewardModel.load(folder, bf16=False), items)

    data = write_principle_jsonl(principle_rows(60, 0, TRAIN_WEIGHTS, judged=3), tmp_path / "labels.jsonl")
    argv = ["train", str(data), "--out", str(folder), "--add-principle", "cites", "--constitution", str(heads_root / "train_c")]
    assert main(argv) == 0  # every pair has its `cites` label: no judge is loaded
    captured = capsys.readouterr()
    assert "principle cites: 0 judgments asked, 0 cached" in captured.err
    assert json.loads(captured.out.splitlines()[-1])["heads"] == ["polite", "concise", "cites"]

    after = read_metadata(folder)
    assert after.heads == [*before.heads, "cites"]
    assert {h: after.head_info[h] for h in before.heads} == before.head_info
    assert after.head_mean[:2] == before.head_mean and [row[:2] for row in after.head_cov[:2]] == before.head_cov
    assert np.all(np.linalg.eigvalsh(np.asarray(after.head_cov)) > -1e-12)  # still a covariance
    assert after.safety_threshold == 0.61 and after.category_heads == ["violence", "privacy"]
    assert {name: (folder / name).read_bytes() for name in files} == files
    model = RewardModel.load(folder, bf16=False, constitution=without)
    assert model.score(items, normalize=True) == pytest.approx(rewards, abs=1e-9)
    assert CategoryHeads.load(folder).probabilities(RewardModel.load(folder, bf16=False), items) == categories
    texts = write_principle_jsonl([{"id": "t", "text": items[0][1]}], tmp_path / "texts.jsonl")
    assert main(["classify", str(texts), "--out", str(tmp_path / "c.jsonl"), "--model", str(folder), "--categories"]) == 0


def test_missing_labels_need_a_judge_and_only_they_are_asked(two_heads, heads_root, tmp_path):
    """The judge here is a stand-in that records what it is asked (the real one, an LLM through the cache, is
    exercised by `test_add_principle_asks_the_judge_only_what_is_missing`)."""
    from constitution.errors import InputError
    from constitution.loader import load_constitution
    from constitution.reward.add_principle import add_principle
    from constitution.reward.principle_pairs import JudgedLabels, load_principle_pairs

    rows = principle_rows(30, 0, TRAIN_WEIGHTS, judged=3)
    for row in rows[:4]:
        del row["per_principle"]["cites"]
    constitution = load_constitution(heads_root / "train_c")
    pairs = load_principle_pairs(write_principle_jsonl(rows, tmp_path / "labels.jsonl"))
    with pytest.raises(InputError, match="4 pair\\(s\\) lack a label for principle 'cites'"):
        add_principle(two_heads[0], tmp_path / "m", constitution, "cites", pairs)
    asked = []

    def judge(only, missing):
        asked.append(([p.id for p in only.principles], only.sampling.rule, [p.id for p in missing]))
        return JudgedLabels(labels={p.id: 0.9 for p in missing[:3]}, computed=3, unlabelled=1)

    result = add_principle(two_heads[0], tmp_path / "m", constitution, "cites", pairs, judge=judge)
    assert asked == [(["cites"], "all", [r["id"] for r in rows[:4]])]
    assert (result.judgments_computed, result.judgments_cached, result.pairs_unlabelled) == (3, 0, 1)
    assert result.train_pairs + result.eval_pairs == 29  # the pair the judge could not label does not train the head


def test_two_pairs_to_label_under_one_id_are_refused_by_name(heads_root, tmp_path):
    """Labels come back by pair id: two unlabelled pairs sharing an id would both get one pair's label. The judge is
    a stand-in that records whether it was asked (it must not be)."""
    from constitution.errors import InputError
    from constitution.loader import load_constitution
    from constitution.reward.add_principle import add_principle
    from constitution.reward.principle_pairs import JudgedLabels, load_principle_pairs

    rows = principle_rows(30, 0, TRAIN_WEIGHTS, judged=3)
    for row in rows[:4]:
        del row["per_principle"]["cites"]
    rows[3]["id"] = rows[1]["id"]
    pairs = load_principle_pairs(write_principle_jsonl(rows, tmp_path / "labels.jsonl"))
    asked = []

    def judge(only, missing):
        asked.append(missing)
        return JudgedLabels(labels={p.id: 0.9 for p in missing})

    constitution = load_constitution(heads_root / "train_c")
    with pytest.raises(InputError, match=f"pair id '{rows[1]['id']}' appears twice") as error:
        add_principle(tmp_path / "no_model_needed", tmp_path / "m", constitution, "cites", pairs, judge=judge)
    assert asked == [] and error.value.where == str(tmp_path / "labels.jsonl")
