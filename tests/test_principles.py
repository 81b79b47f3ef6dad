"""Principle schema and loader: the shipped constitution, malformed files (exact lines), hashes, sampling."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from constitution.errors import InputErrors
from constitution.loader import load_constitution
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


def test_sampling_rules(tmp_path: Path):
    folder = _copy_principles(tmp_path)
    spec = folder / "constitution.yaml"
    c = load_constitution(folder)
    plan = c.plan("pairhash1")
    assert len(plan) == 4 and plan == c.plan("pairhash1")
    assert any(c.plan(f"p{i}") != plan for i in range(5)), "different pairs should draw different principles"

    spec.write_text(spec.read_text().replace("rule: k", "rule: one"))
    assert len(load_constitution(folder).plan("x")) == 1
    spec.write_text(spec.read_text().replace("rule: one", "rule: all"))
    assert len(load_constitution(folder).plan("x")) == len(c.principles)


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
