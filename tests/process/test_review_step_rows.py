"""Review of issue 34 item 5: ``soft_labels`` is read in place of ``labels`` only where it holds values."""

from __future__ import annotations

import json
from pathlib import Path

from constitution.data.steps import load_steps


def test_a_null_soft_labels_column_falls_back_to_the_boolean_labels(tmp_path: Path):
    """A file mixing label-steps rows with TRL rows (``soft_labels: null``, as a merged table writes them): the TRL
    rows' boolean labels were dropped and the trace read as unlabelled (left out of training and of the metrics)."""
    rows = [
        {"id": "a", "prompt": "p", "completions": ["s1", "s2"], "labels": [True, False], "soft_labels": [0.9, 0.2]},
        {"id": "b", "prompt": "p", "completions": ["s1", "s2"], "labels": [True, False], "soft_labels": None},
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    [a, b] = load_steps(source)
    assert a.soft_labels() == [0.9, 0.2]
    assert b.soft_labels() == [1.0, 0.0]
