"""The README's Architecture table is the import-linter layers contract of pyproject.toml: one row per layer, in the
same order, naming the same modules (both are read at test time, so a renamed or moved module fails here until the
README follows)."""

from __future__ import annotations

import re
import tomllib

from tests.helpers.paths import ROOT


def contract_layers(pyproject: str) -> list[set[str]]:
    """The modules of each layer of the layers contract, top first, without the ``constitution.`` prefix."""
    contracts = tomllib.loads(pyproject)["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers" and "containers" not in c]
    return [{name.strip().removeprefix("constitution.") for name in re.split(r"[|:]", layer)} for layer in layers]


def readme_layers(readme: str) -> list[set[str]]:
    """The modules of each row of the Architecture section's table (its first code block), top first: every word
    after the row's label, parenthesised remarks dropped, a package's trailing slash too."""
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    table = re.search(r"```\n(.*?)```", section, re.S).group(1)
    rows = []
    for line in table.splitlines():
        words = re.sub(r"\([^)]*\)", " ", line).split()
        if words:
            rows.append({w.rstrip("/") for w in words[1:]})
    return rows


def test_the_readme_architecture_is_the_layers_contract():
    contract = contract_layers((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    readme = readme_layers((ROOT / "README.md").read_text(encoding="utf-8"))
    assert readme == contract, "README.md's Architecture table and pyproject.toml's layers contract disagree"


def test_a_module_on_another_floor_is_a_disagreement():
    """The check itself: moving one module to another row, or dropping a row, is caught."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    contract = contract_layers((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    moved = readme.replace("  diff/  ", "  ", 1).replace("capabilities  rl", "capabilities  diff/  rl", 1)
    assert readme_layers(moved) != contract
    dropped = re.sub(r"\nrevision .*", "", readme, count=1)
    assert readme_layers(dropped) != contract
