"""``constitution validate`` and ``constitution render`` as a person runs them (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad_principles"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "constitution", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_validate_shipped_principles_exits_0():
    result = _cli("validate")
    assert result.returncode == 0, result.stderr
    assert "24 principles" in result.stdout


def test_validate_bad_files_exit_2_with_file_line():
    result = _cli("validate", str(BAD / "unknown_key.yaml"), str(BAD / "negative_weight.yaml"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert f"{BAD / 'unknown_key.yaml'}:8: principles.0.wieght: Extra inputs are not permitted" in lines
    assert any(line.startswith(f"{BAD / 'negative_weight.yaml'}:10: ") for line in lines)


def test_every_command_has_help():
    from constitution.cli import COMMANDS

    result = _cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    for command in COMMANDS:
        sub = _cli(command, "--help")
        assert sub.returncode == 0 and "usage:" in sub.stdout, command


def test_render_prints_prompt_and_token_count(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "How do I boil an egg?", "response_a": "Eight minutes.", "response_b": "No."}) + "\n")
    result = _cli("render", "--pairs", str(pairs), "--row", "0", "--principle", "clear", "--order", "ba")
    assert result.returncode == 0, result.stderr
    assert "(A) No.\n\n(B) Eight minutes." in result.stdout
    assert "Question: Which response is clearer and easier to follow?" in result.stdout
    tail = result.stdout.strip().splitlines()[-1]
    assert "order: ba" in tail and "tokens (smollm2-135m-instruct)" in tail
    assert int(tail.split(" tokens")[0].split()[-1]) > 50


def test_render_bad_row_and_principle_exit_2(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "hi", "response_a": "a", "response_b": "b"}) + "\n")
    result = _cli("render", "--pairs", str(pairs), "--row", "3", "--principle", "clear", "--tokenizer", "none")
    assert result.returncode == 2 and "out of range" in result.stderr
    result = _cli("render", "--pairs", str(pairs), "--principle", "nope", "--tokenizer", "none")
    assert result.returncode == 2 and "no principle 'nope'" in result.stderr
