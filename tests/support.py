"""Helpers shared by the tests: synthesize service files and read what came out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HANDLERS = ROOT / "handlers"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def synth_file(service_file: Path, out: Path, envs: list[str] | None = None, *, force: bool = False):
    from lambdaform.loader import load_service
    from lambdaform.synth import synthesize

    return synthesize(load_service(service_file), out, environments=envs, force=force)


def stack_json(out: Path, stack: str) -> dict[str, Any]:
    return json.loads((out / "stacks" / stack / "cdk.tf.json").read_text())


def resources(document: dict[str, Any], rtype: str) -> dict[str, Any]:
    return document.get("resource", {}).get(rtype, {})


def only(document: dict[str, Any], rtype: str) -> dict[str, Any]:
    items = resources(document, rtype)
    assert len(items) == 1, f"expected one {rtype}, found {sorted(items)}"
    return next(iter(items.values()))


def policy_of(resource: dict[str, Any], attribute: str = "policy") -> dict[str, Any]:
    return json.loads(resource[attribute])


def write_service(folder: Path, text: str, handlers: tuple[str, ...] = ("vela_runtime",)) -> Path:
    """A service file in ``folder`` with copies of the named handler folders under ``folder/handlers``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in handlers:
        shutil.copytree(HANDLERS / name, folder / "handlers" / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "service.yaml"
    path.write_text(text)
    return path
