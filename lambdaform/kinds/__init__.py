"""The registry of kinds: everything the service file can declare at its top level besides functions.

Adding a kind is one module in this folder (model, checks, composition: see :mod:`lambdaform.kinds.base`)
and one line in :data:`KINDS`. The service model (:mod:`lambdaform.service`), the loader's checks, the
packaging step and the stack composer all loop over this tuple; none of them names a kind.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lambdaform.kinds import alarms, bucket, deploy_hooks, http_api, layer, queue, table, topic, websocket
from lambdaform.kinds.base import CheckContext, Composer, Kind, PackageSpec

KINDS: tuple[Kind, ...] = (
    table.KIND,
    bucket.KIND,
    queue.KIND,
    topic.KIND,
    layer.KIND,
    websocket.KIND,
    http_api.KIND,
    deploy_hooks.KIND,
    alarms.KIND,
)
"""In composition order within each phase (resources before functions, sections after)."""

__all__ = ["KINDS", "CheckContext", "Composer", "Kind", "PackageSpec", "by_access_key", "by_key",
           "reference_pattern"]


def by_key(key: str) -> Kind:
    return next(kind for kind in KINDS if kind.key == key)


def by_access_key(access_key: str) -> Kind:
    return next(kind for kind in KINDS if kind.access_key == access_key)


@lru_cache(maxsize=1)
def reference_pattern() -> re.Pattern[str]:
    """``${<kind>.<key>.<attribute>}`` in an environment value: a reference to something declared in the
    file (the one pattern the loader checks and the stack resolves). Other ``${...}`` text stays literal."""
    kinds = "|".join(re.escape(kind.key) for kind in KINDS if kind.references)
    return re.compile(rf"\$\{{({kinds})\.([^.}}]+)\.([^}}]+)\}}")
