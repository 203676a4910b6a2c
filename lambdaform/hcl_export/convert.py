"""JSON stack -> HCL body model: one :class:`~lambdaform.hcl_export.syntax.Block` per Terraform block.

Resources, data sources and providers are split into attributes and nested blocks by the provider schema
(never guessed; an unknown name is an error); meta-arguments (``count``, ``for_each``, ``provider``,
``lifecycle``, ``depends_on``, provisioners) are placed in Terraform style order, and the positions whose
JSON strings are literals rather than templates (variable and output descriptions and defaults, the
``terraform`` block, module ``source``) are marked ``LITERAL``. The public functions at the end build the
blocks of each exported file; there, the string arguments of resources, data sources and providers that
hold a JSON document become ``jsonencode({...})`` (:mod:`.documents`). Locals, outputs and module inputs
keep their exact text: Terraform hands those on verbatim, to other configurations and to people.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdaform.hcl_export.documents import encode_documents
from lambdaform.hcl_export.schema import _Schemas
from lambdaform.hcl_export.syntax import LITERAL, TEMPLATE, Attr, Block, HclExportError, _as_list, _traversal


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
# The blocks of each exported file
# ---------------------------------------------------------------------------------------------------------


def terraform_blocks(settings: list[dict], required_version: str | None) -> list[Block]:
    """``versions.tf``: the ``terraform`` blocks; ``required_version`` is used only where a block sets none
    (and makes a block of its own when the stack has no ``terraform`` settings at all)."""
    blocks = [_terraform_block(body, required_version) for body in settings]
    if not blocks and required_version:
        blocks.append(Block("terraform", [], [Attr("required_version", required_version, LITERAL)]))
    return blocks


def provider_blocks(stack_json: dict, schemas: _Schemas) -> list[Block]:
    """``providers.tf``: one ``provider`` block per configuration, ``alias`` first."""
    blocks = []
    for pname, configs in _named_entries(stack_json.get("provider")):
        sblock = schemas.provider(pname)
        for cfg in _as_list(configs):
            cfg = cfg or {}
            alias = [Attr("alias", cfg["alias"])] if "alias" in cfg else []
            attrs, nested = _schema_body({k: v for k, v in cfg.items() if k != "alias"}, sblock, f"provider.{pname}")
            blocks.append(Block("provider", [pname], [*alias, *attrs, *nested]))
    return encode_documents(blocks, schemas.is_string)


def variable_blocks(variables: list[tuple[str, dict]]) -> list[Block]:
    """``variables.tf``: one ``variable`` block per ``(name, body)``."""
    return [_variable_block(name, body) for name, body in variables]


def output_blocks(outputs: list[tuple[str, dict]]) -> list[Block]:
    """``outputs.tf``: one ``output`` block per ``(name, body)``."""
    return [_output_block(name, body) for name, body in outputs]


def main_blocks(stack_json: dict, schemas: _Schemas) -> list[Block]:
    """``main.tf``: locals, data sources, ephemeral resources, resources, modules, then moved/import/removed."""
    blocks: list[Block] = []
    for group in _as_list(stack_json.get("locals")):
        entries = [Attr(k, v) for k, v in group.items() if k != "//"]
        if entries:
            blocks.append(Block("locals", [], entries))
    entities = [
        _entity_block(kind, type_name, name, body, schemas)
        for kind in ("data", "ephemeral", "resource")
        for type_name, name, body in _typed_entries(stack_json.get(kind))
    ]
    blocks.extend(encode_documents(entities, schemas.is_string))
    for name, body in _named_entries(stack_json.get("module")):
        blocks.append(_module_block(name, body))
    for kind in ("moved", "import", "removed"):
        blocks.extend(_refactor_block(kind, body) for body in _as_list(stack_json.get(kind)))
    return blocks
