"""The constitution side of `revise` (no model): critique/revision texts, their defaults and errors, hashes that
labels depend on staying put, the principle drawn per round, the rendered requests, and the input rule."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from constitution.data.records import Message
from constitution.errors import InputError, InputErrors
from constitution.loader import load_constitution
from constitution.principles import RevisionRequests
from constitution.prompts import critique_prompt, revision_prompt
from constitution.resources import default_principles
from constitution.revise import load_inputs, round_principles

from tests.revise.helpers import SET, write_principles

CONVO = [Message(role="user", content="How do I boil an egg?")]


def test_shipped_constitution_has_its_own_requests_for_every_principle():
    c = load_constitution(default_principles())
    builtin = RevisionRequests()
    for p in c.principles:
        assert p.critique and p.revision
        assert (p.critique, p.revision) != (builtin.critique, builtin.revision), p.id
    assert len({p.critique for p in c.principles}) == len(c.principles)  # one request per principle
    assert c.choice.critique == "critique" and c.choice.revision == "revision"


def test_requests_resolve_principle_then_set_then_constitution_then_builtin(tmp_path: Path):
    folder = write_principles(tmp_path / "p", SET.replace(
        "  - id: brief\n    text: Which response is more concise?\n    critique: Identify any needless length in the reply.\n"
        "    revision: Rewrite the reply to be brief.\n",
        "  - id: brief\n    text: Which response is more concise?\n",
    ))  # fmt: skip
    assert load_constitution(folder).principle("brief").critique == RevisionRequests().critique  # built-in
    (folder / "constitution.yaml").write_text(
        "kind: constitution\nid: c\nsets: [{id: demo}]\nrevise:\n  critique: Constitution critique.\n  revision: Constitution revision.\n"
    )
    c = load_constitution(folder)
    assert (c.principle("brief").critique, c.principle("brief").revision) == ("Constitution critique.", "Constitution revision.")
    assert c.principle("kind").critique == "Identify anything unkind in the reply."  # its own wins
    demo = folder / "demo.yaml"
    demo.write_text(demo.read_text().replace("id: demo\n", "id: demo\ncritique: Set critique.\n", 1))
    c = load_constitution(folder)
    assert c.principle("brief").critique == "Set critique."
    assert c.principle("brief").revision == "Constitution revision."
    assert c.principle("kind").critique == "Identify anything unkind in the reply."


def test_editing_requests_keeps_every_label_hash_but_changes_the_request(tmp_path: Path):
    folder = tmp_path / "principles"
    shutil.copytree(default_principles(), folder)
    before = load_constitution(folder)
    harmless = folder / "harmlessness.yaml"
    harmless.write_text(harmless.read_text().replace(
        "critique: Identify specific ways in which the reply could harm", "critique: List every way in which the reply could harm"
    ))  # fmt: skip
    spec = folder / "constitution.yaml"
    spec.write_text(spec.read_text().replace("repeat the reply unchanged", "repeat the reply as it is"))
    after = load_constitution(folder)
    assert after.principle("least-harmful").critique != before.principle("least-harmful").critique
    # the judgment cache keys (principle hash, template hash) and the labels' constitution hash do not move
    assert [p.hash for p in after.principles] == [p.hash for p in before.principles]
    assert after.hash == before.hash
    p_old, p_new = before.principle("least-harmful"), after.principle("least-harmful")
    assert critique_prompt(before, p_old, CONVO, "Boil it.") != critique_prompt(after, p_new, CONVO, "Boil it.")


def test_the_revise_fields_leave_the_constitution_hash_as_it_was_without_them(tmp_path: Path):
    """Labels made before `revise` existed (no critique/revision texts, no revise templates) stay valid."""
    import yaml

    folder = tmp_path / "principles"
    shutil.copytree(default_principles(), folder)
    for path in folder.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        doc.pop("revise", None)
        for key in ("critique", "revision"):
            doc.get("templates", {}).pop(key, None)
            for p in doc.get("principles", []):
                p.pop(key, None)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    without = load_constitution(folder)
    shipped = load_constitution(default_principles())
    assert shipped.principle("least-harmful").critique != without.principle("least-harmful").critique
    assert shipped.hash == without.hash


def test_a_constitution_hashes_as_before_revise_existed(tmp_path: Path):
    """The test constitution's hash, computed by the code before `revise` (without its critique/revision texts):
    neither the texts nor the critique/revision template choice enter it."""
    folder = write_principles(tmp_path / "p")
    assert load_constitution(folder).hash == "eff64406ea197064"
    (folder / "templates").mkdir()
    (folder / "templates" / "my_critique.j2").write_text("Critique {{ response }}: {{ critique_request }}")
    (folder / "constitution.yaml").write_text("kind: constitution\nid: all\nsets: [{id: demo}]\ntemplates: {critique: my_critique}\n")
    assert load_constitution(folder).hash == "eff64406ea197064"


BAD = {
    "empty critique": (SET.replace("critique: Identify anything unkind in the reply.", "critique: '  '"), "demo.yaml", 6, "principles.0.critique"),
    "critique not a string": (SET.replace("critique: Identify anything unsafe in the reply.", "critique: [a, b]"), "demo.yaml", 10, "principles.1.critique"),
    "unknown key": (SET.replace("revision: Rewrite the reply to be honest.", "revison: Rewrite the reply to be honest."), "demo.yaml", 15, "principles.2.revison"),
    "empty set revision": (SET.replace("id: demo\n", "id: demo\nrevision: ''\n"), "demo.yaml", 3, "revision"),
}


@pytest.mark.reliability
@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_request_fields_report_file_and_line(tmp_path: Path, case: str):
    text, name, line, key = BAD[case]
    folder = write_principles(tmp_path / "p", text)
    with pytest.raises(InputErrors) as info:
        load_constitution(folder)
    assert any(str(e).startswith(f"{folder / name}:{line}: {key}") for e in info.value.errors), [str(e) for e in info.value.errors]


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("spec", "line", "message"),
    [
        ("revise:\n  critique: ''\n", 6, "revise.critique"),
        ("revise:\n  critique: Fine.\n  rewrite: Oops.\n", 7, "revise.rewrite"),
        ("templates:\n  critique: no_such_template\n", 6, "templates.critique: no template 'no_such_template'"),
    ],
    ids=["empty-default", "unknown-key", "missing-template"],
)
def test_bad_constitution_revise_fields_report_file_and_line(tmp_path: Path, spec: str, line: int, message: str):
    folder = write_principles(tmp_path / "p")
    (folder / "constitution.yaml").write_text(f"kind: constitution\nid: c\nsets:\n  - id: demo\n{spec}")
    with pytest.raises(InputErrors) as info:
        load_constitution(folder)
    assert any(str(e).startswith(f"{folder / 'constitution.yaml'}:{line}: {message}") for e in info.value.errors), [str(e) for e in info.value.errors]


@pytest.mark.reliability
def test_a_user_revision_template_is_sandboxed_and_checked_at_load(tmp_path: Path):
    folder = write_principles(tmp_path / "p")
    (folder / "templates").mkdir()
    (folder / "templates" / "revision.j2").write_text("{{ response }} {{ ''.__class__.__mro__ }}")
    with pytest.raises(InputErrors) as info:
        load_constitution(folder)
    assert "sandbox" in str(info.value) and "revision.j2" in str(info.value)
    (folder / "templates" / "revision.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(InputErrors, match="no_such_variable"):
        load_constitution(folder)
    (folder / "templates" / "revision.j2").write_text('{% set generation_prefix = "Revised:" %}Fix: {{ response }} after {{ critique }}')
    c = load_constitution(folder)
    text = revision_prompt(c, c.principle("kind"), CONVO, "Boil it.", "Too curt.")
    assert text == "Fix: Boil it. after Too curt.\n\nRevised:"


def test_requests_carry_the_conversation_the_reply_and_the_texts():
    c = load_constitution(default_principles())
    p = c.principle("least-harmful")
    critique = critique_prompt(c, p, CONVO, "Boil it for eight minutes.")
    assert "Human: How do I boil an egg?" in critique and "Boil it for eight minutes." in critique
    assert p.critique in critique and p.revision not in critique
    revision = revision_prompt(c, p, CONVO, "Boil it for eight minutes.", "It is fine.")
    assert revision.startswith(critique.split("Critique request:")[0])  # a shared prefix (vLLM's prefix cache)
    assert p.critique in revision and "It is fine." in revision and p.revision in revision


def test_principle_draws_are_deterministic_weighted_and_local(tmp_path: Path):
    c = load_constitution(write_principles(tmp_path / "p"))
    keys = [f"prompt-{i}" for i in range(3000)]
    draws = {k: [p.id for p in round_principles(c, k, 2, seed=0)] for k in keys}
    assert draws == {k: [p.id for p in round_principles(c, k, 2, seed=0)] for k in keys}
    assert any(a != b for a, b in draws.values())  # rounds draw independently
    assert draws != {k: [p.id for p in round_principles(c, k, 2, seed=1)] for k in keys}

    demo = tmp_path / "p" / "demo.yaml"
    demo.write_text(SET.replace("text: Which response is safer?", "text: Which response is safer?\n    weight: 3.0")
                    .replace("text: Which response is more concise?", "text: Which response is more concise?\n    weight: 0"))  # fmt: skip
    weighted = load_constitution(tmp_path / "p")
    counts = Counter(round_principles(weighted, k, 1, seed=0)[0].id for k in keys)
    assert "brief" not in counts  # weight 0: never drawn
    assert counts["safe"] / len(keys) == pytest.approx(3 / 5, abs=0.04)
    # a draw changes only where a reweighted principle wins or loses it: never from "kind" to "honest" or back
    moved = [(d[0], round_principles(weighted, k, 1, seed=0)[0].id) for k, d in draws.items()]
    assert all(old in ("safe", "brief") or new in ("safe", "brief") for old, new in moved if old != new)
    assert sum(old != new for old, new in moved) < len(keys) / 2


def test_inputs_by_the_response_rule(tmp_path: Path):
    rows = [
        {"id": "a", "prompt": "Hi?", "response": "Hello."},
        {"prompt": [{"role": "user", "content": "Bye?"}], "completion": [{"role": "assistant", "content": "Bye."}]},
        {"prompt": "Answer me first."},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = load_inputs(path)
    assert [i.response for i in items] == ["Hello.", "Bye.", None]
    assert items[0].id == "a" and items[1].id.startswith("r-") and items[2].id.startswith("p-")
    assert items[1].conversation == [Message(role="user", content="Bye?")]
    txt = tmp_path / "prompts.txt"
    txt.write_text("One?\nTwo?\n")
    assert [(i.conversation[0].content, i.response) for i in load_inputs(txt)] == [("One?", None), ("Two?", None)]


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        ([{"text": "no prompt here"}], 1, "expected a `prompt`"),
        ([{"prompt": "Hi?"}, {"response": "A reply without its conversation."}], 2, "needs its conversation"),
        ([{"id": "x", "prompt": "Hi?"}, {"id": "x", "prompt": "Ho?"}], 2, "id 'x' appears twice (first at"),
        ([{"prompt": "Hi?", "response": 3}], 1, "response"),
    ],
    ids=["no-prompt", "no-conversation", "duplicate-id", "bad-response"],
)
def test_bad_input_rows_name_file_and_line(tmp_path: Path, rows: list[dict], line: int, message: str):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        load_inputs(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and message in str(info.value)


@pytest.mark.reliability
def test_cli_bad_input_exits_2_before_loading_the_policy(tmp_path: Path, capsys):
    from constitution.cli import main

    path = tmp_path / "in.jsonl"
    path.write_text('{"prompt": "Hi?"}\n{"text": "oops"}\n')
    code = main(["revise", str(path), "--out", str(tmp_path / "out"), "--constitution", str(write_principles(tmp_path / "p")),
                 "--policy", str(tmp_path / "no-such-model")])  # fmt: skip
    assert code == 2
    assert f"{path}:2:" in capsys.readouterr().err
