"""Data shipped with the package: the default constitution (principles YAML), the demo prompts and the reward audit's default probes.

The default constitution's one editable copy is the repository's top-level ``principles/``; building the wheel copies
it into the package (``setup.py``). ``constitution init DIR`` copies it out for editing; which constitution a command
or the pipeline uses when none is named is decided by :func:`constitution.sources.find_constitution`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def _packaged(name: str) -> Path:
    path = Path(str(resources.files("constitution.resources") / name))
    if not path.exists():
        raise FileNotFoundError(f"the package data {name!r} is missing from this installation ({path})")
    return path


def default_principles() -> Path:
    """The folder of the default constitution: the copy inside an installed wheel, else (a source checkout or an
    editable install) the checkout's top-level ``principles/``."""
    packaged = Path(str(resources.files("constitution.resources") / "principles"))
    if packaged.is_dir():
        return packaged
    checkout = CHECKOUT / "principles"
    if checkout.is_dir() and (CHECKOUT / "pyproject.toml").is_file():
        return checkout
    raise FileNotFoundError(f"the default constitution is missing from this installation (neither {packaged} nor {checkout})")


def demo_prompts() -> Path:
    """The embedded demo's prompts (benign, borderline-but-fine and clearly harmful), one JSON object a line."""
    return _packaged("demo_prompts.jsonl")


def default_audit_probes() -> Path:
    """The probes ``constitution audit`` runs unless given ``--probes`` (copy it out to edit)."""
    return _packaged("audit_probes.yaml")
