"""Export a synthesized cdktf stack (``cdk.tf.json``) as plain, readable Terraform HCL.

cdktf is deprecated upstream, so this export must be lossless: ``terraform plan`` of the exported folder
must equal ``terraform plan`` of the JSON stack. The conversion follows Terraform's JSON syntax rules:

* Strings in expression positions are *templates* in both syntaxes. A string that is exactly one
  ``${...}`` becomes a bare expression (``role = aws_iam_role.x.arn``); other templates stay quoted with the
  literal parts re-escaped for HCL (``\\``, ``\"``, ``\n``...) and the template sequences (``${..}``, ``%{..}``,
  and their escapes ``$${``/``%%{``) copied verbatim, since both syntaxes share the template language.
* Strings in *literal* positions (variable ``default``/``description``, output ``description``, the
  ``terraform`` block, module ``source``/``version``) are not templates in JSON, so ``${``/``%{`` in them
  are escaped to ``$${``/``%%{``.
* Whether a JSON object under a resource is a nested block or a map/object attribute is decided by the
  provider schema (``block_types`` vs ``attributes``), never guessed. Unknown names are an error.
* Multi-line strings become a ``<<-EOT`` heredoc only when that yields the exact same value (value ends
  in a newline, no carriage returns, no whitespace-only lines, no leading tabs, ...); otherwise they are
  written as one escaped quoted string.

Each file is finally passed through ``terraform fmt -`` (Terraform's own parser), so a syntax error in the
export fails loudly here instead of in the ops team's pipeline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdaform.tfcli import Terraform
from lambdaform.tfcli import terraform as _terraform_cli

__all__ = [
    "DEFAULT_REQUIRED_VERSION",
    "HclExportError",
    "export_stack",
    "load_provider_schema",
    "render_value",
    "schema_cache_name",
]

DEFAULT_REQUIRED_VERSION = ">= 1.6.0"
"""Written to ``versions.tf`` when the stack has no ``required_version`` of its own."""

STACK_FILE = "cdk.tf.json"


class HclExportError(ValueError):
    """The stack cannot be exported without losing or guessing something."""


# ---------------------------------------------------------------------------------------------------------
# Provider schema
# ---------------------------------------------------------------------------------------------------------


def _provider_fqn(source: str) -> str:
    """``aws`` / ``hashicorp/aws`` / ``registry.terraform.io/hashicorp/aws`` -> the fully qualified name."""
    parts = source.strip().lower().split("/")
    if len(parts) == 1:
        return f"registry.terraform.io/hashicorp/{parts[0]}"
    if len(parts) == 2:
        return f"registry.terraform.io/{parts[0]}/{parts[1]}"
    return "/".join(parts)


def _required_providers(stack_json: dict) -> dict[str, dict]:
    """``terraform.required_providers`` as ``{local_name: {"source": fqn, "version": constraint}}``."""
    tf_blocks = stack_json.get("terraform") or {}
    out: dict[str, dict] = {}
    for block in tf_blocks if isinstance(tf_blocks, list) else [tf_blocks]:
        rp = block.get("required_providers") or {}
        for rp_block in rp if isinstance(rp, list) else [rp]:
            for name, req in rp_block.items():
                if name == "//":
                    continue
                if isinstance(req, str):  # legacy form: just a version constraint
                    req = {"version": req}
                out[name] = {"source": _provider_fqn(req.get("source", name)), "version": str(req.get("version", ""))}
    return out


def schema_cache_name(stack_json: dict) -> str:
    """The cache file name for a stack's provider schema: provider sources and versions, readable."""
    providers = _required_providers(stack_json)
    if not providers:
        raise HclExportError("the stack has no terraform.required_providers; nothing to load a schema for")
    parts = []
    for req in sorted(providers.values(), key=lambda r: (r["source"], r["version"])):
        label = f"{req['source']}@{req['version'] or 'any'}"
        parts.append(re.sub(r"[^A-Za-z0-9._@-]+", "_", label.replace("registry.terraform.io/", "")))
    return "provider-schema-" + "+".join(parts) + ".json"


def load_provider_schema(stack_dir: Path, cache_dir: Path, *, tf: Terraform | None = None) -> dict:
    """The ``terraform providers schema -json`` document for the providers ``stack_dir`` requires.

    The first call runs ``terraform init -backend=false`` and ``terraform providers schema -json`` in a
    scratch folder holding only the stack's ``required_providers`` (so no backend, state or asset is
    touched) and caches the JSON in ``cache_dir`` under a name made of provider sources and versions;
    later calls read the cache. ``tf`` defaults to a :func:`lambdaform.tfcli.terraform` runner whose CLI
    config and plugin cache live in ``cache_dir/terraform``.
    """
    stack_dir = Path(stack_dir)
    cache_dir = Path(cache_dir)
    stack_json = json.loads((stack_dir / STACK_FILE).read_text(encoding="utf-8"))
    cache_file = cache_dir / schema_cache_name(stack_json)
    if cache_file.is_file():
        return json.loads(cache_file.read_text(encoding="utf-8"))

    cache_dir.mkdir(parents=True, exist_ok=True)
    runner = tf if tf is not None else _terraform_cli(cache_dir / "terraform")
    required = {
        name: {"source": req["source"], **({"version": req["version"]} if req["version"] else {})}
        for name, req in _required_providers(stack_json).items()
    }
    with tempfile.TemporaryDirectory(prefix="schema-", dir=cache_dir) as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "main.tf.json").write_text(
            json.dumps({"terraform": {"required_providers": required}}, indent=2), encoding="utf-8"
        )
        runner.run(["init", "-backend=false", "-input=false", "-no-color"], scratch_dir)
        proc = runner.run(["providers", "schema", "-json"], scratch_dir)
    schema = json.loads(proc.stdout)
    tmp = cache_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(schema), encoding="utf-8")
    tmp.replace(cache_file)
    return schema


# Terraform's built-in provider ("terraform.io/builtin/terraform") is not in `providers schema -json`.
_BUILTIN_RESOURCES = {
    "terraform_data": {
        "attributes": {
            "id": {"type": "string", "computed": True},
            "input": {"type": "dynamic", "optional": True},
            "output": {"type": "dynamic", "computed": True},
            "triggers_replace": {"type": "dynamic", "optional": True},
        }
    }
}
_BUILTIN_DATA = {
    "terraform_remote_state": {
        "attributes": {
            "backend": {"type": "string", "required": True},
            "config": {"type": "dynamic", "optional": True},
            "defaults": {"type": "dynamic", "optional": True},
            "outputs": {"type": "dynamic", "computed": True},
            "workspace": {"type": "string", "optional": True},
        }
    }
}


class _Schemas:
    """Looks up block schemas for resource, data source and provider types."""

    def __init__(self, schema: dict, stack_json: dict):
        self.providers: dict = schema.get("provider_schemas") or {}
        self.required = _required_providers(stack_json)

    def _candidates(self, local_name: str) -> list[dict]:
        fqn = self.required.get(local_name, {}).get("source") or _provider_fqn(local_name)
        first = [self.providers[fqn]] if fqn in self.providers else []
        return first + [p for k, p in self.providers.items() if k != fqn]

    def entity(self, kind: str, type_name: str, provider_ref: str | None) -> dict:
        """The ``block`` schema for a resource/data/ephemeral type."""
        key = {
            "resource": "resource_schemas",
            "data": "data_source_schemas",
            "ephemeral": "ephemeral_resource_schemas",
        }[kind]
        local = (provider_ref.split(".")[0] if provider_ref else type_name.split("_")[0]).strip()
        for prov in self._candidates(local):
            found = (prov.get(key) or {}).get(type_name)
            if found is not None:
                return found["block"]
        builtin = {"resource": _BUILTIN_RESOURCES, "data": _BUILTIN_DATA}.get(kind, {})
        if type_name in builtin:
            return builtin[type_name]
        raise HclExportError(
            f"{kind} type {type_name!r} is not in the provider schema "
            f"(schemas loaded for: {', '.join(sorted(self.providers)) or 'none'})"
        )

    def provider(self, local_name: str) -> dict:
        fqn = self.required.get(local_name, {}).get("source") or _provider_fqn(local_name)
        prov = self.providers.get(fqn)
        if prov is None or "provider" not in prov:
            raise HclExportError(f"provider {local_name!r} ({fqn}) is not in the provider schema")
        return prov["provider"]["block"]


# ---------------------------------------------------------------------------------------------------------
# Strings and values
# ---------------------------------------------------------------------------------------------------------

TEMPLATE = "template"
"""JSON strings in this position are Terraform templates (``${..}`` interpolates)."""
LITERAL = "literal"
"""JSON strings in this position are taken literally (``${`` is just text)."""

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "else", "endif", "endfor"})


@dataclass(frozen=True)
class Raw:
    """Already-rendered HCL expression text (keywords, traversals, type expressions)."""

    text: str


def _scan_string(s: str, j: int) -> int:
    """``s[j-1]`` is an opening quote inside an expression; return the index after the closing quote."""
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        if s.startswith("$${", j) or s.startswith("%%{", j):
            j += 3
            continue
        if s.startswith("${", j) or s.startswith("%{", j):
            j = _scan_sequence(s, j)
            continue
        j += 1
    raise HclExportError(f"unterminated string inside template expression: {s!r}")


def _scan_sequence(s: str, i: int) -> int:
    """``s[i:]`` starts with ``${`` or ``%{``; return the index after its matching ``}``."""
    depth = 1
    j = i + 2
    n = len(s)
    while j < n:
        c = s[j]
        if c == '"':
            j = _scan_string(s, j + 1)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise HclExportError(f"unterminated template sequence in {s!r}")


def split_template(s: str) -> list[tuple[str, str]]:
    """Split a Terraform template into ``("lit", text)`` and ``("seq", "${...}" | "%{...}")`` parts.

    Literal parts keep the escapes ``$${`` and ``%%{`` as written (they mean the same in HCL)."""
    parts: list[tuple[str, str]] = []
    buf: list[str] = []
    i, n = 0, len(s)
    while i < n:
        if s.startswith("$${", i) or s.startswith("%%{", i):
            buf.append(s[i : i + 3])
            i += 3
        elif s.startswith("${", i) or s.startswith("%{", i):
            end = _scan_sequence(s, i)
            if buf:
                parts.append(("lit", "".join(buf)))
                buf = []
            parts.append(("seq", s[i:end]))
            i = end
        else:
            buf.append(s[i])
            i += 1
    if buf:
        parts.append(("lit", "".join(buf)))
    return parts


def _invisible(c: str) -> bool:
    """Control, format (zero-width, bidi override, BOM) and line/paragraph separator characters: written as
    ``\\uXXXX`` so they can neither hide in review nor be mangled by editors."""
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


def _escape_literal_text(text: str) -> str:
    """Escape template literal text for an HCL quoted string (template sequences are left alone)."""
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif _invisible(c):
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    return "".join(out)


def _literal_to_template(s: str) -> str:
    """A literal string as a template with the same value: escape every ``${`` and ``%{``."""
    return re.sub(r"([$%])\{", r"\1\1{", s)


def _quoted(parts: list[tuple[str, str]]) -> str:
    return '"' + "".join(_escape_literal_text(t) if k == "lit" else t for k, t in parts) + '"'


def _bare_expression(parts: list[tuple[str, str]]) -> str | None:
    """The expression if the template is exactly one ``${...}`` interpolation (no strip markers)."""
    if len(parts) != 1 or parts[0][0] != "seq" or not parts[0][1].startswith("${"):
        return None
    inner = parts[0][1][2:-1]
    if inner.startswith("~") or inner.endswith("~"):
        return None
    inner = inner.strip()
    if not inner:
        return None
    return f"({inner})" if "\n" in inner else inner


def _heredoc(parts: list[tuple[str, str]], indent: str) -> str | None:
    """``<<-EOT`` / ``<<EOT`` text with exactly the template's value, or None when that is not safe."""
    if any(k == "seq" and "\n" in t for k, t in parts):
        return None
    source = "".join(t for _, t in parts)
    if not source.endswith("\n") or source.count("\n") < 2 or "\r" in source:
        return None
    lines = source[:-1].split("\n")
    for line in lines:
        if any(c != "\t" and _invisible(c) for c in line):
            return None
        if line and (not line.strip() or line[0] == "\t" or line[-1] in " \t"):
            return None  # whitespace-only / tab-indented / trailing blanks: editors and <<- would alter them
    marker = "EOT"
    n = 0
    while any(line.strip() == marker for line in lines):
        n += 1
        marker = f"EOT{n}"
    min_indent = min(len(line) - len(line.lstrip(" ")) for line in lines if line)
    if min_indent == 0:  # `<<-` strips the smallest indentation, so the value must start some line at col 0
        body_indent = indent + "  "
        body = "\n".join(body_indent + line if line else "" for line in lines)
        return f"<<-{marker}\n{body}\n{indent}{marker}"
    return f"<<{marker}\n" + "\n".join(lines) + f"\n{marker}"


def _render_string(s: str, ctx: str, indent: str, allow_heredoc: bool) -> str:
    if ctx == LITERAL:
        s = _literal_to_template(s)
    parts = split_template(s)
    if ctx == TEMPLATE:
        bare = _bare_expression(parts)
        if bare is not None:
            return bare
    if allow_heredoc:
        doc = _heredoc(parts, indent)
        if doc is not None:
            return doc
    return _quoted(parts)


def _render_key(key: str, ctx: str) -> str:
    if _IDENT_RE.match(key) and key not in _KEYWORDS:
        return key
    if ctx == LITERAL:
        return _quoted(split_template(_literal_to_template(key)))
    parts = split_template(key)
    bare = _bare_expression(parts)
    if bare is not None:
        return bare if bare.startswith("(") else f"({bare})"
    return _quoted(parts)


def _number(v: int | float) -> str:
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise HclExportError(f"{v!r} is not a Terraform number")
        return repr(v)  # shortest round-tripping form: 0.1, 3.5, 1e+20 are all valid HCL numbers
    return str(v)


def render_value(value: Any, ctx: str = TEMPLATE, indent: str = "", *, allow_heredoc: bool = False) -> str:
    """Render one JSON value as an HCL expression. ``indent`` is the indentation of the line it starts on."""
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _render_string(value, ctx, indent, allow_heredoc)
    inner = indent + "  "
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [render_value(v, ctx, inner) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        scalars = not any(isinstance(v, (dict, list)) for v in value)
        if scalars and "\n" not in one_line and len(one_line) + len(indent) <= 100:
            return one_line
        return "[\n" + "".join(f"{inner}{item},\n" for item in items) + f"{indent}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [
            f"{inner}{_render_key(k, ctx)} = {render_value(v, ctx, inner, allow_heredoc=True)}"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    raise HclExportError(f"cannot render {type(value).__name__} value {value!r}")


def _inline(value: Any, ctx: str = LITERAL) -> str:
    """A one-line HCL rendering (for README tables)."""
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, ctx) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_render_key(k, ctx)} = {_inline(v, ctx)}" for k, v in value.items()) + " }"
    return render_value(value, ctx)


def _traversal(value: Any) -> Raw:
    """``"aws_x.y"`` or ``"${aws_x.y}"`` -> bare ``aws_x.y`` (depends_on, provider, ignore_changes...)."""
    if not isinstance(value, str):
        raise HclExportError(f"expected a reference string, got {value!r}")
    text = value.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    return Raw(text)


# ---------------------------------------------------------------------------------------------------------
# HCL body model
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Attr:
    name: str
    value: Any
    ctx: str = TEMPLATE


@dataclass
class Block:
    type: str
    labels: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _label(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_items(items: list, indent: str = "") -> list[str]:
    """HCL lines for a body: attributes, then blocks separated by blank lines."""
    lines: list[str] = []
    prev = None
    for item in items:
        if isinstance(item, Block):
            if lines:
                lines.append("")
            lines.extend(f"{indent}# {c}" if c else f"{indent}#" for c in item.comments)
            head = indent + " ".join([item.type, *(_label(lab) for lab in item.labels)])
            if item.items:
                lines.append(head + " {")
                lines.extend(render_items(item.items, indent + "  "))
                lines.append(indent + "}")
            else:
                lines.append(head + " {}")
        else:
            if isinstance(prev, Block):
                lines.append("")
            value = render_value(item.value, item.ctx, indent, allow_heredoc=True)
            lines.append(f"{indent}{item.name} = {value}")
        prev = item
    return lines


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------------------------------------------------
# JSON stack -> body model
# ---------------------------------------------------------------------------------------------------------


def _schema_body(body: dict, sblock: dict, where: str) -> tuple[list[Attr], list[Block]]:
    """Split a JSON body into attributes and nested blocks using the schema ``block``."""
    if not isinstance(body, dict):
        raise HclExportError(f"{where}: expected an object, got {body!r}")
    attrs: list[Attr] = []
    blocks: list[Block] = []
    sattrs = sblock.get("attributes") or {}
    stypes = sblock.get("block_types") or {}
    for key, val in body.items():
        if key == "//":
            continue
        if key == "dynamic":
            blocks.extend(_dynamic_blocks(val, stypes, where))
        elif key in sattrs:
            attrs.append(Attr(key, val))
        elif key in stypes:
            blocks.extend(_nested_blocks(key, val, stypes[key], f"{where}.{key}"))
        else:
            raise HclExportError(
                f"{where}: {key!r} is neither an attribute nor a nested block in the provider schema"
            )
    return attrs, blocks


def _nested_blocks(name: str, value: Any, btype: dict, where: str) -> list[Block]:
    if value is None:
        return []
    if isinstance(value, str):
        raise HclExportError(f"{where}: a nested block cannot be set from an expression ({value!r}); use dynamic")
    out: list[Block] = []
    for element in _as_list(value):
        if element is None:
            continue
        if btype.get("nesting_mode") == "map":
            for label, body in element.items():
                attrs, blocks = _schema_body(body, btype["block"], f"{where}[{label!r}]")
                out.append(Block(name, [label], [*attrs, *blocks]))
        else:
            attrs, blocks = _schema_body(element, btype["block"], where)
            out.append(Block(name, [], [*attrs, *blocks]))
    return out


def _dynamic_blocks(value: Any, stypes: dict, where: str) -> list[Block]:
    out: list[Block] = []
    for group in _as_list(value):
        for name, specs in group.items():
            if name not in stypes:
                raise HclExportError(f"{where}: dynamic {name!r} is not a nested block in the provider schema")
            for spec in _as_list(specs):
                items: list = []
                content = None
                for key, val in spec.items():
                    if key == "for_each":
                        items.append(Attr("for_each", val))
                    elif key == "iterator":
                        items.append(Attr("iterator", _traversal(val)))
                    elif key == "labels":
                        items.append(Attr("labels", val))
                    elif key == "content":
                        content = val
                    elif key != "//":
                        raise HclExportError(f"{where}: unknown argument {key!r} in dynamic {name!r}")
                attrs, blocks = _schema_body(content or {}, stypes[name]["block"], f"{where}.dynamic.{name}.content")
                items.append(Block("content", [], [*attrs, *blocks]))
                out.append(Block("dynamic", [name], items))
    return out


def _condition_blocks(name: str, value: Any, where: str) -> list[Block]:
    out = []
    for body in _as_list(value):
        items = []
        for key, val in body.items():
            if key in ("condition", "error_message"):
                items.append(Attr(key, val))
            elif key != "//":
                raise HclExportError(f"{where}: unknown argument {key!r} in {name}")
        out.append(Block(name, [], items))
    return out


def _lifecycle_blocks(value: Any, where: str) -> list[Block]:
    out = []
    for body in _as_list(value):
        items: list = []
        for key, val in body.items():
            if key in ("create_before_destroy", "prevent_destroy", "destroy"):
                items.append(Attr(key, val, LITERAL))
            elif key == "ignore_changes":
                if isinstance(val, str):
                    items.append(Attr(key, _traversal(val)))
                else:
                    items.append(Attr(key, [_traversal(v) for v in val]))
            elif key == "replace_triggered_by":
                items.append(Attr(key, [_traversal(v) for v in _as_list(val)]))
            elif key in ("precondition", "postcondition"):
                items.extend(_condition_blocks(key, val, where))
            elif key != "//":
                raise HclExportError(f"{where}: unknown lifecycle argument {key!r}")
        out.append(Block("lifecycle", [], items))
    return out


def _generic_items(body: dict, where: str) -> list:
    """Bodies without a schema (provisioner, connection): attributes, plus ``connection`` blocks."""
    attrs: list = []
    blocks: list = []
    for key, val in body.items():
        if key == "//":
            continue
        if key == "connection":
            blocks.extend(Block("connection", [], _generic_items(b, where)) for b in _as_list(val))
        elif key in ("when", "on_failure"):
            attrs.append(Attr(key, _traversal(val)))
        else:
            attrs.append(Attr(key, val))
    return [*attrs, *blocks]


def _provisioner_blocks(value: Any, where: str) -> list[Block]:
    out = []
    for group in _as_list(value):
        for ptype, body in group.items():
            for b in _as_list(body):
                out.append(Block("provisioner", [ptype], _generic_items(b, f"{where}.provisioner.{ptype}")))
    return out


def _metadata_comments(body: dict) -> list[str]:
    meta = body.get("//")
    if isinstance(meta, dict):
        path = (meta.get("metadata") or {}).get("path")
        if path:
            return [f"cdktf: {path}"]
    return []


def _entity_block(kind: str, type_name: str, name: str, body: dict, schemas: _Schemas) -> Block:
    """A ``resource``/``data``/``ephemeral`` block, in Terraform style order."""
    where = f"{'' if kind == 'resource' else kind + '.'}{type_name}.{name}"
    if not isinstance(body, dict):
        raise HclExportError(f"{where}: expected an object")
    provider_ref = body.get("provider")
    sblock = schemas.entity(kind, type_name, _traversal(provider_ref).text if provider_ref else None)
    head: list = []
    tail: list = []
    rest: dict = {}
    lifecycle: list = []
    depends: list = []
    for key, val in body.items():
        if key in ("count", "for_each"):
            head.append(Attr(key, val))
        elif key == "provider":
            head.append(Attr(key, _traversal(val)))
        elif key == "depends_on":
            depends.append(Attr(key, [_traversal(v) for v in _as_list(val)]))
        elif key == "lifecycle":
            lifecycle.extend(_lifecycle_blocks(val, where))
        elif key == "provisioner" and kind == "resource":
            tail.extend(_provisioner_blocks(val, where))
        elif key == "connection" and kind == "resource":
            tail.extend(Block("connection", [], _generic_items(b, where)) for b in _as_list(val))
        else:
            rest[key] = val
    attrs, blocks = _schema_body(rest, sblock, where)
    labels = [type_name, name]
    return Block(
        kind,
        labels,
        [*head, *attrs, *blocks, *tail, *lifecycle, *depends],
        comments=_metadata_comments(body),
    )


def _named_entries(value: Any) -> Iterator[tuple[str, Any]]:
    """``{name: body}`` (or a list of such objects) -> (name, body) pairs, skipping ``//``."""
    for group in _as_list(value):
        for name, body in group.items():
            if name != "//":
                yield name, body


def _typed_entries(value: Any) -> Iterator[tuple[str, str, Any]]:
    for type_name, named in _named_entries(value):
        for name, body in _named_entries(named):
            for b in _as_list(body):
                yield type_name, name, b


_VARIABLE_ORDER = ("type", "description", "default", "sensitive", "nullable", "ephemeral")


def _variable_block(name: str, body: dict) -> Block:
    items: list = []
    for key in _VARIABLE_ORDER:
        if key not in body:
            continue
        if key == "type":
            items.append(Attr("type", _traversal(body["type"])))
        else:
            items.append(Attr(key, body[key], LITERAL))
    for key, val in body.items():
        if key == "validation":
            items.extend(_condition_blocks("validation", val, f"variable.{name}"))
        elif key not in _VARIABLE_ORDER and key != "//":
            raise HclExportError(f"variable.{name}: unknown argument {key!r}")
    return Block("variable", [name], items)


def _output_block(name: str, body: dict) -> Block:
    items: list = []
    order = ("description", "value", "sensitive", "ephemeral")
    for key in order:
        if key in body:
            items.append(Attr(key, body[key], TEMPLATE if key == "value" else LITERAL))
    for key, val in body.items():
        if key == "depends_on":
            items.append(Attr(key, [_traversal(v) for v in _as_list(val)]))
        elif key == "precondition":
            items.extend(_condition_blocks("precondition", val, f"output.{name}"))
        elif key not in order and key != "//":
            raise HclExportError(f"output.{name}: unknown argument {key!r}")
    return Block("output", [name], items)


def _module_block(name: str, body: dict) -> Block:
    head: list = []
    attrs: list = []
    tail: list = []
    for key, val in body.items():
        if key in ("source", "version"):
            head.append(Attr(key, val, LITERAL))
        elif key in ("count", "for_each"):
            head.append(Attr(key, val))
        elif key == "providers":
            attrs.append(Attr(key, {k: _traversal(v) for k, v in val.items()}))
        elif key == "depends_on":
            tail.append(Attr(key, [_traversal(v) for v in _as_list(val)]))
        elif key != "//":
            attrs.append(Attr(key, val))
    return Block("module", [name], [*head, *attrs, *tail], comments=_metadata_comments(body))


def _refactor_block(kind: str, body: dict) -> Block:
    items: list = []
    for key, val in body.items():
        if key in ("from", "to", "provider"):
            items.append(Attr(key, _traversal(val)))
        elif key in ("id", "for_each", "identity"):
            items.append(Attr(key, val))
        elif key == "lifecycle":
            items.extend(_lifecycle_blocks(val, kind))
        elif key == "provisioner":
            items.extend(_provisioner_blocks(val, kind))
        elif key != "//":
            raise HclExportError(f"{kind}: unknown argument {key!r}")
    return Block(kind, [], items)


def _terraform_block(body: dict, default_required_version: str | None) -> Block:
    items: list = []
    blocks: list = []
    if "required_version" in body:
        items.append(Attr("required_version", body["required_version"], LITERAL))
    elif default_required_version:
        items.append(Attr("required_version", default_required_version, LITERAL))
    for key, val in body.items():
        if key in ("required_version", "//"):
            continue
        if key == "required_providers":
            for rp in _as_list(val):
                entries = []
                for pname, req in rp.items():
                    if pname == "//":
                        continue
                    if isinstance(req, dict) and "configuration_aliases" in req:
                        req = {**req, "configuration_aliases": [_traversal(a) for a in req["configuration_aliases"]]}
                    entries.append(Attr(pname, req, LITERAL))
                blocks.append(Block("required_providers", [], entries))
        elif key == "backend":
            for group in _as_list(val):
                for btype, cfg in group.items():
                    blocks.append(Block("backend", [btype], [Attr(k, v, LITERAL) for k, v in (cfg or {}).items()]))
        elif key == "cloud":
            for cfg in _as_list(val):
                citems: list = []
                for k, v in cfg.items():
                    if k == "workspaces":
                        citems.extend(
                            Block("workspaces", [], [Attr(a, b, LITERAL) for a, b in w.items()]) for w in _as_list(v)
                        )
                    else:
                        citems.insert(0, Attr(k, v, LITERAL))
                blocks.append(Block("cloud", [], citems))
        elif key == "experiments":
            items.append(Attr(key, [_traversal(v) for v in val]))
        elif key == "provider_meta":
            for pname, cfg in _named_entries(val):
                blocks.append(Block("provider_meta", [pname], [Attr(k, v, LITERAL) for k, v in cfg.items()]))
        else:
            raise HclExportError(f"terraform: unsupported setting {key!r}")
    return Block("terraform", [], [*items, *blocks])


# ---------------------------------------------------------------------------------------------------------
# References (README diagram) and assets
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def terraform_fmt(text: str, *, binary: str | None = None) -> str:
    """``terraform fmt -`` on ``text``: Terraform's own parser checks the syntax and normalises layout.

    Returns ``text`` unchanged when terraform is not installed."""
    exe = binary or shutil.which("terraform")
    if exe is None:
        return text
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    proc = subprocess.run([exe, "fmt", "-no-color", "-"], input=text, text=True, capture_output=True, env=env)
    if proc.returncode != 0:
        raise HclExportError(f"terraform fmt rejected the exported HCL:\n{proc.stderr}\n--- text ---\n{text}")
    return proc.stdout


def _document(blocks: list[Block], header: list[str] | None = None) -> str:
    lines = [f"# {h}" for h in (header or [])]
    if header and blocks:
        lines.append("")
    lines.extend(render_items(blocks))
    return "\n".join(lines).rstrip("\n") + "\n"


_PLACEHOLDERS = (
    ("string", '"REPLACE_ME"'),
    ("number", "0"),
    ("bool", "false"),
    ("list", "[]"),
    ("set", "[]"),
    ("tuple", "[]"),
    ("map", "{}"),
    ("object", "{}"),
)


def _placeholder(type_expr: str | None) -> str:
    t = (type_expr or "").strip()
    for prefix, value in _PLACEHOLDERS:
        if t.startswith(prefix):
            return value
    return "null"


def _tfvars_example(variables: list[tuple[str, dict]]) -> str:
    lines = [
        "# Example variable values. Copy to terraform.tfvars (git-ignored) and edit.",
        "# Values shown are the defaults from variables.tf; REQUIRED ones have placeholders.",
    ]
    for name, body in variables:
        lines.append("")
        for dline in str(body.get("description") or "").splitlines():
            lines.append(f"# {dline}".rstrip())
        type_text = _traversal(body["type"]).text if "type" in body else "any"
        notes = [f"type: {' '.join(type_text.split())}"]
        if "default" not in body:
            notes.append("REQUIRED")
        if body.get("sensitive"):
            notes.append("sensitive: prefer TF_VAR_" + name + " or a private .tfvars file")
        lines.append("# " + "; ".join(notes))
        if body.get("sensitive"):
            lines.append(f"# {name} = {_placeholder(type_text)}")
        elif "default" in body:
            lines.append(f"{name} = {render_value(body['default'], LITERAL, '', allow_heredoc=True)}")
        else:
            lines.append(f"{name} = {_placeholder(type_text)}")
    return "\n".join(lines) + "\n"


_GITIGNORE = """\
# Terraform working directory and state (never commit state: it can hold secrets)
.terraform/
*.tfstate
*.tfstate.*
*.tfstate.backup
.terraform.tfstate.lock.info

# Variable files can hold secrets; the example is kept
*.tfvars
*.tfvars.json
!terraform.tfvars.example

# Saved plans
*.tfplan
*.plan
tfplan
plan.out

# Local overrides and crash logs
override.tf
override.tf.json
*_override.tf
*_override.tf.json
crash.log
crash.*.log
.terraformrc
terraform.rc
"""


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _md_code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _readme(
    title: str,
    stack_name: str,
    cdktf_version: str,
    variables: list[tuple[str, dict]],
    outputs: list[tuple[str, dict]],
    stack_json: dict,
    files: list[str],
    backend_note: str,
) -> str:
    out = [f"# {title}", ""]
    origin = f"the cdktf stack `{stack_name}`" if stack_name else "a cdktf stack"
    if cdktf_version:
        origin += f" (cdktf {cdktf_version})"
    out += [
        f"Plain Terraform exported by lambdaform from {origin}.",
        "It plans exactly like the synthesized `cdk.tf.json` and needs neither cdktf nor lambdaform:",
        "edit it like any Terraform code.",
        "",
        "## Usage",
        "",
        "```sh",
        "cp terraform.tfvars.example terraform.tfvars   # then edit",
        "terraform init",
        "terraform plan -out=tfplan",
        "terraform apply tfplan",
        "```",
        "",
    ]
    if backend_note:
        out += ["## State", "", backend_note, ""]
    out += ["## Files", "", "| File | Contents |", "| --- | --- |"]
    descriptions = {
        "versions.tf": "Terraform and provider version constraints, backend",
        "providers.tf": "Provider configurations",
        "variables.tf": "Input variables",
        "main.tf": "Locals, data sources and resources",
        "outputs.tf": "Outputs",
        "terraform.tfvars.example": "Example variable values",
        ".terraform.lock.hcl": "Provider dependency lock file from the cdktf stack",
    }
    for name in files:
        if name in descriptions:
            out.append(f"| `{name}` | {descriptions[name]} |")
    out.append("")

    nodes, _ = _dependency_graph(stack_json)
    out += ["## Resources", ""]
    if nodes:
        out += [
            "Arrows point from a resource to the resources that reference it (rounded: data sources).",
            "",
            "```mermaid",
            mermaid_flowchart(stack_json),
            "```",
            "",
        ]
    else:
        out += ["This configuration declares no resources.", ""]

    out += ["## Inputs", ""]
    if variables:
        out += ["| Name | Description | Type | Default | Required |", "| --- | --- | --- | --- | :---: |"]
        for name, body in variables:
            type_text = " ".join(_traversal(body["type"]).text.split()) if "type" in body else "any"
            if "default" not in body:
                default = "n/a"
            elif body.get("sensitive"):
                default = "(sensitive)"
            else:
                default = _md_code(_inline(body["default"]))
            required = "no" if "default" in body else "yes"
            description = _md_cell(body.get("description", ""))
            out.append(f"| `{name}` | {description} | {_md_code(type_text)} | {default} | {required} |")
    else:
        out.append("No inputs.")
    out += ["", "## Outputs", ""]
    if outputs:
        out += ["| Name | Description | Sensitive |", "| --- | --- | :---: |"]
        for name, body in outputs:
            sensitive = "yes" if body.get("sensitive") else "no"
            out.append(f"| `{name}` | {_md_cell(body.get('description', ''))} | {sensitive} |")
    else:
        out.append("No outputs.")
    return "\n".join(out) + "\n"


_TOP_LEVEL = {
    "//", "terraform", "provider", "variable", "output", "locals", "data", "resource", "module",
    "moved", "import", "removed", "ephemeral",
}


def export_stack(
    stack_json: dict,
    schema: dict,
    out_dir: Path,
    *,
    asset_dir: Path | None = None,
    title: str = "",
    required_version: str | None = DEFAULT_REQUIRED_VERSION,
    fmt: bool = True,
) -> list[Path]:
    """Write the stack as HCL files in ``out_dir``; return the paths written (files, assets, lock file).

    ``schema`` is the ``terraform providers schema -json`` document (see :func:`load_provider_schema`).
    ``asset_dir`` is the synthesized stack folder: files it holds that the stack refers to by relative path
    (``filename = "assets/..."``, ``filebase64sha256("assets/...")``) are copied under the same relative
    path, its ``.terraform.lock.hcl`` is copied, and a relative local-backend ``path`` is rewritten so it
    still names the same state file. ``required_version`` is used only when the stack sets none.
    ``fmt`` passes every file through ``terraform fmt -`` (when terraform is installed).
    """
    unknown = sorted(set(stack_json) - _TOP_LEVEL)
    if unknown:
        raise HclExportError(f"unsupported top-level keys in the stack: {', '.join(unknown)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    schemas = _Schemas(schema, stack_json)
    meta = (stack_json.get("//") or {}).get("metadata") or {}
    stack_name = str(meta.get("stackName") or "")
    cdktf_version = str(meta.get("version") or "")
    header = [f'Exported by lambdaform from the cdktf stack "{stack_name}".' if stack_name else "Exported by lambdaform."]

    # versions.tf --------------------------------------------------------------------------------------
    backend_note = ""
    tf_blocks = []
    for body in _as_list(stack_json.get("terraform")):
        body = json.loads(json.dumps(body))  # private copy: the backend path may be rewritten
        for backend in _as_list(body.get("backend")):
            local = backend.get("local")
            if isinstance(local, dict):
                path = local.get("path", "terraform.tfstate")
                if asset_dir is not None and not os.path.isabs(path):
                    state = Path(asset_dir).resolve() / path
                    here = out_dir.resolve()
                    shared = Path(os.path.commonpath([state, here]))
                    # relative when both live under one project folder, absolute across unrelated trees
                    new = os.path.relpath(state, here) if shared != Path(shared.anchor) else str(state)
                    local["path"] = Path(new).as_posix()
                    backend_note = (
                        "The `local` backend points at the state file the cdktf stack used "
                        f"(`{local['path']}`, relative to this folder), so `terraform plan` here sees the "
                        "deployed resources. Move the state (or `terraform init -migrate-state` to a remote "
                        "backend) before relocating this folder."
                    )
                else:
                    backend_note = f"The `local` backend keeps state in `{path}`."
        tf_blocks.append(_terraform_block(body, required_version))
    if not tf_blocks and required_version:
        tf_blocks.append(Block("terraform", [], [Attr("required_version", required_version, LITERAL)]))

    # providers.tf -------------------------------------------------------------------------------------
    provider_blocks = []
    for pname, configs in _named_entries(stack_json.get("provider")):
        sblock = schemas.provider(pname)
        for cfg in _as_list(configs):
            cfg = cfg or {}
            alias = [Attr("alias", cfg["alias"])] if "alias" in cfg else []
            attrs, blocks = _schema_body({k: v for k, v in cfg.items() if k != "alias"}, sblock, f"provider.{pname}")
            provider_blocks.append(Block("provider", [pname], [*alias, *attrs, *blocks]))

    # variables.tf / outputs.tf ------------------------------------------------------------------------
    variables = list(_named_entries(stack_json.get("variable")))
    outputs = list(_named_entries(stack_json.get("output")))
    variable_blocks = [_variable_block(n, b) for n, b in variables]
    output_blocks = [_output_block(n, b) for n, b in outputs]

    # main.tf ----------------------------------------------------------------------------------------
    main_blocks: list[Block] = []
    for group in _as_list(stack_json.get("locals")):
        entries = [Attr(k, v) for k, v in group.items() if k != "//"]
        if entries:
            main_blocks.append(Block("locals", [], entries))
    for kind in ("data", "ephemeral", "resource"):
        for type_name, name, body in _typed_entries(stack_json.get(kind)):
            main_blocks.append(_entity_block(kind, type_name, name, body, schemas))
    for name, body in _named_entries(stack_json.get("module")):
        main_blocks.append(_module_block(name, body))
    for kind in ("moved", "import", "removed"):
        main_blocks.extend(_refactor_block(kind, body) for body in _as_list(stack_json.get(kind)))

    texts: dict[str, str] = {
        "versions.tf": _document(tf_blocks, header),
        "providers.tf": _document(provider_blocks),
        "variables.tf": _document(variable_blocks),
        "main.tf": _document(main_blocks, header),
        "outputs.tf": _document(output_blocks),
        "terraform.tfvars.example": _tfvars_example(variables),
    }
    if fmt:
        texts = {name: terraform_fmt(text) for name, text in texts.items()}

    written: list[Path] = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    gitignore = out_dir / ".gitignore"
    gitignore.write_text(_GITIGNORE, encoding="utf-8")
    written.append(gitignore)

    if asset_dir is not None:
        asset_dir = Path(asset_dir)
        written.extend(_copy_assets(stack_json, asset_dir, out_dir))
        lock = asset_dir / ".terraform.lock.hcl"
        if lock.is_file():
            shutil.copy2(lock, out_dir / lock.name)
            written.append(out_dir / lock.name)

    file_names = [p.name for p in written if p.parent == out_dir]
    readme = out_dir / "README.md"
    readme.write_text(
        _readme(
            title or stack_name or out_dir.name,
            stack_name,
            cdktf_version,
            variables,
            outputs,
            stack_json,
            file_names,
            backend_note,
        ),
        encoding="utf-8",
    )
    written.append(readme)
    return written
