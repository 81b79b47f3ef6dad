"""Exporting a per-principle model as a plain scalar one is exact; adding a principle fits one head and leaves the
others bit for bit; `train --add-principle` asks the judge only what the cache lacks."""

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


def test_scalar_export_equals_the_weighted_heads(headed, heads_root, tmp_path, capsys):
    """TRL/OpenRLHF-style loading of the exported folder (AutoModel, its tokenizer, a padded batch) gives the
    constitution-weighted reward of the per-principle model within 1e-5."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.loader import load_constitution
    from constitution.reward.metadata import read_metadata
    from constitution.reward.model import RewardModel

    # Bradley–Terry leaves the heads' biases at 0; give them some, so that the export is checked on any linear heads.
    folder = tmp_path / "headed"
    shutil.copytree(headed[0], folder)
    with_bias = AutoModelForSequenceClassification.from_pretrained(folder)
    with torch.no_grad():
        with_bias.classifier.bias.copy_(torch.tensor([0.3, -0.2, 0.7]))
    with_bias.save_pretrained(folder)
    out = tmp_path / "scalar"
    assert main(["export", str(folder), "--scalar", "--constitution", str(heads_root / "concise_off"), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["weights"] == {"polite": 0.5, "cites": 0.5, "concise": 0.0}
    source = RewardModel.load(folder, bf16=False, constitution=load_constitution(heads_root / "concise_off"))
    items = _items(principle_rows(12, 21, TRAIN_WEIGHTS))
    expected = source.score(items)
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_labels == 1
    with torch.no_grad():
        enc = tokenizer(source.texts(items), padding=True, truncation=True, max_length=64, return_tensors="pt")
        theirs = model(**enc).logits[:, 0].tolist()
    assert theirs == pytest.approx(expected, abs=1e-5)
    exported = RewardModel.load(out, bf16=False)
    assert exported.score(items) == pytest.approx(expected, abs=1e-5)
    assert exported.normalize([0.0]) == pytest.approx(source.normalize([0.0]), abs=1e-9)
    meta = read_metadata(out)
    assert meta.heads == [] and meta.exported_from["weights"]["concise"] == 0.0


def test_exporting_a_scalar_model_or_with_an_unknown_principle_exits_2(headed, scalar, tmp_path, capsys):
    assert main(["export", str(scalar[0]), "--scalar", "--out", str(tmp_path / "a")]) == 2
    assert "already a scalar reward model" in capsys.readouterr().err
    unknown = write_constitution(tmp_path / "c", {**TRAIN_WEIGHTS, "harmless": 2.0})
    assert main(["export", str(headed[0]), "--scalar", "--constitution", str(unknown), "--out", str(tmp_path / "b")]) == 2
    assert "no head for principle 'harmless'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_adding_a_principle_fits_one_head_and_leaves_the_others_unchanged(two_heads, heads_root, test_rows, tmp_path):
    from constitution.loader import load_constitution
    from constitution.reward.add_head import add_principle_head
    from constitution.reward.model import RewardModel
    from constitution.reward.principle_pairs import load_principle_pairs

    items = _items(test_rows)
    before = np.asarray(RewardModel.load(two_heads[0], bf16=False).score_heads(items))
    out = tmp_path / "three"
    constitution = load_constitution(heads_root / "train_c")
    pairs = load_principle_pairs(heads_root / "train.jsonl")
    result = add_principle_head(two_heads[0], out, constitution.principle("cites"), pairs)
    assert result.heads == ["polite", "concise", "cites"]
    assert result.train_pairs + result.eval_pairs == sum("cites" in p.per_principle for p in pairs) < len(pairs)
    model = RewardModel.load(out, bf16=False, constitution=constitution)
    after = np.asarray(model.score_heads(items))
    assert np.array_equal(after[:, :2], before)  # bit for bit
    gap = after[: len(test_rows), 2] - after[len(test_rows) :, 2]
    labels = np.asarray([r["per_principle"]["cites"] for r in test_rows])
    decided = labels != 0.5
    assert ((gap[decided] > 0) == (labels[decided] > 0.5)).mean() >= 0.9
    info = model.metadata.head_info["cites"]
    assert info.fitted == "frozen_features" and info.weight == 1.0 and info.train_pairs == result.train_pairs
    assert model.weights.tolist() == [0.2, 0.6, 0.2]  # polite, concise, cites: the 1:1:3 constitution / 5
    with pytest.raises(Exception, match="already has a head for principle 'cites'"):
        add_principle_head(out, out, constitution.principle("cites"), pairs)


@pytest.mark.slow
def test_add_principle_asks_the_judge_only_what_is_missing(two_heads, heads_root, judge_model_path, tmp_path, capsys):
    """A real judge (SmolLM2 on transformers) labels the pairs that lack `cites` — and only those, and only once:
    a second run finds every judgment in the cache."""
    rows = principle_rows(30, 0, TRAIN_WEIGHTS, judged=3)
    for row in rows[:3]:
        del row["per_principle"]["cites"]
    data = write_principle_jsonl(rows, tmp_path / "labels.jsonl")
    argv = ["--constitution", str(heads_root / "train_c"), "--add-principle", "cites", "--backend", "hf", "--dtype", "float32"]
    for run, (asked, cached) in enumerate([(6, 0), (0, 6)]):
        out = tmp_path / f"model{run}"
        assert main(["train", str(data), "--out", str(out), "--from", str(two_heads[0]), *argv]) == 0
        captured = capsys.readouterr()
        assert f"principle cites: {asked} judgments asked, {cached} cached" in captured.err
        result = json.loads(captured.out.strip().splitlines()[-1])
        assert result["heads"] == ["polite", "concise", "cites"] and result["train_pairs"] + result["eval_pairs"] == 30
    assert (tmp_path / "judgments.sqlite").exists()  # the default cache: beside a labels file


def test_add_principle_needs_a_principle_of_the_constitution(two_heads, heads_root, tmp_path, capsys):
    data = write_principle_jsonl(principle_rows(4, 0, TRAIN_WEIGHTS), tmp_path / "labels.jsonl")
    argv = ["train", str(data), "--out", str(tmp_path / "m"), "--from", str(two_heads[0]), "--add-principle", "harmless",
            "--constitution", str(heads_root / "train_c")]  # fmt: skip
    assert main(argv) == 2
    assert "no principle 'harmless'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
