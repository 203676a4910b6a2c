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
* A string argument of a resource, data source or provider holding a JSON object or array (IAM/KMS/bucket
  policies, event patterns, dashboards) becomes ``jsonencode({...})``, keys in their original order, when
  that is provably the same JSON value (see :mod:`.documents`); ``jsonencode`` writes keys sorted, so such
  arguments are equal *as JSON*, not as text.
* Multi-line strings become a ``<<-EOT`` heredoc only when that yields the exact same value (value ends
  in a newline, no carriage returns, no whitespace-only lines, no leading tabs, ...); otherwise they are
  written as one escaped quoted string.

Each file is finally passed through ``terraform fmt -`` (Terraform's own parser), so a syntax error in the
export fails loudly here instead of in the ops team's pipeline.

The package reads in one direction, leaf modules first:

* :mod:`.syntax` - strings, values and templates (:func:`render_value`), the HCL body model
  (``Attr``/``Block``) and its renderer; :class:`HclExportError`.
* :mod:`.schema` - loading and caching the provider schema (:func:`load_provider_schema`).
* :mod:`.documents` - string attributes holding a JSON document (policies, patterns) -> ``jsonencode({...})``.
* :mod:`.convert` - JSON stack -> body model, block by block.
* :mod:`.references` - the dependency graph (README diagram) and the asset files the stack names.
* :mod:`.files` - one step per exported file, and :func:`export_stack` that runs them in order;
  README.md, ``.gitignore`` and ``terraform.tfvars.example`` come from ``templates/hcl/``.
"""

from __future__ import annotations

# The documented API is __all__; the body model, the template helpers and the names the tests reach for stay
# importable from here as they were before the split.
from lambdaform.hcl_export.files import DEFAULT_REQUIRED_VERSION, export_stack, terraform_fmt  # noqa: F401
from lambdaform.hcl_export.references import _copy_assets, mermaid_flowchart  # noqa: F401
from lambdaform.hcl_export.schema import STACK_FILE, load_provider_schema, schema_cache_name  # noqa: F401
from lambdaform.hcl_export.syntax import (  # noqa: F401
    LITERAL,
    TEMPLATE,
    Attr,
    Block,
    HclExportError,
    Raw,
    render_items,
    render_value,
    split_template,
)

__all__ = [
    "DEFAULT_REQUIRED_VERSION",
    "HclExportError",
    "export_stack",
    "load_provider_schema",
    "render_value",
    "schema_cache_name",
]
