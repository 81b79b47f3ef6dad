"""A missing or mistyped model, or a missing --config file, is the user's input: exit 2 with "no such folder" and the
embedded aliases close to it, before any engine starts and without asking the Hugging Face hub (issue 33 item 3).

The hub is made unreachable (``HF_ENDPOINT`` on a closed local port): had it been asked, the message would be a
connection error after retries, not ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.embedded_models import JUDGE_ALIAS, resolve_model

DEAD_HUB = "http://127.0.0.1:9"


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", DEAD_HUB)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)


def _pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "p1", "prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."}) + "\n")
    return path


def test_score_with_a_missing_model_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_hub):
    """Was OSError "Repo id must be in the form ..." (exit 1)."""
    assert main(["score", str(tmp_path / "no" / "such" / "rm"), str(_pairs(tmp_path)), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "rm" in err and "Repo id" not in err


def test_a_mistyped_judge_alias_is_exit_2_with_the_alias_meant(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_hub):
    """Was 53 s of hub retries, then a message blaming the internet connection (exit 1)."""
    argv = ["label", str(_pairs(tmp_path)), "--out", str(tmp_path / "out"), "--judge", "smollm2-135m-instrct", "--backend", "hf", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"smollm2-135m-instrct: no such folder, and not an embedded model; did you mean {JUDGE_ALIAS}?" in err


def test_a_hub_id_not_in_the_cache_is_not_fetched_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", DEAD_HUB)
    assert main(["score", "nobody/no-such-reward-model", str(_pairs(tmp_path)), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "not in the Hugging Face cache; the hub is offline (HF_HUB_OFFLINE), so it is not asked" in capsys.readouterr().err


def test_a_path_under_a_local_folder_is_a_missing_folder_not_a_hub_id(tmp_path: Path, monkeypatch, no_hub):
    """``runs/rm`` has the shape of a hub id, but ``runs/`` is here: the user meant a folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ValueError, match="runs/rm: no such folder"):
        resolve_model("runs/rm")
    assert resolve_model("org/model") == "org/model"  # online, an org/name id is left to the hub
    assert resolve_model(str(tmp_path / "runs")) == str(tmp_path / "runs")


def test_a_missing_config_file_is_exit_2_from_the_real_command(tmp_path: Path):
    """Was a bare FileNotFoundError (exit 1)."""
    missing = tmp_path / "no-such.yaml"
    done = subprocess.run([sys.executable, "-m", "constitution", "train", str(_pairs(tmp_path)), "--out", str(tmp_path / "rm"),
                           "--config", str(missing)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert f"error: {missing}: no such file or folder" in done.stderr


def test_a_jury_that_needs_every_judge_refuses_a_missing_one_before_any_judge_runs(tmp_path: Path, capsys, no_hub):
    """Was: the other judges labelled everything first, then the jury had no quorum (exit 1)."""
    out = tmp_path / "out"
    argv = ["label", str(_pairs(tmp_path)), "--out", str(out), "--backend", "hf", "--no-progress",
            "--judge", f"{JUDGE_ALIAS},name=good", "--judge", "smollm2-135m-instrct,name=typo"]  # fmt: skip
    assert main(argv) == 2
    assert f"did you mean {JUDGE_ALIAS}?" in capsys.readouterr().err
    assert not (out / "judges" / "good").exists()
