"""Packages the top-level ``principles/`` (the one editable copy of the default constitution) into the wheel, as
``constitution/resources/principles/``; everything else is in pyproject.toml. An editable install and a checkout
read ``principles/`` where it is (``constitution.resources.default_principles``)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PRINCIPLES = Path(__file__).resolve().parent / "principles"


class BuildPyWithPrinciples(build_py):
    """``build_py``, then a copy of ``principles/*.yaml`` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        files = sorted(PRINCIPLES.glob("*.yaml"))
        if not files:
            raise FileNotFoundError(f"no principles to package in {PRINCIPLES}")
        target = Path(self.build_lib) / "constitution" / "resources" / "principles"
        self.mkpath(str(target))
        for source in files:
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithPrinciples})
