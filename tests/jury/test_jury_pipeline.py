"""The pipeline with `judges:` (a jury of the embedded judge in fp32 and a reward model, see test_jury_cli.py): the labels
folder is the jury's, each judge's folder sits under it, training and the report run on it, and a rerun reuses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.run import Pipeline


@pytest.mark.slow
def test_the_pipeline_labels_with_a_jury(tmp_path: Path, judge_model_path: str, reward_folder: Path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [("How do I boil an egg?", "Eight minutes.", "No."), ("Name a color.", "Blue.", "I will not."),
            ("What is 2+2?", "4.", "5."), ("Say hi in French.", "Bonjour.", "Hola.")]  # fmt: skip
    pairs.write_text("".join(json.dumps({"prompt": p, "response_a": a, "response_b": b}) + "\n" for p, a, b in rows))
    config = PipelineConfig(
        run_dir=str(tmp_path / "run"),
        pairs=str(pairs),
        judges=[{"backend": "hf", "dtype": "float32", "name": "fp32"}, {"backend": "reward", "model": str(reward_folder), "weight": 2, "name": "rm"}],
        training={"epochs": 1, "max_length": 64, "batch_size": 2, "eval_fraction": 0.0},
        test_fraction=0.25,
    )
    logs: list[str] = []
    Pipeline(config, log=logs.append).run()
    labels = tmp_path / "run" / "labels"
    summary = json.loads((labels / "summary.json").read_text())
    assert summary["judge"] == "jury:fp32+rm" and summary["pairs"] == 4 and [m["name"] for m in summary["members"]] == ["fp32", "rm"]
    assert all((labels / "judges" / name / "labels.jsonl").exists() for name in ("fp32", "rm"))
    assert any("jury of 2 judges, quorum 2: 4 pairs labelled" in line for line in logs)
    assert (tmp_path / "run" / "reward_model" / "config.json").exists()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Jury" in report and "| fp32 | 1.00 | 4 | 0 |" in report and "| fp32 ~ rm | 4 |" in report

    logs.clear()
    Pipeline(config, log=logs.append).run()
    assert "[label] up to date, reused" in "\n".join(logs)
    weights = config.model_copy(update={"judges": [config.judges[0], config.judges[1].model_copy(update={"weight": 3.0})]})
    logs.clear()
    Pipeline(weights, log=logs.append).run()  # a new weight relabels (from the cache)
    assert "[label] running" in logs and f"computed 0, cached {summary['judgments']}" in "\n".join(logs)
