"""Review of issue 34 (score-steps streamed): one bad row no longer stops the run nor loses the rows scored."""

from __future__ import annotations

import json
from pathlib import Path

from constitution.data.steps import write_steps
from tests.helpers.reward_folders import process_folder
from tests.process.chains import chains


def test_score_steps_lists_a_bad_row_and_scores_the_rest(tmp_path: Path, capsys):
    """A bad row (here row 3: a trace with no steps) raised at once: exit 2 and no output, the rows before it lost."""
    from constitution.cli import main

    good = chains(4, seed=5)
    source = write_steps(tmp_path / "traces.jsonl", good)
    lines = source.read_text().splitlines()
    lines.insert(2, json.dumps({"id": "empty", "prompt": "p", "completions": []}))
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.jsonl"
    assert main(["score-steps", str(process_folder(tmp_path / "prm")), str(source), "--out", str(out)]) == 2
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [t.id for t in good]
    captured = capsys.readouterr()
    summary = json.loads(captured.out.splitlines()[-1])
    assert summary["traces"] == 4 and summary["rows_bad"] == 1
    assert "traces.jsonl:3" in captured.err and "no steps" in captured.err
