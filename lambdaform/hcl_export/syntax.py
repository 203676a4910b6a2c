"""HCL syntax: strings, values and templates, and the HCL body model (``Attr``/``Block``) with its renderer.

The leaf of the package: it knows Terraform's template language and HCL's quoting, heredoc and block
layout rules, and nothing about stacks, providers or files. :class:`HclExportError` lives here because every
other module raises it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any


class HclExportError(ValueError):
    """The stack cannot be exported without losing or guessing something."""


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


@dataclass(frozen=True)
class Call:
    """``name(value)``: a function call whose one argument is an HCL value, e.g. ``jsonencode({...})``."""

    name: str
    value: Any


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
    if isinstance(value, Call):
        return f"{value.name}({render_value(value.value, ctx, indent)})"
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

