"""The command line is light (commands that need no model import no torch, transformers or vLLM) and the package
works installed from its wheel, outside the checkout (principles and demo prompts are package data)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from tests.helpers.paths import ROOT

HEAVY = ("torch", "transformers", "vllm")
PROBE = """
import sys
from constitution.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("HEAVY", sorted(m for m in {heavy!r} if m in sys.modules), "CODE", code)
"""


def _pairs(folder: Path) -> Path:
    path = folder / "pairs.jsonl"
    rows = [{"prompt": "How do I boil an egg?", "response_a": "Eight minutes.", "response_b": "No."},
            {"prompt": "Name a color.", "response_a": "Blue.", "response_b": "I will not."}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "args",
    [["--help"], ["label", "--help"], ["validate"], ["init", "{tmp}/mine"],
     ["render", "--pairs", "{pairs}", "--principle", "clear", "--tokenizer", "none"]],  # fmt: skip
    ids=["help", "label-help", "validate", "init", "render-no-tokenizer"],
)
def test_commands_that_need_no_model_import_no_torch(tmp_path: Path, args: list[str]):
    argv = [a.format(tmp=tmp_path, pairs=_pairs(tmp_path)) for a in args]
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    line = done.stdout.strip().splitlines()[-1]
    assert line in ("HEAVY [] CODE 0", "HEAVY [] CODE None"), (line, done.stderr[-2000:])


def test_init_copies_the_default_constitution_for_editing(tmp_path: Path):
    from constitution.cli import main

    assert main(["init", str(tmp_path / "principles")]) == 0
    assert sorted(p.name for p in (tmp_path / "principles").iterdir()) == [
        "constitution.yaml", "harmlessness.yaml", "helpfulness.yaml", "safety_policy.yaml", "steps.yaml",
    ]  # fmt: skip
    assert main(["init", str(tmp_path / "principles")]) == 2  # never overwrites edits unasked
    spec = tmp_path / "principles" / "helpfulness.yaml"
    spec.write_text(spec.read_text().replace("Which response is clearer", "Which response is plainer"))
    assert main(["validate", str(tmp_path / "principles")]) == 0


def _clean_checkout(folder: Path) -> Path:
    """The files git knows (tracked, and new files not ignored), as they are in the working tree: what a clone has."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    return folder


def test_the_checkout_keeps_one_copy_of_the_default_constitution():
    """principles/ at the top is the editable source; nothing under constitution/ duplicates it in git."""
    from constitution.resources import default_principles

    assert default_principles() == ROOT / "principles"
    tracked = subprocess.run(["git", "ls-files", "constitution"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    principle_files = {path.name for path in (ROOT / "principles").glob("*.yaml")}
    assert principle_files and not [name for name in tracked if Path(name).name in principle_files]


@pytest.mark.slow
def test_the_wheel_works_installed_outside_the_checkout(tmp_path: Path):
    """Build the wheel from a clean checkout, install it (no deps) into a fresh venv that borrows this venv's
    packages, and run init, validate, label --help and a tiny labeling run from a folder outside the checkout."""
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    source = _clean_checkout(tmp_path / "source")  # build from a copy: the build leaves nothing in the checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)], check=True, timeout=600)
    (wheel,) = dist.glob("constitution-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = sorted(n for n in archive.namelist() if n.startswith("constitution/resources/principles/"))
        assert {"constitution/resources/audit_probes.yaml", "constitution/resources/demo_prompts.jsonl"} <= set(archive.namelist())
    assert packaged == [f"constitution/resources/principles/{f.name}" for f in sorted((ROOT / "principles").glob("*.yaml"))]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True, timeout=300)

    env = {"OMP_NUM_THREADS": "1", "HOME": str(Path.home()), "PATH": "/usr/bin:/bin"}  # no PYTHONPATH: the wheel alone

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "constitution", *args], cwd=work, capture_output=True, text=True, timeout=900, env=env)

    where = subprocess.run([str(python), "-c", "import constitution; print(constitution.__file__)"], cwd=work, capture_output=True, text=True, check=True, env=env).stdout
    assert where.startswith(str(site)), where
    validated = cli("validate")  # no ./principles here: the packaged constitution, said on stderr
    assert validated.returncode == 0 and "24 principles" in validated.stdout and str(site) in validated.stderr, validated.stderr
    assert cli("init").returncode == 0 and sorted(p.name for p in (work / "principles").iterdir()) == [n.rsplit("/", 1)[1] for n in packaged]
    edited = work / "principles" / "helpfulness.yaml"
    edited.write_text(edited.read_text().replace("Which response is clearer", "Which response is plainer"))
    validated = cli("validate")  # now ./principles, the edited copy
    assert validated.returncode == 0 and "24 principles" in validated.stdout and not validated.stderr, validated.stderr
    assert cli("label", "--help").returncode == 0
    rendered = cli("render", "--pairs", str(_pairs(work)), "--principle", "clear", "--tokenizer", "none")
    assert rendered.returncode == 0 and "Question: Which response is plainer" in rendered.stdout, rendered.stderr
    labelled = cli("label", str(_pairs(work)), "--out", "out", "--backend", "hf", "--dtype", "float32", "--limit", "1", "--no-progress")
    assert labelled.returncode == 0, labelled.stderr[-3000:]
    (record,) = [json.loads(line) for line in (work / "out" / "labels.jsonl").read_text().splitlines()]
    assert 0 < record["p_a"] < 1 and len(record["per_principle"]) == 4
