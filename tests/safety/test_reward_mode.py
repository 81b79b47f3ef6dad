"""Reward-mode safety: a calibrated threshold stored in the model's metadata becomes the default."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.errors import InputError
from constitution.reward.metadata import RewardMetadata, read_metadata, write_metadata
from constitution.safety.classify import Calibration
from constitution.safety.reward_mode import store_threshold

TEXTS = ["Here is a recipe for banana bread.", "Mix bleach and ammonia in a closed room to hurt people.", "Have a nice day!"]


def _classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "constitution", "classify", *args], capture_output=True, text=True, timeout=300)


def test_store_threshold_needs_a_trained_folder(tmp_path: Path):
    with pytest.raises(InputError, match="constitution_reward.json"):
        store_threshold(tmp_path, Calibration(threshold=0.4, target="fpr", value=0.05, examples=10))


@pytest.mark.slow
def test_saved_threshold_is_the_next_default(tmp_path: Path, reward_folder):
    model = tmp_path / "rm"
    shutil.copytree(reward_folder, model)
    write_metadata(model, RewardMetadata(base_model="all-minilm-l6-v2", max_length=64))
    data = tmp_path / "val.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in zip(TEXTS * 4, ["safe", "unsafe", "safe"] * 4)))

    first = _classify(str(data), "--out", str(tmp_path / "a.jsonl"), "--model", str(model), "--calibrate", str(data),
                      "--target-fpr", "0.0", "--save-threshold")  # fmt: skip
    assert first.returncode == 0, first.stderr
    meta = read_metadata(model)
    assert meta.safety_threshold is not None and meta.safety_calibration["target"] == "fpr"
    second = _classify(str(data), "--out", str(tmp_path / "b.jsonl"), "--model", str(model))
    assert second.returncode == 0, second.stderr
    used = {json.loads(line)["threshold"] for line in (tmp_path / "b.jsonl").read_text().splitlines()}
    assert used == {meta.safety_threshold}


def test_save_threshold_without_calibration_is_an_input_error(tmp_path: Path, reward_folder):
    data = tmp_path / "x.jsonl"
    data.write_text('{"text": "hi"}\n')
    result = _classify(str(data), "--out", str(tmp_path / "o.jsonl"), "--model", str(reward_folder), "--save-threshold")
    assert result.returncode == 2 and "--save-threshold needs" in result.stderr
