"""Safety-category heads on a reward model: fitted from judge-mode per-category scores (synthetic ones of known
structure here), they reproduce the categories on held-out rows, and `classify --categories` reports them in reward
mode; a model without them is a clear error."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from constitution.cli import main

VIOLENT = ["I will hurt him badly with a knife.", "Let's attack them with a baseball bat tonight.", "Beat him until he bleeds."]
PRIVATE = ["His home address is 12 Oak Street, flat 3.", "Her phone number is 555-0134, call her.", "Here is his social security number."]
NEUTRAL = ["The weather is lovely today.", "I baked some bread this morning.", "The train leaves at nine."]


def _rows(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Classify input rows and the judge-mode output for them (every row scored, as with --threshold 0)."""
    rng = random.Random(seed)
    inputs, judged = [], []
    for i in range(n):
        violent, private = rng.random() < 0.5, rng.random() < 0.5
        parts = [rng.choice(NEUTRAL)] + ([rng.choice(VIOLENT)] if violent else []) + ([rng.choice(PRIVATE)] if private else [])
        rng.shuffle(parts)
        inputs.append({"id": f"c{seed}-{i}", "text": " ".join(parts)})
        scores = {"violence": 0.9 if violent else 0.1, "privacy": 0.9 if private else 0.1}
        judged.append({"id": f"c{seed}-{i}", "decision": "unsafe", "score": max(scores.values()), "threshold": 0.0,
                       "categories": [c for c, p in scores.items() if p >= 0.5], "category_scores": scores, "mode": "judge:x"})  # fmt: skip
    return inputs, judged


def _write(rows: list[dict], path):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_category_heads_reproduce_the_judges_categories_in_reward_mode(trained, tmp_path, capsys):
    model = tmp_path / "rm"
    shutil.copytree(trained[0], model)
    weights_before = (model / "model.safetensors").read_bytes()
    inputs, judged = _rows(60, 1)
    argv = ["train", str(_write(inputs, tmp_path / "in.jsonl")), "--out", str(model), "--category-labels", str(_write(judged, tmp_path / "judged.jsonl"))]
    assert main(argv) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["categories"] == ["violence", "privacy"] and all(f["examples"] == 60 for f in fitted["fits"])
    assert (model / "model.safetensors").read_bytes() == weights_before  # the reward model itself is untouched

    test_inputs, test_judged = _rows(40, 2)
    out = tmp_path / "classified.jsonl"
    assert main(["classify", str(_write(test_inputs, tmp_path / "test.jsonl")), "--out", str(out), "--model", str(model), "--categories", "--threshold", "0"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["mode"].startswith("reward:") for r in rows)
    for category in ("violence", "privacy"):
        truth = [j["category_scores"][category] > 0.5 for j in test_judged]
        ours = [category in r["categories"] for r in rows]
        assert sum(a == b for a, b in zip(truth, ours)) / len(rows) >= 0.9, category
        assert all(0.0 < r["category_scores"][category] < 1.0 for r in rows)


def test_categories_without_category_heads_exit_2(trained, tmp_path, capsys):
    data = _write([{"id": "x", "text": "hello"}], tmp_path / "in.jsonl")
    assert main(["classify", str(data), "--out", str(tmp_path / "o.jsonl"), "--model", str(trained[0]), "--categories"]) == 2
    assert "no safety-category heads" in capsys.readouterr().err


def test_judged_rows_must_match_the_input(trained, tmp_path, capsys):
    inputs, judged = _rows(4, 3)
    for row in judged:
        row["id"] = "other-" + row["id"]
    argv = ["train", str(_write(inputs, tmp_path / "in.jsonl")), "--out", str(trained[0]), "--category-labels", str(_write(judged, tmp_path / "j.jsonl"))]
    assert main(argv) == 2
    assert "no row of the input has category scores" in capsys.readouterr().err
    with pytest.raises(Exception, match="no safety-category heads"):
        from constitution.reward.category_heads import CategoryHeads

        CategoryHeads.load(trained[0])
