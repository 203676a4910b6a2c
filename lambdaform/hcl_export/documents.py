"""JSON documents held in strings (IAM and resource policies, event patterns, dashboards...) as ``jsonencode``.

cdktf writes a policy as one JSON string, ``policy = "{\\"Version\\":...}"``; hand-written Terraform writes
``policy = jsonencode({ Version = ... })``. :func:`json_document` turns a template string into such a value
only when that is provably the same document:

* the ``${...}`` interpolations are set aside as opaque tokens, and what is left must parse as one JSON
  object or array (no ``%{}`` directives, no duplicate keys, no ``NaN``/``Infinity``); each token must sit
  inside a JSON string, where it comes back as part of a template string;
* numbers keep their JSON text (no float rounding), strings are re-escaped for HCL templates;
* a JSON string that is exactly one interpolation becomes the bare expression only when the expression is
  known to be a string (``is_string``: a resource attribute or variable of type string); otherwise
  ``tostring(...)`` keeps the conversion the JSON string implied (``"5"``, not ``5``).

``jsonencode`` writes keys sorted and compact, so the attribute's text changes while its JSON value does
not: the AWS provider compares policies and patterns as JSON, and the plan-equivalence tests compare such
attributes by value. :func:`encode_documents` applies this to every template-position string attribute of
the blocks it is given (:mod:`.convert` gives it resources, data sources and providers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from lambdaform.hcl_export.syntax import TEMPLATE, Attr, Block, Call, Raw, _literal_to_template, split_template

_TOKEN = "\ue000{}\ue001"
_TOKEN_RE = re.compile("\ue000(\\d+)\ue001")


class _NotADocument(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _NotADocument("duplicate keys")
    return dict(pairs)


def _reject(text: str) -> None:
    raise _NotADocument(text)


def _with_tokens(parts: list[tuple[str, str]]) -> str:
    """The template's value with its ``n``-th interpolation replaced by token ``n`` (escapes undone)."""
    out, n = [], 0
    for kind, text in parts:
        if kind == "seq":
            out.append(_TOKEN.format(n))
            n += 1
        else:
            out.append(text.replace("$${", "${").replace("%%{", "%{"))
    return "".join(out)


def _template(text: str, seqs: list[str], used: set[int], is_string: Callable[[str], bool]) -> Any:
    """A decoded JSON string as an HCL template string (or a bare/``tostring`` expression)."""
    whole = _TOKEN_RE.fullmatch(text)
    if whole:
        n = int(whole.group(1))
        used.add(n)
        expr = seqs[n][2:-1].strip()
        if seqs[n][2:3] == "~" or seqs[n][-2:-1] == "~" or not expr:
            raise _NotADocument("strip markers")
        return seqs[n] if is_string(expr) else Raw(f"tostring({expr})")
    pieces = []
    split = _TOKEN_RE.split(text)
    for i, piece in enumerate(split):
        if i % 2:
            used.add(int(piece))
            pieces.append(seqs[int(piece)])
        elif piece.endswith("$") and i + 1 < len(split):
            raise _NotADocument("a literal $ before an interpolation would read as the escape $${")
        else:
            pieces.append(_literal_to_template(piece))
    return "".join(pieces)


def _hcl_value(value: Any, seqs: list[str], used: set[int], is_string: Callable[[str], bool]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, val in value.items():
            hcl_key = _template(key, seqs, used, lambda _: True)
            if not isinstance(hcl_key, str) or hcl_key in out:
                raise _NotADocument("key")
            out[hcl_key] = _hcl_value(val, seqs, used, is_string)
        return out
    if isinstance(value, list):
        return [_hcl_value(v, seqs, used, is_string) for v in value]
    if isinstance(value, str):
        return _template(value, seqs, used, is_string)
    return value  # Raw number text, True/False, None


def json_document(s: str, is_string: Callable[[str], bool]) -> Call | None:
    """The ``jsonencode`` value equal to the template ``s``, or None when ``s`` is not a JSON document."""
    if not s.lstrip().startswith(("{", "[")) or re.search("[\ue000\ue001]|\\\\u[eE]00[01]", s):
        return None  # the tokens' characters, raw or JSON-escaped, must not occur in the text
    try:
        parts = split_template(s)
    except ValueError:
        return None
    seqs = [text for kind, text in parts if kind == "seq"]
    if any(not seq.startswith("${") for seq in seqs):
        return None  # a directive's branches could span JSON strings
    try:
        value = json.loads(_with_tokens(parts), object_pairs_hook=_unique_keys, parse_float=Raw, parse_int=Raw,
                           parse_constant=_reject)
        if not isinstance(value, (dict, list)):
            return None
        used: set[int] = set()
        encoded = _hcl_value(value, seqs, used, is_string)
    except (ValueError, RecursionError):  # _NotADocument is a ValueError too
        return None
    return Call("jsonencode", encoded) if used == set(range(len(seqs))) else None


def encode_documents(items: list, is_string: Callable[[str], bool]) -> list:
    """``items`` (a body: attributes and blocks) with every template string attribute that holds a JSON
    document replaced by its ``jsonencode(...)`` :class:`Call`, nested blocks included."""
    for item in items:
        if isinstance(item, Block):
            encode_documents(item.items, is_string)
        elif isinstance(item, Attr) and item.ctx == TEMPLATE and isinstance(item.value, str):
            item.value = json_document(item.value, is_string) or item.value
    return items
