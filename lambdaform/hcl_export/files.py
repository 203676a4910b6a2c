"""The exported directory: one small step per file, run in order by :func:`export_stack`.

``versions.tf``, ``providers.tf``, ``variables.tf``, ``main.tf`` and ``outputs.tf`` are the body model of
:mod:`~lambdaform.hcl_export.convert` rendered as HCL; ``terraform.tfvars.example``, ``.gitignore`` and
``README.md`` are rendered from the jinja2 templates in ``templates/hcl/``, every value (table rows, escaped
cells, rendered defaults) prepared here. All HCL texts are built and passed through ``terraform fmt -``
before the first file is written, so a stack that cannot be exported leaves no half-written HCL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lambdaform.hcl_export.convert import (
    _named_entries,
    main_blocks,
    output_blocks,
    provider_blocks,
    terraform_blocks,
    variable_blocks,
)
from lambdaform.hcl_export.references import _copy_assets, _dependency_graph, mermaid_flowchart
from lambdaform.hcl_export.schema import _Schemas
from lambdaform.hcl_export.syntax import (
    LITERAL,
    Block,
    HclExportError,
    _as_list,
    _inline,
    _traversal,
    render_items,
    render_value,
)
from lambdaform.render import render

DEFAULT_REQUIRED_VERSION = ">= 1.6.0"
"""Written to ``versions.tf`` when the stack has no ``required_version`` of its own."""

_TOP_LEVEL = {
    "//", "terraform", "provider", "variable", "output", "locals", "data", "resource", "module",
    "moved", "import", "removed", "ephemeral",
}


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


# ---------------------------------------------------------------------------------------------------------
# One export: what every step reads
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Export:
    stack_json: dict
    schemas: _Schemas
    out_dir: Path
    asset_dir: Path | None
    required_version: str | None
    stack_name: str
    cdktf_version: str
    settings: list[dict]
    """The stack's ``terraform`` blocks (private copies) with a relative local-backend path relocated."""
    backend_note: str
    """The README's ``## State`` paragraph; empty without a local backend."""
    variables: list[tuple[str, dict]]
    outputs: list[tuple[str, dict]]

    @property
    def header(self) -> list[str]:
        if self.stack_name:
            return [f'Exported by lambdaform from the cdktf stack "{self.stack_name}".']
        return ["Exported by lambdaform."]


def _relocate_local_backend(local: dict, asset_dir: Path | None, out_dir: Path) -> str:
    """Rewrite a relative local-backend ``path`` so it names the same state file from ``out_dir``; return the
    README's note on state."""
    path = local.get("path", "terraform.tfstate")
    if asset_dir is None or os.path.isabs(path):
        return f"The `local` backend keeps state in `{path}`."
    state = Path(asset_dir).resolve() / path
    here = out_dir.resolve()
    shared = Path(os.path.commonpath([state, here]))
    # relative when both live under one project folder, absolute across unrelated trees
    new = os.path.relpath(state, here) if shared != Path(shared.anchor) else str(state)
    local["path"] = Path(new).as_posix()
    return (
        "The `local` backend points at the state file the cdktf stack used "
        f"(`{local['path']}`, relative to this folder), so `terraform plan` here sees the "
        "deployed resources. Move the state (or `terraform init -migrate-state` to a remote "
        "backend) before relocating this folder."
    )


def _prepare(
    stack_json: dict, schema: dict, out_dir: Path, asset_dir: Path | None, required_version: str | None
) -> _Export:
    unknown = sorted(set(stack_json) - _TOP_LEVEL)
    if unknown:
        raise HclExportError(f"unsupported top-level keys in the stack: {', '.join(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = (stack_json.get("//") or {}).get("metadata") or {}
    settings: list[dict] = []
    backend_note = ""
    for body in _as_list(stack_json.get("terraform")):
        body = json.loads(json.dumps(body))  # private copy: the backend path may be rewritten
        for backend in _as_list(body.get("backend")):
            if isinstance(backend.get("local"), dict):
                backend_note = _relocate_local_backend(backend["local"], asset_dir, out_dir)
        settings.append(body)
    return _Export(
        stack_json=stack_json,
        schemas=_Schemas(schema, stack_json),
        out_dir=out_dir,
        asset_dir=None if asset_dir is None else Path(asset_dir),
        required_version=required_version,
        stack_name=str(meta.get("stackName") or ""),
        cdktf_version=str(meta.get("version") or ""),
        settings=settings,
        backend_note=backend_note,
        variables=list(_named_entries(stack_json.get("variable"))),
        outputs=list(_named_entries(stack_json.get("output"))),
    )


# ---------------------------------------------------------------------------------------------------------
# The HCL files
# ---------------------------------------------------------------------------------------------------------


def _document(blocks: list[Block], header: list[str] | None = None) -> str:
    lines = [f"# {h}" for h in (header or [])]
    if header and blocks:
        lines.append("")
    lines.extend(render_items(blocks))
    return "\n".join(lines).rstrip("\n") + "\n"


def _versions_tf(job: _Export) -> str:
    return _document(terraform_blocks(job.settings, job.required_version), job.header)


def _providers_tf(job: _Export) -> str:
    return _document(provider_blocks(job.stack_json, job.schemas))


def _variables_tf(job: _Export) -> str:
    return _document(variable_blocks(job.variables))


def _main_tf(job: _Export) -> str:
    return _document(main_blocks(job.stack_json, job.schemas), job.header)


def _outputs_tf(job: _Export) -> str:
    return _document(output_blocks(job.outputs))


# ---------------------------------------------------------------------------------------------------------
# The files around it (templates/hcl/)
# ---------------------------------------------------------------------------------------------------------

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


def _type_text(body: dict) -> str:
    """A variable's type expression on one line (``any`` when it declares none)."""
    return " ".join(_traversal(body["type"]).text.split()) if "type" in body else "any"


def _tfvars_entry(name: str, body: dict) -> dict:
    type_text = _type_text(body)
    sensitive = bool(body.get("sensitive"))
    notes = [f"type: {type_text}"]
    if "default" not in body:
        notes.append("REQUIRED")
    if sensitive:
        notes.append("sensitive: prefer TF_VAR_" + name + " or a private .tfvars file")
    if sensitive or "default" not in body:
        value = _placeholder(type_text)
    else:
        value = render_value(body["default"], LITERAL, "", allow_heredoc=True)
    return {
        "name": name,
        "description": [line.rstrip() for line in str(body.get("description") or "").splitlines()],
        "notes": notes,
        "commented": sensitive,  # a secret's value is never suggested in a file that may be copied around
        "value": value,
    }


def _tfvars_example(job: _Export) -> str:
    entries = [_tfvars_entry(name, body) for name, body in job.variables]
    return render("hcl/terraform.tfvars.example.j2", variables=entries)


def _gitignore() -> str:
    return render("hcl/gitignore.j2")


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _md_code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


_FILE_DESCRIPTIONS = {
    "versions.tf": "Terraform and provider version constraints, backend",
    "providers.tf": "Provider configurations",
    "variables.tf": "Input variables",
    "main.tf": "Locals, data sources and resources",
    "outputs.tf": "Outputs",
    "terraform.tfvars.example": "Example variable values",
    ".terraform.lock.hcl": "Provider dependency lock file from the cdktf stack",
}


def _input_row(name: str, body: dict) -> dict:
    if "default" not in body:
        default = "n/a"
    elif body.get("sensitive"):
        default = "(sensitive)"
    else:
        default = _md_code(_inline(body["default"]))
    return {
        "name": name,
        "description": _md_cell(body.get("description", "")),
        "type": _md_code(_type_text(body)),
        "default": default,
        "required": "no" if "default" in body else "yes",
    }


def _output_row(name: str, body: dict) -> dict:
    return {
        "name": name,
        "description": _md_cell(body.get("description", "")),
        "sensitive": "yes" if body.get("sensitive") else "no",
    }


def _readme(job: _Export, title: str, files: list[str]) -> str:
    origin = f"the cdktf stack `{job.stack_name}`" if job.stack_name else "a cdktf stack"
    if job.cdktf_version:
        origin += f" (cdktf {job.cdktf_version})"
    nodes, _ = _dependency_graph(job.stack_json)
    return render(
        "hcl/README.md.j2",
        title=title or job.stack_name or job.out_dir.name,
        origin=origin,
        backend_note=job.backend_note,
        files=[{"name": name, "description": _FILE_DESCRIPTIONS[name]} for name in files if name in _FILE_DESCRIPTIONS],
        flowchart=mermaid_flowchart(job.stack_json) if nodes else "",
        inputs=[_input_row(name, body) for name, body in job.variables],
        outputs=[_output_row(name, body) for name, body in job.outputs],
    )


def _copy_stack_files(job: _Export) -> list[Path]:
    """The assets the stack refers to and the provider lock file, copied from the synthesized stack folder."""
    if job.asset_dir is None:
        return []
    copied = _copy_assets(job.stack_json, job.asset_dir, job.out_dir)
    lock = job.asset_dir / ".terraform.lock.hcl"
    if lock.is_file():
        shutil.copy2(lock, job.out_dir / lock.name)
        copied.append(job.out_dir / lock.name)
    return copied


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------
# The export
# ---------------------------------------------------------------------------------------------------------


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
    job = _prepare(stack_json, schema, Path(out_dir), asset_dir, required_version)
    texts = {
        "versions.tf": _versions_tf(job),
        "providers.tf": _providers_tf(job),
        "variables.tf": _variables_tf(job),
        "main.tf": _main_tf(job),
        "outputs.tf": _outputs_tf(job),
        "terraform.tfvars.example": _tfvars_example(job),
    }
    if fmt:
        texts = {name: terraform_fmt(text) for name, text in texts.items()}
    written = [_write(job.out_dir / name, text) for name, text in texts.items()]
    written.append(_write(job.out_dir / ".gitignore", _gitignore()))
    written.extend(_copy_stack_files(job))
    files = [p.name for p in written if p.parent == job.out_dir]
    written.append(_write(job.out_dir / "README.md", _readme(job, title, files)))
    return written
