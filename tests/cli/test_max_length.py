"""A --max-length beyond the backbone's positions is refused at the start, naming the limit (issue 33 item 1): it
was accepted and saved, and `score` then died with a tensor size RuntimeError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import BertConfig, DebertaV2Config, RobertaConfig

from constitution.cli import main
from constitution.reward.backbone import position_limit


def _pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = [{"id": str(i), "prompt": f"Question {i}?", "chosen": "A kind answer.", "rejected": "No."} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_refuses_a_max_length_beyond_minilm_positions(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "rm"
    assert main(["train", str(_pairs(tmp_path)), "--out", str(out), "--max-length", "100000", "--epochs", "1"]) == 2
    assert "--max-length 100000 is more than the 512 positions of the backbone all-minilm-l6-v2" in capsys.readouterr().err
    assert not out.exists()


def test_run_refuses_it_from_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = tmp_path / "run.yaml"
    config.write_text(f"run_dir: {tmp_path / 'run'}\ntraining:\n  max_length: 4096\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "training.max_length 4096 is more than the 512 positions" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_position_limits_of_config_kinds():
    assert position_limit(BertConfig(max_position_embeddings=512)) == 512
    assert position_limit(RobertaConfig(max_position_embeddings=514, pad_token_id=1)) == 512  # ids start after padding


def test_a_backbone_with_relative_positions_only_has_no_limit():
    """DeBERTa-v3 (a common reward backbone) has max_position_embeddings 512 but no absolute positions
    (position_biased_input false): it reads 1,500 tokens, so --max-length 1024 must not be refused (review)."""
    assert position_limit(DebertaV2Config(max_position_embeddings=512, position_biased_input=False, relative_attention=True)) is None
    assert position_limit(DebertaV2Config(max_position_embeddings=512, position_biased_input=True)) == 512
