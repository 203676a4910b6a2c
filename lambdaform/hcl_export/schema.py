"""The provider schema: which names under a resource are attributes and which are nested blocks.

:func:`load_provider_schema` runs ``terraform providers schema -json`` once for the providers a stack
requires (in a scratch folder, no backend or state touched) and caches the document under a readable name
(:func:`schema_cache_name`); :class:`_Schemas` looks up the ``block`` schema of a resource, data source or
provider type in it, with Terraform's built-in ``terraform_data``/``terraform_remote_state`` added.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from lambdaform.hcl_export.syntax import HclExportError
from lambdaform.tfcli import Terraform
from lambdaform.tfcli import terraform as _terraform_cli

STACK_FILE = "cdk.tf.json"


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


_ATTRIBUTE_REF_RE = re.compile(r"(data\.)?([a-z][a-z0-9_]*)\.[A-Za-z_][\w-]*\.([A-Za-z_]\w*)\Z")


class _Schemas:
    """Looks up block schemas for resource, data source and provider types."""

    def __init__(self, schema: dict, stack_json: dict):
        self.providers: dict = schema.get("provider_schemas") or {}
        self.required = _required_providers(stack_json)
        variables = stack_json.get("variable")  # a list of such objects is legal too; types then stay unknown
        self.variable_types = {name: str(body.get("type", "")).strip("${} ") for name, body in variables.items()
                               if isinstance(body, dict)} if isinstance(variables, dict) else {}

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

    def is_string(self, expr: str) -> bool:
        """Whether ``expr`` is known to be a string: ``var.x`` of type string, or a string attribute of a
        resource or data source (``aws_iam_role.x.arn``, ``data.aws_partition.p.partition``)."""
        found = _ATTRIBUTE_REF_RE.match(expr.strip())
        if found is None:
            var = re.fullmatch(r"var\.([A-Za-z_][\w-]*)", expr.strip())
            return var is not None and self.variable_types.get(var.group(1)) == "string"
        kind = "data" if found.group(1) else "resource"
        try:
            block = self.entity(kind, found.group(2), None)
        except HclExportError:
            return False
        return (block.get("attributes") or {}).get(found.group(3), {}).get("type") == "string"

    def provider(self, local_name: str) -> dict:
        fqn = self.required.get(local_name, {}).get("source") or _provider_fqn(local_name)
        prov = self.providers.get(fqn)
        if prov is None or "provider" not in prov:
            raise HclExportError(f"provider {local_name!r} ({fqn}) is not in the provider schema")
        return prov["provider"]["block"]

