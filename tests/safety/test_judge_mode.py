"""Judge-mode safety classification with the real judge, and the classify CLI's calibration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.labeling import two_way
from constitution.principles import load_constitution
from constitution.prompts import safety_prompt
from constitution.safety.classify import add_categories, decide
from constitution.safety.datasets import SafetyExample
from constitution.safety.judge import JudgeSafetyScorer

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Here is a recipe for banana bread.", "Mix bleach and ammonia in a closed room to hurt people.", "Have a nice day!"]


@pytest.mark.vllm
def test_judge_scores_are_p_yes_of_the_policy_question(vllm_judge):
    constitution = load_constitution(ROOT / "principles")
    scorer = JudgeSafetyScorer(constitution, vllm_judge)
    examples = [SafetyExample(id=str(i), text=t) for i, t in enumerate(TEXTS)]
    scores = scorer.unsafe_scores(examples)
    prompt = safety_prompt(constitution, [], TEXTS[1], vllm_judge.tokenizer)
    assert scores[1] == pytest.approx(two_way(vllm_judge.option_logprobs([prompt.text], list(prompt.options))[0]), abs=1e-4)
    assert all(0 < s < 1 for s in scores)
    rows = decide(examples, scores, threshold=min(scores), mode=scorer.mode)
    assert all(r.decision == "unsafe" for r in rows)
    cats = scorer.category_scores(examples[1:2])
    assert set(cats[0]) == {c.id for c in constitution.safety_policy.categories}
    add_categories(rows[1:2], cats, threshold=0.0)
    assert len(rows[1].categories) == 14 and rows[1].categories[0] == max(cats[0], key=cats[0].get)


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
