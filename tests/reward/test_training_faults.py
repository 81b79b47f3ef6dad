"""Reward training under faults (issue #7): SIGKILL at any point then a re-run gives the uninterrupted model;
incomplete or foreign checkpoints are skipped and reported; a nan loss or gradient stops training with a clear error
and keeps the last good checkpoint.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.helpers.paths import HH_TEST as HH
from tests.reward.reward_helpers import synthetic_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _train_command(out: Path, eval_fraction: float) -> list[str]:
    return [
        sys.executable, "-m", "constitution", "train", str(HH), "--out", str(out), "--limit", "24",
        "--max-length", "64", "--epochs", "2", "--batch-size", "4", "--lr", "1e-4", "--seed", "3",
        "--eval-fraction", str(eval_fraction), "--checkpoint-steps", "2",
    ]  # fmt: skip


def _start(out: Path, eval_fraction: float, log: Path) -> subprocess.Popen:
    """Start training; stderr goes to ``log`` and stdout (ending with the result JSON) to ``log`` + ".json".

    Files, not pipes: a full pipe would block the child while the test polls.
    """
    with open(log, "w") as err, open(f"{log}.json", "w") as out_file:
        return subprocess.Popen(_train_command(out, eval_fraction), stdout=out_file, stderr=err, env=ENV, cwd=ROOT)


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], what: str, log: Path) -> None:
    while not ready():
        assert proc.poll() is None, f"training ended (rc {proc.returncode}) before {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, f"training ended before it was killed at {what}"


def _finish(proc: subprocess.Popen, log: Path) -> dict:
    assert proc.wait() == 0, log.read_text()[-3000:]
    return json.loads(Path(f"{log}.json").read_text().splitlines()[-1])


def _rounded(value):
    """JSON value with floats rounded to 6 significant digits (for comparing metadata)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _assert_same_model(a: Path, b: Path) -> None:
    from safetensors.torch import load_file

    from constitution.reward.metadata import METADATA_FILE

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.allclose(wa[name], wb[name], rtol=0, atol=1e-5), name
    meta_a, meta_b = (json.loads((f / METADATA_FILE).read_text()) for f in (a, b))
    assert meta_a.pop("created") and meta_b.pop("created")
    assert _rounded(meta_a) == _rounded(meta_b)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


@pytest.mark.slow
@pytest.mark.reliability
def test_sigkill_then_rerun_gives_the_uninterrupted_model(minilm_path, tmp_path):
    """Killed after a checkpoint in epoch 1, while saving one in epoch 2, and while saving the final model (with a
    held-out side, so the evaluation state resumes too)."""
    eval_fraction = 0.25
    from constitution.reward.checkpoints import is_complete

    if not HH.exists():
        pytest.skip(f"{HH} is missing")
    plain, out = tmp_path / "plain", tmp_path / "resumed"
    checkpoints = out / "checkpoints"
    baseline = _start(plain, eval_fraction, tmp_path / "plain.log")  # runs beside the interrupted ones

    log = tmp_path / "1.log"
    proc = _start(out, eval_fraction, log)
    _kill_when(proc, lambda: is_complete(checkpoints / "checkpoint-2"), "checkpoint-2 was saved", log)

    log = tmp_path / "2.log"
    proc = _start(out, eval_fraction, log)
    _kill_when(proc, lambda: (checkpoints / "checkpoint-10").exists(), "checkpoint-10 (epoch 2) was being saved", log)
    cut_off = not is_complete(checkpoints / "checkpoint-10")

    log = tmp_path / "3.log"
    proc = _start(out, eval_fraction, log)
    _kill_when(proc, lambda: (tmp_path / ".resumed.saving").exists(), "the final model was being saved", log)
    if cut_off:  # usually: the kill lands while the Trainer is writing the folder
        assert "checkpoint-10: incomplete" in log.read_text()
    else:
        assert "incomplete" not in log.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]  # no half-written model at the final path

    log = tmp_path / "4.log"
    result = _finish(_start(out, eval_fraction, log), log)
    assert Path(result["resumed_from"]).parent == checkpoints and not result["discarded_checkpoints"]
    _finish(baseline, tmp_path / "plain.log")
    _assert_same_model(plain, out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["plain", "resumed"]  # no leftovers


def _synthetic_pairs(tmp_path: Path, n: int):
    from constitution.data import load_pairs

    return load_pairs(write_jsonl(synthetic_rows(n, seed=5), tmp_path / "pairs.jsonl"))[0]


@pytest.mark.slow
@pytest.mark.reliability
def test_incomplete_and_foreign_checkpoints_are_skipped_and_reported(minilm_path, tmp_path):
    from safetensors.torch import load_file

    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.trainer import train_reward_model

    pairs = _synthetic_pairs(tmp_path, 16)
    config = RewardTrainingConfig(
        max_length=64, epochs=1, batch_size=4, eval_fraction=0, checkpoint_steps=2, keep_checkpoints=True
    )
    out = tmp_path / "rm"
    first = train_reward_model(config, pairs, out)
    weights = load_file(out / "model.safetensors")
    assert first.resumed_from is None and sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "checkpoint-4",
        "run.json",
    ]
    cut = out / "checkpoints" / "checkpoint-6"  # as if killed while the Trainer was writing its state file
    shutil.copytree(out / "checkpoints" / "checkpoint-4", cut)
    state = cut / "trainer_state.json"
    state.write_text(state.read_text()[:40])

    again = train_reward_model(config, pairs, out)
    assert again.resumed_from == str(out / "checkpoints" / "checkpoint-4")
    assert again.discarded_checkpoints == [f"{cut}: incomplete (interrupted while it was being saved)"]
    assert not cut.exists()
    resumed = load_file(out / "model.safetensors")
    assert all(torch.equal(weights[k], resumed[k]) for k in weights)

    other = train_reward_model(config.model_copy(update={"learning_rate": 3e-4}), pairs, out)
    assert other.resumed_from is None
    assert other.discarded_checkpoints == [
        f"{out / 'checkpoints' / 'checkpoint-4'}: from a different run (config differs in learning_rate)"
    ]
    changed = load_file(out / "model.safetensors")
    assert not all(torch.equal(weights[k], changed[k]) for k in weights)


@pytest.mark.reliability
def test_refuses_to_replace_a_folder_that_is_not_a_reward_model(tmp_path):
    from constitution.errors import InputError
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.trainer import train_reward_model

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a reward-model folder"):
        train_reward_model(RewardTrainingConfig(), _synthetic_pairs(tmp_path, 4), out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def _poison(monkeypatch, fault: Callable[[torch.nn.Module], None]) -> None:
    """Apply ``fault`` to the backbone right after ``train_reward_model`` loads it (fault injection)."""
    from constitution.reward import trainer

    load = trainer.load_backbone

    def poisoned(*args, **kwargs):
        model, *rest = load(*args, **kwargs)
        fault(model)
        return (model, *rest)

    monkeypatch.setattr(trainer, "load_backbone", poisoned)


def _finite_checkpoint(folder: Path) -> bool:
    from safetensors.torch import load_file

    from constitution.reward.checkpoints import is_complete

    return is_complete(folder) and all(t.isfinite().all() for t in load_file(folder / "model.safetensors").values())


@pytest.mark.slow
@pytest.mark.reliability
def test_nan_loss_exits_1_naming_the_step_and_keeps_the_last_good_checkpoint(
    minilm_path, tmp_path, monkeypatch, capsys
):
    from constitution.cli import main

    def nan_logits_from_step_6(model):
        calls = itertools.count(1)  # one forward per update: chosen and rejected share it

        def hook(module, args, output):
            if next(calls) >= 6:
                output["logits"] = output.logits + float("nan")
            return output

        model.register_forward_hook(hook)

    _poison(monkeypatch, nan_logits_from_step_6)
    data = write_jsonl(synthetic_rows(16, seed=5), tmp_path / "pairs.jsonl")
    out = tmp_path / "rm"
    argv = ["train", str(data), "--out", str(out), "--max-length", "64", "--epochs", "2", "--batch-size", "4",
            "--eval-fraction", "0", "--checkpoint-steps", "2"]  # fmt: skip
    assert main(argv) == 1
    good = out / "checkpoints" / "checkpoint-4"
    message = "error: TrainingDiverged: training stopped at update step 6: the loss is nan; last good checkpoint: "
    assert f"{message}{good}\n" in capsys.readouterr().err
    assert _finite_checkpoint(good)
    assert sorted(p.name for p in good.parent.iterdir()) == ["checkpoint-4", "run.json"]
    assert not (out / "config.json").exists()


@pytest.mark.slow
@pytest.mark.reliability
def test_nan_gradient_stops_before_the_optimizer_step(minilm_path, tmp_path, monkeypatch):
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.guards import TrainingDiverged
    from constitution.reward.temperature import scalar_head
    from constitution.reward.trainer import train_reward_model

    def inf_gradient_from_step_3(model):
        calls = itertools.count(1)
        scalar_head(model).weight.register_hook(lambda grad: grad * float("inf") if next(calls) >= 3 else grad)

    _poison(monkeypatch, inf_gradient_from_step_3)
    config = RewardTrainingConfig(max_length=64, epochs=1, batch_size=4, eval_fraction=0, checkpoint_steps=2)
    out = tmp_path / "rm"
    good = out / "checkpoints" / "checkpoint-2"
    message = rf"update step 3: the gradients are (nan|inf); last good checkpoint: {re.escape(str(good))}$"
    with pytest.raises(TrainingDiverged, match=message):
        train_reward_model(config, _synthetic_pairs(tmp_path, 16), out)
    assert _finite_checkpoint(good)
