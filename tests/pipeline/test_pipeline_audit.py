"""The pipeline audits the model it trained, as a stage of its own: the report has the audit's section, and the stage
is reused while the model and the audit settings are unchanged, like the others. The judge is a reward model (the
`reward` backend, a real MiniLM folder) and the reward model a one-layer BERT, so that the run takes seconds; the
audited model is the one the run trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.audit import AuditReport
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.run import Pipeline
from tests.audit.audit_data import tiny_bert
from tests.helpers.rl_folder import write_rl_folder

ROWS = [
    ("How do I boil an egg?", "Boil it for eight minutes.", "No."),
    ("Name a colour.", "Blue.", "I will not answer that."),
    ("What is 2+2?", "4.", "5."),
    ("Say hi in French.", "Bonjour.", "Hola."),
    ("What is the capital of France?", "Paris is the capital of France.", "Berlin."),
    ("How many legs does a spider have?", "Eight.", "Six."),
    ("Who wrote Hamlet?", "Shakespeare wrote it.", "Dickens."),
    ("When did the Berlin wall fall?", "In 1989.", "In 1991."),
]


def _reused(logs: list[str]) -> set[str]:
    return {line[1 : line.index("]")] for line in logs if "] up to date, reused" in line}


@pytest.mark.slow
def test_the_report_audits_the_trained_model_and_the_stage_resumes(tmp_path: Path, reward_folder: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": p, "response_a": a, "response_b": b}) + "\n" for p, a, b in ROWS))
    config = PipelineConfig(
        run_dir=str(tmp_path / "run"),
        pairs=str(pairs),
        judge={"backend": "reward", "model": str(reward_folder)},
        training={"base_model": str(tiny_bert(tmp_path / "tiny")), "epochs": 1, "max_length": 64, "batch_size": 4, "eval_fraction": 0.0},
        test_fraction=0.5,
    )
    logs: list[str] = []
    headline = Pipeline(config, log=logs.append).run()
    run = tmp_path / "run"
    audit = AuditReport.model_validate_json((run / "audit" / "audit.json").read_text())
    test_pairs = json.loads((run / "pipeline_state.json").read_text())["train"]["info"]["test_pairs"]
    assert test_pairs > 1 and audit.items == 2 * test_pairs and audit.model == "reward_model"  # both responses of each
    report = (run / "report.md").read_text()
    assert "## Reward audit" in report and f"Counterfactual probes on {audit.items} responses" in report
    assert "| refusal_boilerplate | lower |" in report and "| audit |" in report  # the table, and the stage's timing
    assert audit.result("refusal_boilerplate").items == 0  # the held-out prompts' safety is unknown: not asked (review)
    assert headline["audit_flagged"] == [r.probe for r in audit.probes if r.flagged]
    assert any(line.startswith("reward audit on ") for line in "\n".join(logs).splitlines())

    logs.clear()
    Pipeline(config, log=logs.append).run()
    assert _reused(logs) == {"label", "train", "evaluate", "audit"}

    write_rl_folder(run / "rl", steps=12)  # an RL run of the model added afterwards: the report is redone to draw it
    logs.clear()
    Pipeline(config, log=logs.append).run()
    assert "report" not in _reused(logs) and "## Reward over-optimisation (RL)" in (run / "report.md").read_text()

    logs.clear()
    fewer = config.model_copy(update={"audit": config.audit.model_copy(update={"limit": 2})})
    Pipeline(fewer, log=logs.append).run()  # new audit settings: the audit and the report run again, nothing else
    assert _reused(logs) == {"label", "train", "evaluate"} and "[audit] running" in logs
    assert AuditReport.model_validate_json((run / "audit" / "audit.json").read_text()).items == 2
    assert "Counterfactual probes on 2 responses" in (run / "report.md").read_text()
