"""Rules about one function that need the rest of the file: versions and aliases, warm capacity,
asynchronous destinations and gradual rollouts (``alias``, ``provisioned_concurrency``, ``snap_start``,
``async``, ``deployment``).

Each field validates alone in :mod:`lambdaform.service`; what spans fields (SnapStart and the runtime) or the
file (a destination queue declared under ``queues:``, a hook naming a function) lives here, reported with
field paths. A problem only an environment's overrides cause is reported under ``environments.<env>.``.
"""

from __future__ import annotations

from typing import Any

from lambdaform.errors import Problem
from lambdaform.kinds.base import CheckContext
from lambdaform.service import SNAP_START_RUNTIMES

DESTINATION_SECTIONS = {"queue": "queues", "topic": "topics", "function": "functions"}


def _declared(service: Any, section: str) -> dict:
    return getattr(service, section, None) or {}


def _function_problems(service: Any, key: str, fn: Any) -> list[tuple[str, str]]:
    where = f"functions.{key}"
    out: list[tuple[str, str]] = []
    for field, on in (("provisioned_concurrency", fn.provisioned_concurrency > 0), ("snap_start", fn.snap_start),
                      ("deployment", fn.deployment is not None)):
        if on and fn.alias is None:
            out.append((f"{where}.{field}", "works on published versions behind an alias: set alias (e.g. "
                                            "alias: live)"))
    if fn.snap_start:
        if fn.package != "zip" or fn.runtime not in SNAP_START_RUNTIMES:
            what = "container images" if fn.package != "zip" else f"runtime {fn.runtime}"
            out.append((f"{where}.snap_start", f"SnapStart does not support {what} (zip functions on "
                                               f"{', '.join(SNAP_START_RUNTIMES)} only)"))
        if fn.provisioned_concurrency:
            out.append((f"{where}.snap_start", "cannot be combined with provisioned_concurrency (Lambda refuses "
                                               "SnapStart with provisioned concurrency); choose one"))
        if fn.ephemeral_storage_mb > 512:
            out.append((f"{where}.snap_start", "SnapStart does not support ephemeral_storage_mb above 512"))
    if (fn.reserved_concurrency is not None and fn.provisioned_concurrency
            and fn.reserved_concurrency < fn.provisioned_concurrency):
        out.append((f"{where}.provisioned_concurrency",
                    f"{fn.provisioned_concurrency} is more than reserved_concurrency ({fn.reserved_concurrency}); "
                    "provisioned environments come out of the reserved ones"))
    if fn.async_ is not None:
        for name in ("on_failure", "on_success"):
            destination = getattr(fn.async_, name)
            if destination is None or destination.target.startswith("arn:") or destination.kind == "event_bus":
                continue
            section = DESTINATION_SECTIONS[destination.kind]
            declared = _declared(service, section)
            if destination.target not in declared:
                out.append((f"{where}.async.{name}.{destination.kind}",
                            f"'{destination.target}' is not declared under {section} "
                            f"(declared: {', '.join(declared) or 'none'})"))
            elif section == "functions" and destination.target == key:
                out.append((f"{where}.async.{name}.function", "a function cannot be its own destination"))
    if fn.deployment is not None:
        for name in ("before_allow_traffic", "after_allow_traffic"):
            hook = getattr(fn.deployment.hooks, name)
            if hook is None:
                continue
            if hook not in service.functions:
                out.append((f"{where}.deployment.hooks.{name}",
                            f"'{hook}' is not a function of this service (declared: {', '.join(service.functions)})"))
            elif hook == key:
                out.append((f"{where}.deployment.hooks.{name}", "a function cannot be its own deployment hook"))
    return out


def _problems(service: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, fn in service.functions.items():
        out += _function_problems(service, key, fn)
    return out


def checks(ctx: CheckContext) -> list[Problem]:
    """Every problem of the environment's functions, with field paths."""
    in_base = set(_problems(ctx.base))
    return [Problem(path if (path, reason) in in_base else f"environments.{ctx.env}.{path}", reason)
            for path, reason in _problems(ctx.service)]
