"""What the stack refers to: the dependency graph behind the README's Mermaid diagram, and the asset files.

References are found inside the template sequences of every string (locals resolved, ``depends_on``
included) to draw ``A --> B`` when B references A. Assets are the files of the synthesized stack folder
that a string names by relative path (``filename = "assets/..."``, ``filebase64sha256("assets/...")``);
:func:`_copy_assets` copies them beside the HCL, never a state file, the JSON stack or anything outside.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambdaform.hcl_export.convert import _named_entries, _typed_entries
from lambdaform.hcl_export.schema import STACK_FILE
from lambdaform.hcl_export.syntax import HclExportError, _as_list, _traversal, split_template

_CHAIN_RE = re.compile(r"(?<![\w.\"-])[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "//":
                continue
            yield k
            yield from _strings(v)


def _expressions(value: Any) -> Iterator[str]:
    """Expression texts inside every template sequence of every string in ``value``."""
    for s in _strings(value):
        try:
            parts = split_template(s)
        except HclExportError:
            continue
        for kind, text in parts:
            if kind == "seq":
                yield text[2:-1]


def _chains(value: Any) -> set[str]:
    found = set()
    for expr in _expressions(value):
        found.update(_CHAIN_RE.findall(expr))
    return found


def _address_of(chain: str) -> tuple[str, str] | None:
    """``("addr", "aws_x.y")``, ``("addr", "data.aws_x.y")`` or ``("local", "name")`` for a traversal."""
    parts = chain.split(".")
    if parts[0] == "data" and len(parts) >= 3:
        return ("addr", ".".join(parts[:3]))
    if parts[0] == "local":
        return ("local", parts[1])
    return ("addr", ".".join(parts[:2]))


def _dependency_graph(stack_json: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """Resource/data addresses (in file order) and (dependency, dependent) edges, locals resolved."""
    nodes: list[str] = []
    bodies: dict[str, Any] = {}
    for kind in ("data", "resource"):
        for type_name, name, body in _typed_entries(stack_json.get(kind)):
            addr = f"data.{type_name}.{name}" if kind == "data" else f"{type_name}.{name}"
            if addr not in bodies:
                nodes.append(addr)
                bodies[addr] = []
            bodies[addr].append(body)
    known = set(nodes)

    local_values: dict[str, Any] = dict(_named_entries(stack_json.get("locals")))
    local_refs: dict[str, set[str]] = {}

    def refs_of(value: Any, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for chain in _chains(value):
            ref = _address_of(chain)
            if ref is None:
                continue
            kind, target = ref
            if kind == "addr" and target in known:
                out.add(target)
            elif kind == "local" and target in local_values and target not in seen:
                if target not in local_refs:
                    local_refs[target] = refs_of(local_values[target], seen | {target})
                out |= local_refs[target]
        return out

    edges: list[tuple[str, str]] = []
    for addr in nodes:
        deps: set[str] = set()
        for body in bodies[addr]:
            deps |= refs_of({k: v for k, v in body.items() if k != "depends_on"})
            for d in _as_list(body.get("depends_on")):
                t = _traversal(d).text
                if t in known:
                    deps.add(t)
        deps.discard(addr)
        edges.extend((d, addr) for d in sorted(deps, key=nodes.index))
    return nodes, edges


def mermaid_flowchart(stack_json: dict) -> str:
    """A Mermaid ``flowchart`` of resources and data sources; an arrow ``A --> B`` means B references A."""
    nodes, edges = _dependency_graph(stack_json)
    ids = {addr: f"n{i}" for i, addr in enumerate(nodes)}
    lines = ["flowchart LR"]
    for addr in nodes:
        label = addr.replace('"', "#quot;")
        lines.append(f'  {ids[addr]}(["{label}"])' if addr.startswith("data.") else f'  {ids[addr]}["{label}"]')
    for dep, user in edges:
        lines.append(f"  {ids[dep]} --> {ids[user]}")
    return "\n".join(lines)


_NOT_ASSETS = {STACK_FILE, ".terraform", ".terraform.lock.hcl"}
_QUOTED_RE = re.compile(r'"((?:[^"\\$%]|\\.)*)"')


def _asset_candidates(stack_json: dict) -> set[str]:
    found: set[str] = set()
    for key in ("resource", "data", "locals", "module", "output", "provider", "ephemeral"):
        for s in _strings(stack_json.get(key)):
            try:
                parts = split_template(s)
            except HclExportError:
                continue
            if len(parts) == 1 and parts[0][0] == "lit":
                found.add(parts[0][1])
            for kind, text in parts:
                if kind == "seq":
                    found.update(m.group(1) for m in _QUOTED_RE.finditer(text))
    return found


def _copy_assets(stack_json: dict, asset_dir: Path, out_dir: Path) -> list[Path]:
    root = asset_dir.resolve()
    copied: list[Path] = []
    for candidate in sorted(_asset_candidates(stack_json)):
        if not candidate or "\n" in candidate or len(candidate) > 1024 or os.path.isabs(candidate):
            continue
        try:  # any string may be a candidate: one longer than a file name can be makes the OS refuse to look
            src = (root / candidate).resolve()
            if src == root or root not in src.parents or not src.is_file():
                continue
        except (OSError, ValueError):
            continue
        rel = src.relative_to(root)
        if rel.parts[0] in _NOT_ASSETS or rel.suffix == ".tfstate" or ".tfstate." in rel.name:
            continue
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        copied.append(dest)
    return copied

