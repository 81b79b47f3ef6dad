"""`constitution diff` as users call it: bad versions (exit 2, file:line as `validate` reports them), a scalar reward
model refused before the judge loads, and end to end on the real embedded judge with a git revision."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.reward.metadata import RewardMetadata, write_metadata

from tests.diff.helpers import write_principles

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_principles"
ROWS = [("helpful", "Which response is more helpful?", 1.0), ("honest", "Which response is more honest?", 1.0)]


def _pairs(path: Path) -> Path:
    rows = [("How do I boil an egg?", "Boil it for eight minutes.", "Eggs are hard."), ("What is 2+2?", "4.", "It is 5.")]
    path.write_text("".join(json.dumps({"prompt": p, "response_a": a, "response_b": b}) + "\n" for p, a, b in rows))
    return path


@pytest.mark.reliability
@pytest.mark.parametrize("bad", ["negative_weight.yaml", "duplicate_across_files", "yaml_syntax.yaml"])
def test_a_bad_old_or_new_exits_2_with_the_lines_validate_prints(tmp_path: Path, capsys, bad: str):
    good = write_principles(tmp_path / "good", ROWS)
    assert main(["validate", str(FIXTURES / bad)]) == 2
    expected = [line for line in capsys.readouterr().err.splitlines() if not line.endswith("error(s)")]
    assert expected and all(":" in line.split(" ")[0] for line in expected)  # file:line: message
    for old, new, side in ((FIXTURES / bad, good, "OLD"), (good, FIXTURES / bad, "NEW")):
        assert main(["diff", str(old), str(new), "--pairs", str(_pairs(tmp_path / "p.jsonl")), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err[: len(expected)] == expected and err[len(expected)] == f"{len(expected)} error(s) in {side} ({FIXTURES / bad})"
    assert not (tmp_path / "o").exists()


@pytest.mark.reliability
def test_a_reward_model_without_heads_is_refused_before_the_judge_loads(tmp_path: Path, capsys):
    folder = write_principles(tmp_path / "c", ROWS)
    model = tmp_path / "rm"
    model.mkdir()
    write_metadata(model, RewardMetadata(base_model="all-minilm-l6-v2"))  # a scalar reward model's metadata
    code = main(["diff", str(folder), str(folder), "--pairs", str(_pairs(tmp_path / "p.jsonl")), "--model", str(model),
                 "--judge", str(tmp_path / "no-such-judge"), "--backend", "hf"])  # fmt: skip
    assert code == 2
    assert f"{model}: not a reward model with per-principle heads" in capsys.readouterr().err


@pytest.mark.slow
def test_end_to_end_on_the_embedded_judge_with_a_git_revision(tmp_path: Path, capsys, monkeypatch, judge_model_path: str):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    write_principles(repo / "principles", ROWS)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    write_principles(repo / "principles", [ROWS[0], ("honest", "Which response is more truthful and accurate?", 1.0)])
    monkeypatch.chdir(repo)
    pairs = _pairs(tmp_path / "pairs.jsonl")
    args = ["diff", "HEAD:principles", "principles", "--pairs", str(pairs), "--out", "out",
            "--backend", "hf", "--dtype", "float32", "--no-progress"]  # fmt: skip

    assert main(args) == 0
    out = capsys.readouterr().out
    report = json.loads((repo / "out" / "diff.json").read_text())
    assert [(e["id"], e["changes"]) for e in report["spec"]["principles"]] == [("honest", ["reworded"])]
    assert report["cost_old"]["computed"] == 2 * 2 * 2 and report["cost_new"]["computed"] == 2 * 2  # 'honest' only
    assert report["labels"]["pairs"] == 2 and len(report["labels"]["per_pair"]) == 2
    helpful = next(e for e in report["labels"]["per_principle"] if e["id"] == "helpful")
    assert helpful["mean_abs_delta"] == pytest.approx(0.0, abs=1e-6)  # the same judgments, from the cache
    assert "honest: reworded" in out and "Which response is more truthful and accurate?" in (repo / "out" / "diff.md").read_text()
    assert (repo / "out" / "diff_dp.png").read_bytes()[:4] == b"\x89PNG"

    assert main(args) == 0  # again: every judgment is in the cache (OUT/judgments.sqlite)
    again = json.loads((repo / "out" / "diff.json").read_text())
    assert again["cost_old"]["computed"] == 0 == again["cost_new"]["computed"]
    assert again["labels"]["per_pair"] == report["labels"]["per_pair"]
