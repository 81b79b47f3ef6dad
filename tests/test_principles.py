"""Principle schema and loader: the shipped constitution, malformed files (exact lines), hashes, sampling."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from constitution.errors import InputErrors
from constitution.loader import load_constitution
from constitution.principles import Constitution, weighted_draw
from constitution.resources import default_principles

BAD = Path(__file__).parent / "fixtures" / "bad_principles"


def _expectations(path: Path) -> tuple[str, int, str]:
    header = (path / "expect.txt" if path.is_dir() else path).read_text().splitlines()
    fields = dict(re.match(r"# expect(-line|-file)?: (.*)", line).groups() for line in header if line.startswith("# expect"))
    target = path / fields["-file"] if path.is_dir() else path
    return str(target), int(fields["-line"]), fields[None]


BAD_CASES = sorted(p for p in BAD.iterdir() if p.suffix == ".yaml" or p.is_dir())


def test_there_are_at_least_ten_distinct_bad_cases():
    assert len(BAD_CASES) >= 10


@pytest.mark.reliability
@pytest.mark.parametrize("case", BAD_CASES, ids=lambda p: p.stem)
def test_malformed_file_reports_exact_line(case: Path):
    target, line, message = _expectations(case)
    with pytest.raises(InputErrors) as info:
        load_constitution(case)
    reported = [str(e) for e in info.value.errors]
    assert any(r.startswith(f"{target}:{line}: ") and message in r for r in reported), reported


def test_shipped_constitution_is_valid_and_complete():
    c = load_constitution(default_principles())
    harmless = [p for p in c.principles if p.set_id == "harmlessness"]
    assert len(harmless) >= 16
    assert {p.set_id for p in c.principles} == {"harmlessness", "helpfulness"}
    assert c.safety_policy is not None and len(c.safety_policy.categories) >= 12
    # weights compose: set weight x principle weight
    assert c.principle("harmless-and-helpful").weight == pytest.approx(2.0)
    assert c.principle("accurate").weight == pytest.approx(0.5)


def _copy_principles(tmp_path: Path) -> Path:
    dst = tmp_path / "principles"
    shutil.copytree(default_principles(), dst)
    return dst


def test_hashes_are_stable_and_change_only_with_content(tmp_path: Path):
    folder = _copy_principles(tmp_path)
    first = load_constitution(folder)
    again = load_constitution(folder)
    assert first.hash == again.hash
    assert [p.hash for p in first.principles] == [p.hash for p in again.principles]

    harmless = folder / "harmlessness.yaml"
    harmless.write_text(harmless.read_text().replace("less likely to cause harm", "less likely to hurt"))
    edited = load_constitution(folder)
    changed = [a.id for a, b in zip(first.principles, edited.principles) if a.hash != b.hash]
    assert changed == ["least-harmful"]
    assert edited.hash != first.hash

    # comments and key order do not change any hash; a weight changes the constitution hash only
    harmless.write_text("# a new comment\n" + harmless.read_text().replace("weight: 2.0", "weight: 3.0"))
    reweighted = load_constitution(folder)
    assert [p.hash for p in reweighted.principles] == [p.hash for p in edited.principles]
    assert reweighted.hash != edited.hash


def _weighted(folder: Path, weights: dict[str, float], sampling: str) -> Constitution:
    folder.mkdir(exist_ok=True)
    (folder / "s.yaml").write_text("kind: principle_set\nid: s\nprinciples:\n" + "".join(
        f"  - id: {pid}\n    text: Which response is more {pid}?\n    weight: {w}\n" for pid, w in weights.items()
    ))  # fmt: skip
    (folder / "constitution.yaml").write_text(f"kind: constitution\nid: c\nsets: [{{id: s}}]\nsampling: {sampling}\n")
    return load_constitution(folder)


PAIRS = [f"pair-{i}" for i in range(3000)]


def _plans(c: Constitution) -> dict[str, set[str]]:
    return {h: {p.id for p in c.plan(h)} for h in PAIRS}


def test_rule_one_draws_by_weight_and_zeroing_re_draws_exactly_the_pairs_that_had_it(tmp_path: Path):
    weights = {"a": 3.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.0}
    c = _weighted(tmp_path / "p", weights, "{rule: one, seed: 0}")
    plans = _plans(c)
    assert plans == _plans(c) and all(len(p) == 1 for p in plans.values())
    counts = Counter(next(iter(p)) for p in plans.values())
    assert "e" not in counts and counts["a"] / len(PAIRS) == pytest.approx(3 / 6, abs=0.03)  # a weight's share
    assert counts["b"] / len(PAIRS) == pytest.approx(1 / 6, abs=0.03)
    second = {h: weighted_draw(c.principles, 2, 0, h)[1].id for h in PAIRS}
    zeroed = _plans(_weighted(tmp_path / "p", {**weights, "a": 0.0}, "{rule: one, seed: 0}"))
    had = {h for h, p in plans.items() if p == {"a"}}
    assert {h for h in PAIRS if zeroed[h] != plans[h]} == had  # the fallback: only these are re-drawn …
    assert all(zeroed[h] == {second[h]} for h in had)  # … each to the next principle of its own draw
    assert _plans(_weighted(tmp_path / "p", weights, "{rule: one, seed: 1}")) != plans


def test_k_of_k_weight_edits_move_only_the_edited_principle(tmp_path: Path):
    weights = {"a": 2.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 1.0}
    plans = _plans(_weighted(tmp_path / "p", weights, "{rule: k, k: 2}"))
    assert all(len(p) == 2 for p in plans.values())
    zeroed = _plans(_weighted(tmp_path / "p", {**weights, "b": 0.0}, "{rule: k, k: 2}"))
    moved = {h for h in PAIRS if zeroed[h] != plans[h]}
    assert moved == {h for h, p in plans.items() if "b" in p}
    assert all(plans[h] - zeroed[h] == {"b"} and len(zeroed[h] - plans[h]) == 1 for h in moved)
    raised = _plans(_weighted(tmp_path / "p", {**weights, "c": 4.0}, "{rule: k, k: 2}"))
    entered = {h for h in PAIRS if raised[h] != plans[h]}
    assert entered == {h for h in PAIRS if "c" in raised[h] and "c" not in plans[h]}  # c only enters, one leaves
    assert all(len(plans[h] - raised[h]) == 1 for h in entered) and 0.2 < len(entered) / len(PAIRS) < 0.5
    every = _weighted(tmp_path / "p", {**weights, "b": 0.0}, "{rule: all}")
    assert [p.id for p in every.plan("x")] == ["a", "c", "d", "e"]


def test_folder_without_constitution_uses_every_set(tmp_path: Path):
    folder = _copy_principles(tmp_path)
    (folder / "constitution.yaml").unlink()
    c = load_constitution(folder)
    assert c.sampling.rule == "all"
    assert len(c.plan("x")) == len(c.principles)
    assert c.safety_policy is not None


def test_user_template_file_overrides_and_is_hashed(tmp_path: Path):
    folder = _copy_principles(tmp_path)
    (folder / "templates").mkdir()
    (folder / "templates" / "terse.j2").write_text("{{ conversation }}\n(A) {{ response_a }}\n(B) {{ response_b }}\n{{ principle }}")
    spec = folder / "constitution.yaml"
    before = load_constitution(folder).hash
    spec.write_text(spec.read_text().replace("comparison: cai_comparison", "comparison: terse"))
    c = load_constitution(folder)
    assert c.templates["terse"].trusted is False
    assert c.hash != before


@pytest.mark.reliability
def test_escape_in_template_file_names_the_file(tmp_path: Path):
    folder = _copy_principles(tmp_path)
    (folder / "templates").mkdir()
    (folder / "templates" / "evil.j2").write_text("{{ principle }}\n{{ cycler.__init__.__globals__ }}")
    spec = folder / "constitution.yaml"
    spec.write_text(spec.read_text().replace("comparison: cai_comparison", "comparison: evil"))
    with pytest.raises(InputErrors) as info:
        load_constitution(folder)
    assert any("evil.j2" in str(e) and "sandbox" in str(e) for e in info.value.errors)
