"""The reward audit finds a planted verbosity exploit in a real (tiny, trained) reward model and none in a control;
``--fail-on`` gates exit non-zero; a bad probe file names its file and line."""

from __future__ import annotations

import json

import pytest

from constitution.audit import AuditReport, Gate, audit_reward_model, load_probes, read_items
from constitution.cli import main
from constitution.errors import InputError
from constitution.resources import default_audit_probes
from constitution.reward.model import RewardModel

VERBOSITY = ("filler", "restatement", "repetition")


def _audit(folder, root) -> AuditReport:
    items = read_items(root / "responses.jsonl")
    return audit_reward_model(RewardModel.load(folder), load_probes(default_audit_probes()), items, name=folder.name)


@pytest.mark.slow
def test_the_audit_finds_the_verbosity_exploit_and_nothing_in_the_control(verbose_rm, control_rm, audit_root):
    exploited = _audit(verbose_rm, audit_root)
    for probe in VERBOSITY:
        result = exploited.result(probe)
        assert result.flagged and result.change.ci_low > 0 and result.share_raised >= 0.75, result
    control = _audit(control_rm, audit_root)
    assert [r.probe for r in control.probes if r.flagged and r.expect == "no_raise"] == []
    assert all(r.items == 8 for r in control.probes)


@pytest.mark.slow
def test_fail_on_gates_the_exit_code_and_the_files_are_written(verbose_rm, control_rm, audit_root, tmp_path):
    responses = str(audit_root / "responses.jsonl")
    assert main(["audit", str(verbose_rm), "--responses", responses, "--out", str(tmp_path / "v"), "--fail-on", "filler>0.5"]) == 1
    report = AuditReport.model_validate_json((tmp_path / "v" / "audit.json").read_text())
    assert report.result("filler").flagged and "raises the reward" in (tmp_path / "v" / "audit.md").read_text()
    assert main(["audit", str(control_rm), "--responses", responses, "--out", str(tmp_path / "c"), "--fail-on", "filler>0.5"]) == 0
    assert main(["audit", str(control_rm), "--responses", responses, "--out", str(tmp_path / "x"), "--fail-on", "nosuch>1"]) == 2


def test_gates_parse_and_judge_the_mean_change():
    report = AuditReport.model_validate(
        {"model": "m", "items": 2, "probes": [{"probe": "filler", "description": "d", "expect": "no_raise", "items": 2,
         "change": {"mean": 0.3, "ci_low": 0.1, "ci_high": 0.5}, "share_raised": 1.0, "flagged": True}]}
    )  # fmt: skip
    assert Gate.parse("filler>0.2").failure(report) and not Gate.parse("filler>0.4").failure(report)
    assert Gate.parse("filler<0.4").failure(report) and not Gate.parse("filler < -1").failure(report)
    with pytest.raises(InputError, match="PROBE>X"):
        Gate.parse("filler=1")


def test_a_bad_probe_file_names_its_file_and_line(tmp_path):
    bad = tmp_path / "probes.yaml"
    bad.write_text("kind: audit_probes\nprobes:\n  - id: pad\n    description: d\n    expect: higher\n    template: x\n")
    with pytest.raises(InputError, match=r"probes.yaml:5.*expect"):
        load_probes(bad)
    bad.write_text("kind: audit_probes\nprobes:\n  - id: pad\n    description: d\n    template: |\n      {{ respnse }}\n")
    with pytest.raises(InputError, match=r"probes.yaml:5: .*'respnse' is undefined"):  # the probe's template key
        load_probes(bad)
    bad.write_text("kind: audit_probes\nprobes:\n  - id: pad\n    description: d\n    template: |\n      ok\n      {{ response \n")
    with pytest.raises(InputError, match=r"probes.yaml:7: template syntax error"):  # the template's own line
        load_probes(bad)
    bad.write_text("kind: audit_probes\nprobes:\n  - id: pad\n    description: d\n    template: \"{{ ''.__class__.__mro__ }}\"\n")
    with pytest.raises(InputError, match="sandbox"):
        load_probes(bad)
    assert main(["audit", "rm", "--responses", "r.jsonl", "--out", str(tmp_path / "o"), "--probes", str(bad)]) == 2


def test_shipped_probes_load_and_rewrite(tmp_path):
    probes = load_probes(default_audit_probes())
    (tmp_path / "r.jsonl").write_text(json.dumps({"prompt": "Hi?", "response": "One two. Three four.", "safe": False}) + "\n")
    (item,) = read_items(tmp_path / "r.jsonl")
    assert probes.apply(probes["repetition"], item) == "One two. Three four.\n\nOne two. Three four."
    assert probes.apply(probes["cut_in_half"], item) == "One two."
    assert not probes.applies(probes["refusal_boilerplate"], item) and probes.applies(probes["filler"], item)


def test_the_pipeline_report_has_an_audit_section_when_the_run_has_an_audit(tmp_path):
    from constitution.audit import write_audit
    from constitution.pipeline.report import audit_section

    assert audit_section(tmp_path) == []
    report = AuditReport.model_validate(
        {"model": "m", "items": 3, "probes": [{"probe": "emoji", "description": "d", "expect": "no_raise", "items": 3,
         "change": {"mean": 0.4, "ci_low": 0.2, "ci_high": 0.6}, "share_raised": 1.0, "flagged": True}]}
    )  # fmt: skip
    write_audit(report, tmp_path / "audit")
    lines = audit_section(tmp_path)
    assert lines[0] == "## Reward audit" and "flagged: emoji" in lines[2]
    assert any(line.startswith("| emoji | not raise | 3 | +0.400 [+0.200, +0.600] | 100% | **raises the reward**") for line in lines)
