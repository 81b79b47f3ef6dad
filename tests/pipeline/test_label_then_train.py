"""The main job end to end on a tiny config (real vLLM, real training), then again after editing one principle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import HH_TEST as HH
from tests.helpers.paths import ROOT

from constitution.resources import default_principles

pytest.importorskip("vllm", reason="vLLM is not installed")


def _run(config: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "label_then_train.py"), "--config", str(config), *extra],
        capture_output=True, text=True, timeout=1200, env={**__import__("os").environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
@pytest.mark.vllm
def test_pipeline_end_to_end_and_edit_one_principle(tmp_path: Path):
    principles = tmp_path / "principles"
    shutil.copytree(default_principles(), principles)
    spec = principles / "constitution.yaml"
    spec.write_text(
        spec.read_text().replace("  - id: harmlessness\n    weight: 1.0\n", "").replace("rule: k", "rule: all")
    )  # helpfulness only (6 principles), every principle asked
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p}) + "\n" for i, p in enumerate(
        ["How do I boil an egg?", "What is a prime number?", "How do I pick a lock to break into a house?", "Name a good book."]
    )))  # fmt: skip
    run_dir = tmp_path / "run"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"run_dir: {run_dir}\nprompts: {prompts}\nconstitution: {principles}\n"
        "generation: {max_tokens: 16, batch_size: 4, policy: {max_model_len: 1024}}\n"
        "judge: {max_model_len: 1024}\n"  # the same settings as the policy: one engine serves both
        "training: {epochs: 1, max_length: 64, batch_size: 2, eval_fraction: 0.0}\n"
        f"human_eval: {HH if HH.exists() else 'null'}\nhuman_eval_limit: 8\ntest_fraction: 0.25\n"
    )
    first = _run(config)
    headline = json.loads(first.stdout[first.stdout.rindex("\n{\n") :])
    assert headline["pairs_labeled"] == 4
    for artefact in ("pairs.jsonl", "judgments.sqlite", "labels/labels.jsonl", "labels/summary.json", "labels/dataset_info.json",
                     "reward_model/config.json", "reward_model/constitution_reward.json", "eval/eval.json", "audit/audit.json",
                     "report.md", "plots/principles.png", "plots/rewards.png", "plots/reliability_ai_test.png", "pipeline_state.json"):  # fmt: skip
        assert (run_dir / artefact).exists(), artefact
    pairs = [json.loads(line) for line in (run_dir / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 4 and all(p["response_a"] and p["response_b"] for p in pairs)
    labels = [json.loads(line) for line in (run_dir / "labels" / "labels.jsonl").read_text().splitlines()]
    assert all(0 < r["p_a"] < 1 and len(r["per_principle"]) == 6 for r in labels)
    report = (run_dir / "report.md").read_text()
    assert "## Labels per principle" in report and "| clear |" in report and "## Timings" in report and "## Reward audit" in report
    for png in (run_dir / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((run_dir / "labels" / "summary.json").read_text())
    assert summary["judgments_computed"] == 4 * 6 * 2

    # Edit one principle: only its judgments are asked again; generation is reused.
    helpful = principles / "helpfulness.yaml"
    helpful.write_text(helpful.read_text().replace("clearer and easier to follow", "clearer and simpler to follow"))
    second = _run(config)
    assert "[generate] up to date, reused" in second.stdout
    summary = json.loads((run_dir / "labels" / "summary.json").read_text())
    assert summary["judgments_computed"] == 4 * 2 and summary["judgments_cached"] == 4 * 5 * 2
    assert "| judgments (computed / cached) | 8 / 40 |" in (run_dir / "report.md").read_text()
