"""What changed in the constitution itself, and versions named as git revisions (in a repository the test makes)."""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
from pathlib import Path

import pytest

from constitution.diff import diff_constitutions
from constitution.diff.report import spec_lines
from constitution.errors import InputErrors
from constitution.loader import load_constitution
from constitution.resources import default_principles
from constitution.sources import load_version


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1))


def test_every_kind_of_change_is_named(tmp_path: Path):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(default_principles(), old)
    shutil.copytree(default_principles(), new)
    for folder in (old, new):  # a user template, used by `privacy` on both sides, then reworded in the new one
        (folder / "templates").mkdir()
        shutil.copy(Path(str(importlib.resources.files("constitution") / "templates" / "cai_comparison.j2")), folder / "templates" / "custom.j2")
        _edit(folder, "harmlessness.yaml", "  - id: privacy\n", "  - id: privacy\n    template: custom\n")
    _edit(new / "templates", "custom.j2", "Answer with (A) or (B) only.", "Answer with (A) or (B), nothing else.")
    _edit(new, "harmlessness.yaml", "text: Which response is less likely to cause harm", "text: Which response is least likely to cause harm")
    _edit(new, "harmlessness.yaml", "  - id: non-toxic\n", "  - id: non-toxic\n    weight: 2\n")
    _edit(new, "harmlessness.yaml", "  - id: lawful\n", "  - id: lawful\n    template: principle_first_comparison\n")
    _edit(new, "helpfulness.yaml", "  - id: concise\n", "  - id: concise-v2\n")  # a rename: one removed, one added
    _edit(new, "constitution.yaml", "  - id: helpfulness\n    weight: 0.5", "  - id: helpfulness\n    weight: 1.0")
    _edit(new, "constitution.yaml", "k: 4", "k: 3")
    _edit(new, "constitution.yaml", "comparison: cai_comparison", "comparison: principle_first_comparison")
    _edit(new, "safety_policy.yaml", "name: Defamation", "name: Defamation and libel")
    before, after = load_constitution(old), load_constitution(new)
    spec = diff_constitutions(before, after)

    edits = {e.id: e for e in spec.principles}
    assert edits["least-harmful"].changes == ["reworded"] and edits["least-harmful"].rejudged
    assert edits["least-harmful"].text_new.startswith("Which response is least likely")
    assert (edits["non-toxic"].changes, edits["non-toxic"].weight_old, edits["non-toxic"].weight_new) == (["reweighted"], 1.0, 2.0)
    assert not edits["non-toxic"].rejudged
    assert (edits["lawful"].changes, edits["lawful"].template_new) == (["template"], "principle_first_comparison")
    assert edits["concise-v2"].changes == ["added"] and edits["concise"].changes == ["removed"]
    helpfulness = {p.id for p in after.principles if p.set_id == "helpfulness"} - {"concise-v2"}
    assert all(edits[pid].changes == ["reweighted"] and edits[pid].weight_new == 2 * edits[pid].weight_old for pid in helpfulness)
    assert len(spec.principles) == 3 + 2 + len(helpfulness)
    assert spec.sampling.old["k"] == 4 and spec.sampling.new["k"] == 3
    assert [t.what for t in spec.templates] == ["templates.comparison", "template custom (source)"]
    assert (spec.templates[0].old, spec.templates[0].new) == ("cai_comparison", "principle_first_comparison")
    assert "privacy" not in edits  # its template's source changed: the template is named, the principle is not edited
    [category] = spec.safety_policy
    assert category.what == "safety category S5" and category.new["name"] == "Defamation and libel"
    lines = dict(spec_lines(spec))
    assert "non-toxic: reweighted; weight 1 → 2" in lines  # weights re-ensemble cached judgments: nothing judged anew
    assert lines["least-harmful: reworded; weight 1 (judged anew)"] == [f"before: {edits['least-harmful'].text_old}", f"after: {edits['least-harmful'].text_new}"]

    same = diff_constitutions(before, load_constitution(old))
    assert same.unchanged and spec_lines(same) == [("no change (same constitution hash)", [])]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository with two commits of principles/: the second rewords `least-harmful` and breaks nothing."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(default_principles(), repo / "principles")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    _edit(repo / "principles", "harmlessness.yaml", "less likely to cause harm", "least likely to cause harm")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "v2")
    return repo


def test_a_git_revision_is_the_constitution_as_committed(repo: Path):
    v1 = load_version("HEAD~1:principles", cwd=repo)
    assert v1.hash == load_constitution(default_principles()).hash
    v2 = load_version("HEAD:principles", cwd=repo)
    assert v2.hash == load_version("principles", cwd=repo).hash != v1.hash
    [edit] = diff_constitutions(v1, v2).principles
    assert edit.id == "least-harmful" and edit.changes == ["reworded"]
    one_file = load_version("HEAD~1:principles/harmlessness.yaml", cwd=repo)  # a single file: its set alone
    assert {p.id for p in one_file.principles} == {p.id for p in v1.principles if p.set_id == "harmlessness"}


def test_a_bad_git_revision_names_the_revision_file_and_line(repo: Path):
    _edit(repo / "principles", "helpfulness.yaml", "  - id: concise\n", "  - id: concise\n    weight: -1\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "broken")
    with pytest.raises(InputErrors) as err:
        load_version("HEAD:principles", cwd=repo)
    weight, missing_set = [str(e) for e in err.value.errors]  # the invalid set is then missing from the constitution
    line = (repo / "principles" / "helpfulness.yaml").read_text().splitlines().index("    weight: -1") + 1
    assert weight.startswith(f"HEAD:principles/helpfulness.yaml:{line}: ") and "greater than or equal to 0" in weight
    assert missing_set.startswith("HEAD:principles/constitution.yaml:") and "no principle set 'helpfulness'" in missing_set
    with pytest.raises(InputErrors, match="HEAD~7:principles: not a file or folder, nor a git REV:PATH"):
        load_version("HEAD~7:principles", cwd=repo)
