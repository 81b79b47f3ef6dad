"""Data shipped inside the package: the default constitution (principles YAML), the demo prompts and the reward
audit's default probes.

``constitution init DIR`` copies the principles out for editing; commands fall back to these when no
``--constitution`` is given and there is no ``principles/`` folder in the working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _packaged(name: str) -> Path:
    path = Path(str(resources.files("constitution.resources") / name))
    if not path.exists():
        raise FileNotFoundError(f"the package data {name!r} is missing from this installation ({path})")
    return path


def default_principles() -> Path:
    """The folder of the default constitution shipped with the package."""
    return _packaged("principles")


def demo_prompts() -> Path:
    """The embedded demo's prompts (benign, borderline-but-fine and clearly harmful), one JSON object a line."""
    return _packaged("demo_prompts.jsonl")


def default_audit_probes() -> Path:
    """The probes ``constitution audit`` runs unless given ``--probes`` (copy it out to edit)."""
    return _packaged("audit_probes.yaml")
