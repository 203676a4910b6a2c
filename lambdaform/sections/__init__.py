"""Blueprint sections: optional parts of the service file with their own model and stack wiring.

Each module listed in :data:`SECTION_MODULES` defines:

``KEY``
    The :class:`~lambdaform.service.Service` attribute holding the section (``None``/empty when absent).
``packages(loaded, service, env) -> dict[str, PackageSpec]`` (optional)
    Extra zips the section's functions need, by package name (names contain ``_`` so they never clash
    with function keys, which cannot).
``cross_checks(loaded, env, service) -> list[Problem]`` (optional)
    Rules that span the file (e.g. a route naming a function that does not exist).
``compose(stack) -> None``
    Add the section's resources to a :class:`~lambdaform.stacks.ServiceStack`, after its tables,
    buckets, queues and functions exist.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SECTION_MODULES = ("websocket", "deploy_hooks", "alarms")


@dataclass(frozen=True)
class PackageSpec:
    """A folder to package as a canonical zip."""

    source: Path
    exclude: tuple[str, ...] = ()


def section_modules() -> list[ModuleType]:
    return [importlib.import_module(f"lambdaform.sections.{name}") for name in SECTION_MODULES]


def present(module: ModuleType, service) -> bool:
    value = getattr(service, module.KEY)
    return bool(value)
