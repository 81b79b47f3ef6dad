"""Every command and script the README names exists and answers ``--help`` (issue 21: the README pointed to a script
that died at once). Commands run in process through the CLI's ``main``; scripts through ``runpy`` as ``__main__``."""

from __future__ import annotations

import re
import runpy
import sys

import pytest
from tests.helpers.paths import ROOT

from constitution.cli import COMMANDS, main

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```[^\n]*\n(.*?)```", README, re.S)
INLINE = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S))


def _named_commands() -> list[str]:
    """``constitution CMD`` at the start of a code line (``.venv/bin/constitution`` too) or of an inline code span."""
    found = {m.group(1) for block in BLOCKS for m in re.finditer(r"^(?:\S*/)?constitution ([a-z][a-z-]*)", block, re.M)}
    found |= {m.group(1) for span in INLINE if (m := re.match(r"(?:\S*/)?constitution ([a-z][a-z-]*)", span))}
    return sorted(found)


def _named_scripts() -> list[str]:
    return sorted({m for text in BLOCKS + INLINE for m in re.findall(r"\bpipelines/\w+\.py\b", text)})


def test_the_readme_names_commands_and_scripts():
    """The parsing finds what the README shows (guards against a regex that finds nothing)."""
    assert {"init", "validate", "label", "train", "run", "bench"} <= set(_named_commands())
    assert "pipelines/label_then_train.py" in _named_scripts()


@pytest.mark.parametrize("command", _named_commands())
def test_every_command_the_readme_names_answers_help(command: str, capsys: pytest.CaptureFixture[str]):
    assert command in COMMANDS, f"the README names `constitution {command}`, which does not exist"
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and f"constitution {command}" in capsys.readouterr().out


@pytest.mark.parametrize("script", _named_scripts())
def test_every_script_the_readme_names_answers_help(script: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    path = ROOT / script
    assert path.is_file(), f"the README names {script}, which does not exist"
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(path), run_name="__main__")
    assert done.value.code in (0, None) and "usage:" in capsys.readouterr().out
