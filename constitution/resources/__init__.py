"""Data shipped inside the package: the default constitution (principles YAML) and the demo prompts.

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
