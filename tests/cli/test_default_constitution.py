"""One rule for the default constitution: ``constitution run`` and ``Pipeline(PipelineConfig())`` read ``./principles``
when the working directory has one, else the packaged default (constitution.sources.find_constitution)."""

from __future__ import annotations

from pathlib import Path

import pytest

from constitution.cli import main
from constitution.loader import load_constitution
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.run import Pipeline
from constitution.resources import default_principles


@pytest.fixture
def edited_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with its own, edited ./principles."""
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    spec = tmp_path / "principles" / "helpfulness.yaml"
    spec.write_text(spec.read_text().replace("Which response is clearer", "Which response is plainer"))
    return tmp_path / "principles"


def test_the_cli_and_the_pipeline_read_the_local_principles(edited_here: Path, capsys: pytest.CaptureFixture):
    local = load_constitution(edited_here)
    assert local.hash != load_constitution(default_principles()).hash
    assert Pipeline(PipelineConfig(run_dir="run")).constitution.hash == local.hash  # the library, no config
    assert main(["run", "--print-config"]) == 0  # the command, no config
    assert "\nconstitution: principles\n" in capsys.readouterr().out


def test_without_local_principles_both_read_the_packaged_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.chdir(tmp_path)
    assert Pipeline(PipelineConfig(run_dir="run")).constitution.hash == load_constitution(default_principles()).hash
    assert main(["run", "--print-config"]) == 0
    out = capsys.readouterr()
    assert f"\nconstitution: {default_principles()}\n" in out.out and "note: using the default constitution" in out.err
