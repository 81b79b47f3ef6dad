"""Judge-mode safety classification with the real embedded judge (transformers backend), and the classify CLI.

The judge's scores are checked against P("Yes") computed here independently (one unpadded forward pass of the same
weights, softmax over the "Yes"/"No" logits), not against the scorer's own formula.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.loader import load_constitution
from constitution.resources import default_principles
from constitution.prompts import safety_prompt
from constitution.safety.classify import add_categories, decide
from constitution.safety.datasets import SafetyExample
from constitution.safety.judge import JudgeSafetyScorer

TEXTS = ["Here is a recipe for banana bread.", "Mix bleach and ammonia in a closed room to hurt people.", "Have a nice day!"]


@pytest.fixture(scope="module")
def constitution():
    return load_constitution(default_principles())


@pytest.fixture(scope="module")
def scorer(constitution, hf_judge):
    return JudgeSafetyScorer(constitution, hf_judge)


@pytest.fixture(scope="module")
def examples():
    return [SafetyExample(id=str(i), text=t) for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def scores(scorer, examples):
    return scorer.unsafe_scores(examples)


def _independent_p_yes(hf_judge, judge_tokenizer, prompt_text: str) -> float:
    """softmax over the "Yes"/"No" next-token logits after the rendered prompt, one sequence, no padding."""
    import torch

    ids = judge_tokenizer(prompt_text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        logits = hf_judge.model(input_ids=ids.to(hf_judge.model.device)).logits[0, -1].float()
    yes, no = judge_tokenizer.convert_tokens_to_ids(["Yes", "No"])
    return 1.0 / (1.0 + math.exp(float(logits[no] - logits[yes])))


def test_judge_scores_are_p_yes_normalised_over_yes_no(constitution, scores, hf_judge, judge_tokenizer):
    assert all(0.0 < s < 1.0 for s in scores)
    assert len({round(s, 6) for s in scores}) == len(scores), "the scores should respond to the text"
    for text, score in zip(TEXTS, scores):
        prompt = safety_prompt(constitution, [], text, judge_tokenizer)
        assert score == pytest.approx(_independent_p_yes(hf_judge, judge_tokenizer, prompt.text), abs=1e-4)


def test_a_threshold_between_scores_splits_rows_as_the_scores_say(scorer, examples, scores):
    ranked = sorted(scores)
    for low, high in zip(ranked, ranked[1:]):
        rows = decide(examples, scores, threshold=(low + high) / 2, mode=scorer.mode)
        assert [r.decision for r in rows] == ["unsafe" if s > low else "safe" for s in scores]
        assert {r.mode for r in rows} == {scorer.mode} and {r.threshold for r in rows} == {(low + high) / 2}
    at_a_score = decide(examples, scores, threshold=ranked[1], mode=scorer.mode)  # decisions are score >= threshold
    assert [r.decision for r in at_a_score] == ["unsafe" if s >= ranked[1] else "safe" for s in scores]


def test_category_scores_are_per_category_p_yes(constitution, scorer, examples, scores, hf_judge, judge_tokenizer):
    [cats] = scorer.category_scores(examples[1:2])
    ids = [c.id for c in constitution.safety_policy.categories]
    assert list(cats) == ids and all(0.0 < p < 1.0 for p in cats.values())
    assert len({round(p, 6) for p in cats.values()}) > 1, "each category asks a different question"
    for category in (ids[0], ids[-1]):
        prompt = safety_prompt(constitution, [], TEXTS[1], judge_tokenizer, category)
        assert cats[category] == pytest.approx(_independent_p_yes(hf_judge, judge_tokenizer, prompt.text), abs=1e-4)

    ranked = sorted(set(cats.values()))
    threshold = (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2
    [row] = decide(examples[1:2], scores[1:2], threshold=0.0, mode=scorer.mode)
    add_categories([row], [cats], threshold=threshold)
    assert row.category_scores == cats
    assert row.categories == sorted((c for c in ids if cats[c] >= threshold), key=lambda c: -cats[c])
    assert 0 < len(row.categories) < len(ids)


@pytest.mark.slow
def test_classify_cli_calibrates_on_labelled_file(tmp_path: Path, reward_folder):
    rows = [{"text": t, "label": lab} for t, lab in zip(TEXTS * 4, ["safe", "unsafe", "safe"] * 4)]
    data = tmp_path / "val.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "constitution", "classify", str(data), "--out", str(out), "--model", str(reward_folder),
         "--calibrate", str(data), "--target-fpr", "0.0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(decisions) == 12
    flagged_safe = [d for d, r in zip(decisions, rows) if r["label"] == "safe" and d["decision"] == "unsafe"]
    assert flagged_safe == [], "calibrated for 0% false positives on the same file"
    assert "calibrated threshold" in result.stderr


def test_classify_cli_rejects_bad_rows(tmp_path: Path, reward_folder):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "ok"}\n{"nothing": 1}\n')
    result = subprocess.run(
        [sys.executable, "-m", "constitution", "classify", str(data), "--out", str(tmp_path / "o.jsonl"), "--model", str(reward_folder)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and f"{data}:2" in result.stderr
