"""Bad input data (BRIEF section 7): every malformed file in tests/fixtures/bad_data/ gets an InputError naming the
file and line (or row), and the CLI exits 2 on it without writing anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from constitution.data import rows
from constitution.cli import main
from constitution.data import load_pairs
from constitution.errors import InputError
from constitution.generation import load_prompts
from constitution.resources import default_principles

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "fixtures" / "bad_data"
EXPECTED: dict[str, dict] = yaml.safe_load((BAD / "expected.yaml").read_text())


def _prefix(path: Path, case: dict) -> str:
    """How the error must start: ``FILE:LINE: ``, ``FILE row N: `` or ``FILE: ``."""
    if "line" in case:
        return f"{path}:{case['line']}: "
    if "row" in case:
        return f"{path} row {case['row']}: "
    return f"{path}: "


def test_every_fixture_has_exactly_one_expectation():
    files = {p.name for p in BAD.iterdir()} - {"README.md", "expected.yaml"}
    assert files == set(EXPECTED)
    assert len(files) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_reported_at_its_line(name: str):
    path, case = BAD / name, EXPECTED[name]
    with pytest.raises(InputError) as info:
        load_pairs(path)
    message = str(info.value)
    assert message.startswith(_prefix(path, case)) and case["expect"] in message, message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_strict_label_cli_exits_2_and_writes_nothing(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """--strict reads the whole input before the judge is loaded: the first bad row stops it."""
    path, case = BAD / name, EXPECTED[name]
    out = tmp_path / "out"
    code = main(["label", str(path), "--out", str(out), "--constitution", str(default_principles()), "--no-progress", "--strict"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: " + _prefix(path, case)) and case["expect"] in err, err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("command, name", [("label", "truncated.jsonl.gz"), ("train", "non_utf8.jsonl")])
def test_python_m_constitution_exits_2_without_a_traceback(command: str, name: str, tmp_path: Path):
    path = BAD / name
    cmd = [sys.executable, "-m", "constitution", command, str(path), "--out", str(tmp_path / "out")]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert _prefix(path, EXPECTED[name]) in done.stderr and "Traceback" not in done.stderr


def test_only_the_last_line_can_be_truncated(tmp_path: Path):
    row = json.dumps({"prompt": "q", "response_a": "a", "response_b": "b"})
    complete = tmp_path / "no_final_newline.jsonl"
    complete.write_text(row + "\n" + row)  # a valid last line without its newline is fine
    assert load_pairs(complete)[1].kept == 2
    cut_inside = tmp_path / "cut_inside.jsonl"
    cut_inside.write_text(row + "\n" + row[:10] + "\n" + row + "\n")  # a bad line with a newline is not a cut-off file
    with pytest.raises(InputError, match=r"cut_inside.jsonl:2: invalid JSON") as info:
        load_pairs(cut_inside)
    assert "truncated" not in str(info.value)


def test_row_limit_is_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    row = json.dumps({"prompt": "q", "response_a": "a", "response_b": "b"}) + "\n"
    monkeypatch.setattr(rows, "MAX_ROW_BYTES", len(row))
    at_limit = tmp_path / "at.jsonl"
    at_limit.write_text(row)
    assert load_pairs(at_limit)[1].kept == 1
    over = tmp_path / "over.jsonl"
    over.write_text(row + row.replace('"q"', '"qq"'))
    with pytest.raises(InputError, match=rf"over.jsonl:2: row too large: over the per-row limit of {len(row)} bytes"):
        load_pairs(over)


def test_other_readers_get_the_same_errors():
    """Prompts for `generate` are read by the same code: a cut-off gzip is reported, not a raw EOFError."""
    path = BAD / "truncated.jsonl.gz"
    with pytest.raises(InputError, match=rf"^{path}:23: truncated gzip file"):
        load_prompts(path)
