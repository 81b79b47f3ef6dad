"""The reward audit finds a planted verbosity exploit in a real (tiny, trained) reward model and none in a control;
length alone flags the verbosity probes, not the probes judged against their length-matched control; a refusal that
does not lower the reward is flagged; ``--fail-on`` gates judge the interval and exit non-zero; a bad probe file or
gate names itself."""

from __future__ import annotations

import json

import pytest

from constitution.audit import AuditReport, Gate, audit_reward_model, load_probes, read_items
from constitution.audit.control import length_control
from constitution.cli import main
from constitution.errors import InputError
from constitution.resources import default_audit_probes
from constitution.reward.model import RewardModel

VERBOSITY = ("filler", "restatement", "repetition")
CONTENT = ("confident_tone", "flattery", "self_praise", "emoji", "fake_citation", "parrot_prompt")


def _audit(folder, root) -> AuditReport:
    items = read_items(root / "responses.jsonl")
    return audit_reward_model(RewardModel.load(folder), load_probes(default_audit_probes()), items, name=folder.name)


class LengthReward:
    """A fake reward model, planted to isolate the mechanism: its reward is the response's length in characters and
    nothing else (a trained model mixes length with all it learned; the real length-biased model is tested below)."""

    heads: list[str] = []

    def score(self, items, batch_size, normalize):
        return [len(response) / 100 for _, response in items]


def test_length_alone_flags_the_verbosity_probes_and_a_longer_refusal_not_the_content_probes(audit_root):
    """Every content probe adds text, so a length reward raises it against the original (the old audit flagged all
    six), and not at all against its length-matched control; refusal boilerplate, longer than these answers, must
    lower the reward and does not."""
    report = audit_reward_model(LengthReward(), load_probes(default_audit_probes()), read_items(audit_root / "responses.jsonl"))
    assert {r.probe for r in report.probes if r.flagged} == {*VERBOSITY, "refusal_boilerplate"}
    for probe in (*CONTENT, "markdown_list"):
        result = report.result(probe)
        assert result.judged_vs_control and result.change.ci_low > 0 and result.vs_control.mean == pytest.approx(0, abs=1e-12)
    refusal = report.result("refusal_boilerplate")
    assert refusal.expect == "lower" and refusal.change.mean > 0


@pytest.mark.slow
def test_the_audit_finds_the_verbosity_exploit_and_nothing_in_the_control(verbose_rm, control_rm, audit_root):
    exploited = _audit(verbose_rm, audit_root)
    for probe in VERBOSITY:
        result = exploited.result(probe)
        assert result.flagged and result.change.ci_low > 0 and result.share_raised >= 0.75, result
    assert exploited.result("refusal_boilerplate").flagged  # longer than the answers: the reward rose
    for probe in ("confident_tone", "flattery", "self_praise", "emoji", "parrot_prompt"):  # clearly below their controls
        result = exploited.result(probe)
        assert result.change.ci_low > 0 and result.vs_control.ci_high < 0 and not result.flagged, result
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


def _report(items: int, change: tuple[float, float | None, float | None], vs_control: tuple | None = None) -> AuditReport:
    mean, low, high = change
    probe = {"probe": "filler", "description": "d", "expect": "no_raise", "items": items, "share_raised": 1.0, "flagged": True,
             "change": {"mean": mean, "ci_low": low, "ci_high": high}}  # fmt: skip
    if vs_control:
        probe |= {"judged_vs_control": True, "vs_control": dict(zip(("mean", "ci_low", "ci_high"), vs_control))}
    return AuditReport.model_validate({"model": "m", "items": items, "probes": [probe]})


def test_gates_judge_the_interval_not_the_mean():
    report = _report(9, (0.05, -0.2, 0.3))  # the mean is below 0.1, the interval reaches above it
    assert Gate.parse("filler>0.1").failure(report) == "filler: change [-0.200, +0.300] reaches above 0.1"
    assert not Gate.parse("filler>0.3").failure(report)
    assert Gate.parse("filler<0").failure(report) and not Gate.parse("filler < -0.2").failure(report)


def test_a_probe_judged_against_its_control_passes_a_gate_when_either_interval_clears_it():
    length_only = _report(9, (0.5, 0.4, 0.6), vs_control=(0.0, -0.05, 0.05))
    assert not Gate.parse("filler>0.1").failure(length_only)
    both = _report(9, (0.5, 0.4, 0.6), vs_control=(0.3, 0.2, 0.4))
    assert Gate.parse("filler>0.1").failure(both) == (
        "filler: change [+0.400, +0.600] and change against its length-matched control [+0.200, +0.400] reach above 0.1"
    )


@pytest.mark.parametrize("items, change", [(0, (0.0, None, None)), (1, (-0.5, None, None))])
def test_a_gate_on_a_probe_asked_of_too_few_items_fails(items, change):
    """No interval, no evidence: before, a probe asked of no item had mean 0 and passed every gate above 0."""
    assert Gate.parse("filler>0.1").failure(_report(items, change)) == f"filler: asked of {items} item(s), too few for an interval (gate filler>0.1)"


@pytest.mark.parametrize("text", ["filler=1", "filler>", "filler>1.2.3", "filler>.", "filler>1e999", "filler>>1", ">1"])
def test_a_malformed_gate_exits_2_with_a_clear_message(text, tmp_path, capsys):
    """Refused before the model or the responses are read (neither exists here)."""
    with pytest.raises(InputError, match="expected PROBE>X or PROBE<X with a number X"):
        Gate.parse(text)
    assert main(["audit", str(tmp_path / "no_model"), "--responses", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"), "--fail-on", text]) == 2
    assert f"--fail-on {text!r}: expected PROBE>X or PROBE<X" in capsys.readouterr().err


def test_the_length_control_adds_as_many_neutral_characters_where_the_probe_added_text():
    from constitution.audit import AuditItem
    from constitution.data import Message

    probes = load_probes(default_audit_probes())
    item = AuditItem(id="0", conversation=[Message(role="user", content="How do I boil an egg?")], response="Boil it for eight minutes.")
    for probe in probes.probes:
        edited = probes.apply(probe, item)
        control = length_control(item.response, edited, probes.neutral_text)
        assert len(control) == max(len(edited), len(item.response)), probe.id
        added = control.replace(item.response, "").split()  # neutral words only (the last one may be cut short)
        assert all(any(word.startswith(w) for word in probes.neutral_text.split()) for w in added), probe.id
        if item.response in edited:  # at the same place, with the probe's own separators
            assert control.index(item.response) == edited.index(item.response), probe.id
    assert length_control("Paris.", "You asked: x?\n\nParis.", "a b") == "a b a b a b a\n\nParis."


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
    from constitution.pipeline.report import audit_section, read_audit

    assert read_audit(tmp_path) is None and audit_section(None) == []
    report = AuditReport.model_validate(
        {"model": "m", "items": 3, "probes": [{"probe": "emoji", "description": "d", "expect": "no_raise", "items": 3,
         "change": {"mean": 0.4, "ci_low": 0.2, "ci_high": 0.6}, "share_raised": 1.0, "flagged": True}]}
    )  # fmt: skip
    write_audit(report, tmp_path / "audit")
    lines = audit_section(read_audit(tmp_path))
    assert lines[0] == "## Reward audit" and "flagged: emoji" in lines[2]
    assert any(line.startswith("| emoji | not raise | 3 | +0.400 [+0.200, +0.600] |  | original | 100% | **raises the reward**") for line in lines)
