"""The README documents every field of the summary `constitution score-steps` prints (issue 32 review item 7: its
`rows_bad` was printed but documented nowhere a user reads)."""

from __future__ import annotations

import re
from pathlib import Path

from constitution.reward.process.score import ScoreSummary

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_names_every_field_of_the_score_steps_summary():
    sentences = re.split(r"(?<=\.)\s", README.read_text())
    sentence = next((s for s in sentences if "summary `score-steps` prints" in s), "")
    assert sentence, "the README has no sentence on the summary `score-steps` prints"
    missing = [f for f in [*ScoreSummary.model_fields, "step_accuracy"] if f"`{f}`" not in sentence]
    assert not missing, f"summary fields the README does not name: {missing}"
