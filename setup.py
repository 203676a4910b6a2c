"""Build step: map the repository's top-level data folders into the package.

The repository keeps ``templates/``, ``handlers/`` (blueprint handler code and the handler kit) and
``examples/`` (blueprint service files) at its root, where users and contributors expect them. A wheel has
no such root, so ``build_py`` copies them to ``lambdaform/_data/`` in the build, where
:mod:`lambdaform.resources` finds them through ``importlib.resources``. Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("templates", "handlers", "examples")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".lambdaform", "cdktf.out", ".pytest_cache")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders directly
            return
        target = Path(self.build_lib) / "lambdaform" / "_data"
        shutil.rmtree(target, ignore_errors=True)
        for name in DATA_FOLDERS:
            shutil.copytree(HERE / name, target / name, ignore=IGNORED, symlinks=False)


setup(cmdclass={"build_py": BuildWithData})
