"""Where lambdaform's own files live: templates, blueprint handlers and example service files.

In a source checkout they are the repository's top-level ``templates/``, ``handlers/`` and ``examples/``
folders (the layout the project is developed in). In a built wheel or sdist install they are package data
under ``lambdaform/_data/``, copied there at build time (see ``setup.py``), and read through
:mod:`importlib.resources`. Everything that needs one of them asks this module, so there is one answer.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("templates", "handlers", "examples")
"""The folders mapped into the package as ``lambdaform/_data/<folder>`` at build time."""


@lru_cache(maxsize=1)
def root() -> Path:
    """The folder holding ``templates/``, ``handlers/`` and ``examples/``."""
    packaged = Path(str(resources.files("lambdaform") / "_data"))
    if (packaged / "templates").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "templates").is_dir():
        return checkout
    raise FileNotFoundError(f"lambdaform's templates are missing (looked in {packaged} and {checkout}); "
                            "reinstall lambdaform")


def templates() -> Path:
    return root() / "templates"


def handlers() -> Path:
    return root() / "handlers"


def examples() -> Path:
    return root() / "examples"


def kit() -> Path:
    """The folder holding the ``lambdaform_kit`` package copied into every package that imports it."""
    return handlers() / "_kit"
