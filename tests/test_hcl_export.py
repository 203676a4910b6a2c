"""HCL export: cdk.tf.json -> readable Terraform that plans exactly like the JSON.

Fast tests use a tiny hand-written provider schema. The ``slow`` ones run Terraform against the provider
mirror (via lambdaform.tfcli) on the checked-in fixture stack ``tests/fixtures/hcl/stack`` (regenerate with
``tests/fixtures/hcl/make_fixture.py``): fmt, init + validate, plan equivalence, hcl2 round trip, and a
corpus of tricky values planned through both syntaxes.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from lambdaform.hcl_export import (
    LITERAL,
    TEMPLATE,
    HclExportError,
    export_stack,
    load_provider_schema,
    mermaid_flowchart,
    terraform_fmt,
    render_value,
    schema_cache_name,
)
from lambdaform.hcl_export.documents import json_document
from lambdaform.tfcli import terraform
from support import json_values

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "hcl"
STACK = FIXTURE / "stack"
AWS = "registry.terraform.io/hashicorp/aws"


# ---------------------------------------------------------------------------------------------------------
# A tiny provider schema (same shape as `terraform providers schema -json`)
# ---------------------------------------------------------------------------------------------------------


def _a(type_="string", **extra):
    return {"type": type_, "optional": True, **extra}


def _tiny_schema() -> dict:
    lambda_block = {
        "attributes": {
            "function_name": _a(),
            "role": _a(),
            "filename": _a(),
            "source_code_hash": _a(),
            "memory_size": _a("number"),
            "architectures": _a(["list", "string"]),
            "tags": _a(["map", "string"]),
        },
        "block_types": {
            "environment": {
                "nesting_mode": "list",
                "max_items": 1,
                "block": {"attributes": {"variables": _a(["map", "string"])}},
            },
            "timeouts": {"nesting_mode": "single", "block": {"attributes": {"create": _a()}}},
        },
    }
    policy_doc = {
        "attributes": {"json": {"type": "string", "computed": True}},
        "block_types": {
            "statement": {
                "nesting_mode": "list",
                "block": {
                    "attributes": {"sid": _a(), "actions": _a(["set", "string"]), "resources": _a(["set", "string"])},
                    "block_types": {
                        "principals": {
                            "nesting_mode": "set",
                            "block": {"attributes": {"type": _a(), "identifiers": _a(["set", "string"])}},
                        }
                    },
                },
            }
        },
    }
    return {
        "format_version": "1.0",
        "provider_schemas": {
            AWS: {
                "provider": {
                    "block": {
                        "attributes": {"region": _a()},
                        "block_types": {
                            "default_tags": {
                                "nesting_mode": "list",
                                "max_items": 1,
                                "block": {"attributes": {"tags": _a(["map", "string"])}},
                            }
                        },
                    }
                },
                "resource_schemas": {
                    "aws_lambda_function": {"block": lambda_block},
                    "aws_iam_role": {"block": {"attributes": {"name": _a(), "assume_role_policy": _a(), "tags": _a(["map", "string"])}}},
                    "aws_cloudwatch_log_group": {"block": {"attributes": {"name": _a(), "tags": _a(["map", "string"])}}},
                },
                "data_source_schemas": {"aws_iam_policy_document": {"block": policy_doc}},
            }
        },
    }


def _stack(**top) -> dict:
    base = {"terraform": {"required_providers": {"aws": {"source": "aws", "version": "5.100.0"}}}}
    base.update(top)
    return base


def _export(tmp_path: Path, stack: dict, schema: dict | None = None, **kw) -> dict[str, str]:
    out = tmp_path / "hcl"
    export_stack(stack, schema if schema is not None else _tiny_schema(), out, fmt=False, **kw)
    return {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}


def _loads(text: str) -> dict:
    return hcl2.loads(text, serialization_options=SerializationOptions(with_comments=False, strip_string_quotes=True))


# ---------------------------------------------------------------------------------------------------------
# Strings and values
# ---------------------------------------------------------------------------------------------------------


def test_whole_interpolation_becomes_bare_expression():
    assert render_value("${aws_iam_role.x.arn}") == "aws_iam_role.x.arn"
    assert render_value("${ var.x }") == "var.x"
    # braces and quotes inside the expression do not end it early
    assert render_value('${lookup(var.m, "a}b", "{")}') == 'lookup(var.m, "a}b", "{")'
    assert render_value('${merge(var.t, {"Env" = "x"})}') == 'merge(var.t, {"Env" = "x"})'


def test_templates_with_text_stay_quoted_and_keep_sequences_verbatim():
    assert render_value("${local.p}-api") == '"${local.p}-api"'
    assert render_value("${a}${b}") == '"${a}${b}"'  # two interpolations: a string, not a bare expression
    assert render_value("x-${upper(\"a\")}") == '"x-${upper("a")}"'  # quotes inside ${} are not escaped
    assert render_value("${~ var.x ~}") == '"${~ var.x ~}"'  # strip markers only mean something in a template
    assert render_value('%{ if var.on }"y"%{ endif }') == '"%{ if var.on }\\"y\\"%{ endif }"'


def test_literal_characters_are_escaped_for_hcl():
    assert render_value("C:\\temp\\new") == '"C:\\\\temp\\\\new"'
    assert render_value('say "hi"') == '"say \\"hi\\""'
    assert render_value("a\nb\tc\rd") == '"a\\nb\\tc\\rd"'
    assert render_value("bell\x07del\x7f") == '"bell\\u0007del\\u007f"'
    assert render_value("café ☃") == '"café ☃"'
    # invisible characters (line separator, bidi override, tag) are spelled out, not hidden in the file
    assert render_value("a\u2028b\u202ec\U000e0001") == '"a\\u2028b\\u202ec\\U000e0001"'
    assert render_value("\\${var.x}") == '"\\\\${var.x}"'  # an escaped backslash, then a real interpolation
    # template escapes mean the same in both syntaxes and are copied as-is
    assert render_value("cost $${x} %%{y}") == '"cost $${x} %%{y}"'


def test_literal_positions_escape_template_sequences():
    # variable defaults/descriptions are not templates in JSON: "${" there is text
    assert render_value("a ${b} %{c} $${d}", LITERAL) == '"a $${b} %%{c} $$${d}"'
    assert render_value("${var.x}", LITERAL) == '"$${var.x}"'
    assert render_value("${var.x}", TEMPLATE) == "var.x"


def test_heredoc_only_where_it_keeps_the_exact_value():
    doc = render_value("version: 0.0\n  key: v\n", indent="  ", allow_heredoc=True)
    assert doc == "<<-EOT\n    version: 0.0\n      key: v\n  EOT"
    # no trailing newline: a heredoc would add one, so stay quoted
    assert render_value('{\n  "a": 1\n}', allow_heredoc=True) == '"{\\n  \\"a\\": 1\\n}"'
    # all lines indented: `<<-` would strip that indentation, so use the plain form
    assert render_value("  a\n    b\n", allow_heredoc=True) == "<<EOT\n  a\n    b\nEOT"
    # whitespace-only line, CRLF, leading tab, trailing blank: quoted
    for value in ("x\n  \ny\n", "a\r\nb\r\n", "\ta\nb\n", "a \nb\n"):
        assert render_value(value, allow_heredoc=True).startswith('"'), value
    # the marker never collides with a content line
    assert render_value("EOT\nx\n", allow_heredoc=True).startswith("<<-EOT1\n")
    # single-line value or heredoc not allowed here: quoted
    assert render_value("one line\n", allow_heredoc=True) == '"one line\\n"'
    assert render_value("a\nb\n") == '"a\\nb\\n"'


def test_numbers_collections_and_object_keys():
    assert [render_value(v) for v in (None, True, False, 3, 3.5, 1e20, 0.1, -7)] == [
        "null", "true", "false", "3", "3.5", "1e+20", "0.1", "-7",
    ]
    assert render_value([]) == "[]" and render_value({}) == "{}"
    assert render_value(["a", "${var.b}", 1]) == '["a", var.b, 1]'
    keys = {"Name": 1, "kubernetes.io/role": 2, "for": 3, "null": 4, "${var.k}": 5, "a-${var.k}": 6, "with space": 7}
    text = render_value(keys)
    assert text.splitlines()[1:-1] == [
        "  Name = 1",
        '  "kubernetes.io/role" = 2',
        '  "for" = 3',
        '  "null" = 4',
        "  (var.k) = 5",
        '  "a-${var.k}" = 6',
        '  "with space" = 7',
    ]
    nested = render_value([{"a": [1, 2]}, {"b": {"c": None}}], indent="  ")
    assert _loads(f"x = {nested}\n")["x"] == [{"a": [1, 2]}, {"b": {"c": None}}]


# ---------------------------------------------------------------------------------------------------------
# Schema-driven bodies and meta-arguments
# ---------------------------------------------------------------------------------------------------------

_FN_BODY = {
    "//": {"metadata": {"path": "app/fn", "uniqueId": "fn"}},
    "function_name": "fn",
    "role": "${aws_iam_role.r.arn}",
    "environment": {"variables": {"A": "1", "PATH_LIKE": "C:\\x"}},
    "tags": {"Name": "fn"},
}


def _document(s: str, strings=("aws_iam_role.r.arn", "var.name")) -> str | None:
    doc = json_document(s, lambda expr: expr in strings)
    return None if doc is None else render_value(doc)


def test_json_documents_become_jsonencode_objects_in_original_key_order():
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::${aws_s3_bucket.b.bucket}/*",
        "Principal": {"AWS": "${aws_iam_role.r.arn}"}, "Condition": {"NumericLessThan": {"s3:max-keys": 10.50}},
        "Sid": "$${not_a_ref}", "kms:Encryption": None, "Bool": True}]})
    assert terraform_fmt(f"policy = {_document(policy)}\n") == """policy = jsonencode({
  Version = "2012-10-17"
  Statement = [
    {
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "arn:aws:s3:::${aws_s3_bucket.b.bucket}/*"
      Principal = {
        AWS = aws_iam_role.r.arn
      }
      Condition = {
        NumericLessThan = {
          "s3:max-keys" = 10.5
        }
      }
      Sid              = "$${not_a_ref}"
      "kms:Encryption" = null
      Bool             = true
    },
  ]
})
"""
    assert _document('[1.50, 100000000000000000001, "\\u0024{x}", "q\\"t"]') == (
        'jsonencode([1.50, 100000000000000000001, "$${x}", "q\\"t"])')  # number text kept; a decoded "${" stays literal
    # a whole interpolation is bare only when it is known to be a string; JSON strings stay strings
    assert _document('{"Count": "${var.n}", "Name": "${var.name}"}') == (
        "jsonencode({\n  Count = tostring(var.n)\n  Name = var.name\n})")


@pytest.mark.parametrize("text", [
    "not json", '"a string"', "42", "{broken", '{"a": 1, "a": 2}', '{"n": NaN}', '{"n": ${var.n}}',
    '{"a": "%{ if var.x }y%{ endif }"}', '{"a": "${~ var.x ~}"}', "{} trailing", "", '["\\u0024${var.x}"]',
])
def test_strings_that_are_not_json_documents_are_left_alone(text):
    assert _document(text) is None


def test_export_encodes_documents_in_resource_arguments_only(tmp_path):
    """Resource (and nested block) arguments become jsonencode, typed by the schema; locals and outputs are
    handed on verbatim by Terraform, so they keep their exact text."""
    doc = '{"Statement":[{"Principal":{"AWS":"${aws_iam_role.r.name}"},"Resource":"${aws_iam_role.r.tags}"}]}'
    files = _export(tmp_path, _stack(
        resource={"aws_iam_role": {"r": {"name": "r", "assume_role_policy": doc}},
                  "aws_lambda_function": {"f": {"function_name": "f", "environment": {"variables": {"P": doc}},
                                                "timeouts": {"create": '["5m"]'}}}},
        locals={"doc": doc}, output={"doc": {"value": doc}},
    ))
    main = files["main.tf"]
    assert "assume_role_policy = jsonencode({" in main
    assert "AWS = aws_iam_role.r.name" in main and "Resource = tostring(aws_iam_role.r.tags)" in main
    assert 'create = jsonencode(["5m"])' in main  # an argument of a nested block
    assert main.count("jsonencode") == 2, "a map value is not an argument of its own"
    assert _loads(main)["locals"][0]["doc"] == doc
    assert "jsonencode" not in files["outputs.tf"]


def test_plan_comparison_sees_json_values_not_json_text():
    """The plan-equivalence proof compares JSON documents by value: key order and whitespace do not count,
    an extra action does."""
    exported = {"policy": '{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"}'}
    original = {"policy": '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]}'}
    widened = {"policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"]}]}'}
    assert exported != original and json_values(exported) == json_values(original)
    assert json_values(widened) != json_values(original)
    assert json_values({"name": "a b"}) != json_values({"name": "a  b"}), "other strings stay exact"
    assert json_values({"n": "[1, 2]"}) != json_values({"n": "[2, 1]"}), "array order is part of the value"


def test_block_or_map_attribute_is_decided_by_the_schema(tmp_path):
    stack = _stack(resource={"aws_lambda_function": {"fn": copy.deepcopy(_FN_BODY)}})
    as_block = _loads(_export(tmp_path / "a", stack)["main.tf"])
    fn = as_block["resource"][0]["aws_lambda_function"]["fn"]
    assert fn["environment"] == [{"variables": {"A": "1", "PATH_LIKE": "C:\\x"}, "__is_block__": True}]
    assert fn["tags"] == {"Name": "fn"}  # map attribute, not a block
    assert "//" not in fn

    # The very same JSON under a schema where `environment` is an object attribute is written as one.
    schema = _tiny_schema()
    fn_schema = schema["provider_schemas"][AWS]["resource_schemas"]["aws_lambda_function"]["block"]
    fn_schema["block_types"].pop("environment")
    fn_schema["attributes"]["environment"] = _a(["object", {"variables": ["map", "string"]}])
    text = _export(tmp_path / "b", stack, schema)["main.tf"]
    assert "  environment = {\n" in text
    assert _loads(text)["resource"][0]["aws_lambda_function"]["fn"]["environment"] == {
        "variables": {"A": "1", "PATH_LIKE": "C:\\x"}
    }


def test_repeated_and_nested_blocks(tmp_path):
    doc = {
        "statement": [
            {"sid": "One", "actions": ["s3:GetObject"], "resources": ["*"]},
            {
                "sid": "Two",
                "actions": ["sts:AssumeRole"],
                "principals": [
                    {"type": "Service", "identifiers": ["lambda.amazonaws.com"]},
                    {"type": "AWS", "identifiers": ["${aws_iam_role.r.arn}"]},
                ],
            },
        ]
    }
    parsed = _loads(_export(tmp_path, _stack(data={"aws_iam_policy_document": {"p": doc}}))["main.tf"])
    statements = parsed["data"][0]["aws_iam_policy_document"]["p"]["statement"]
    assert [s["sid"] for s in statements] == ["One", "Two"]
    assert [p["type"] for p in statements[1]["principals"]] == ["Service", "AWS"]
    assert statements[1]["principals"][1]["identifiers"] == ["${aws_iam_role.r.arn}"]


def test_meta_arguments_follow_terraform_rules(tmp_path):
    body = copy.deepcopy(_FN_BODY)
    body.update(
        {
            "count": "${var.on ? 1 : 0}",
            "provider": "aws.west",
            "depends_on": ["aws_iam_role.r", "${data.aws_iam_policy_document.p}"],
            "lifecycle": {
                "create_before_destroy": True,
                "ignore_changes": ["tags", "environment[0].variables"],
                "replace_triggered_by": ["aws_iam_role.r.id"],
                "postcondition": [{"condition": "${self.function_name != \"\"}", "error_message": "empty ${self.role}"}],
            },
            "provisioner": [{"local-exec": {"command": "echo ${self.function_name}", "when": "destroy", "on_failure": "continue"}}],
            "dynamic": {
                "timeouts": {"for_each": "${var.t}", "iterator": "t", "content": {"create": "${t.value}"}},
            },
        }
    )
    text = _export(tmp_path, _stack(resource={"aws_lambda_function": {"fn": body}}))["main.tf"]
    for line in (
        "# cdktf: app/fn",
        '  count = var.on ? 1 : 0',
        "  provider = aws.west",
        "  depends_on = [aws_iam_role.r, data.aws_iam_policy_document.p]",
        "    ignore_changes = [tags, environment[0].variables]",
        "    replace_triggered_by = [aws_iam_role.r.id]",
        '      condition = self.function_name != ""',
        '      error_message = "empty ${self.role}"',
        '  provisioner "local-exec" {',
        "    when = destroy",
        "    on_failure = continue",
        '  dynamic "timeouts" {',
        "    iterator = t",
        "      create = t.value",
    ):
        assert line in text.splitlines(), line
    # Terraform style order: count/provider first, lifecycle then depends_on last
    lines = text.splitlines()
    assert lines.index("  count = var.on ? 1 : 0") < lines.index("  function_name = \"fn\"")
    assert lines.index("  lifecycle {") < lines.index("  depends_on = [aws_iam_role.r, data.aws_iam_policy_document.p]")
    assert "ignore_changes = all" in _export(
        tmp_path / "all", _stack(resource={"aws_iam_role": {"r": {"name": "r", "lifecycle": {"ignore_changes": "all"}}}})
    )["main.tf"]


def test_modules_and_refactoring_blocks(tmp_path):
    stack = _stack(
        module={"net": {"source": "./modules/net", "version": "1.2.${x}", "providers": {"aws": "aws.west"},
                        "cidr": "${var.cidr}", "depends_on": ["aws_iam_role.r"]}},
        moved=[{"from": "aws_iam_role.old", "to": "aws_iam_role.r"}],
        **{"import": [{"to": "aws_iam_role.r", "id": "role-${var.env}"}]},
    )
    text = _export(tmp_path, stack)["main.tf"]
    for line in (
        'module "net" {',
        '  source = "./modules/net"',
        '  version = "1.2.$${x}"',  # module source/version are literal strings
        "  cidr = var.cidr",
        "    aws = aws.west",
        "  depends_on = [aws_iam_role.r]",
        "  from = aws_iam_role.old",
        "  to = aws_iam_role.r",
        '  id = "role-${var.env}"',
    ):
        assert line in text.splitlines(), line


def test_unknown_names_are_errors_not_guesses(tmp_path):
    with pytest.raises(HclExportError, match="'colour' is neither an attribute nor a nested block"):
        _export(tmp_path / "1", _stack(resource={"aws_iam_role": {"r": {"name": "r", "colour": "red"}}}))
    with pytest.raises(HclExportError, match="aws_nope"):
        _export(tmp_path / "2", _stack(resource={"aws_nope": {"r": {}}}))
    with pytest.raises(HclExportError, match="nested block cannot be set from an expression"):
        _export(tmp_path / "3", _stack(resource={"aws_lambda_function": {"f": {"environment": "${var.e}"}}}))
    with pytest.raises(HclExportError, match="check"):
        _export(tmp_path / "4", _stack(check={"c": {}}))
    with pytest.raises(HclExportError, match="unterminated"):
        _export(tmp_path / "5", _stack(resource={"aws_iam_role": {"r": {"name": "${var.x"}}}))


def test_terraform_provider_variable_and_output_blocks(tmp_path):
    stack = {
        "//": {"metadata": {"stackName": "demo", "version": "0.21.0"}},
        "terraform": {
            "required_providers": {"aws": {"source": "aws", "version": "5.100.0"}},
            "backend": {"local": {"path": "terraform.demo.tfstate"}},
        },
        "provider": {"aws": [{"region": "eu-west-1", "default_tags": [{"tags": {"a": "b"}}]}, {"alias": "west", "region": "us-west-2"}]},
        "variable": {
            "env": {
                "type": "string",
                "default": "dev ${x}",
                "description": "Line one\nline ${two}",
                "nullable": False,
                "validation": [{"condition": "${length(var.env) > 0}", "error_message": "Set env."}],
            },
            "secret": {"type": "string", "sensitive": True},
            "sizes": {"type": "list(number)", "default": [1, 2]},
        },
        "output": {
            "arn": {"value": "${aws_iam_role.r.arn}", "description": "The ${arn}.", "sensitive": True},
        },
    }
    asset_dir = tmp_path / "proj" / "cdktf.out" / "stacks" / "demo"
    asset_dir.mkdir(parents=True)
    files = _export(tmp_path / "proj" / "infra", stack, asset_dir=asset_dir)
    versions = _loads(files["versions.tf"])["terraform"][0]
    assert versions["required_version"] == ">= 1.6.0"
    assert versions["backend"][0]["local"]["path"] == "../../cdktf.out/stacks/demo/terraform.demo.tfstate"
    assert versions["required_providers"][0]["aws"] == {"source": "aws", "version": "5.100.0"}

    providers = _loads(files["providers.tf"])["provider"]
    assert providers[0]["aws"]["default_tags"] == [{"tags": {"a": "b"}, "__is_block__": True}]
    assert providers[1]["aws"]["alias"] == "west"

    variables = files["variables.tf"]
    assert '  default = "dev $${x}"' in variables  # defaults are literal: `${` must not interpolate
    assert '  description = "Line one\\nline $${two}"' in variables
    assert "  type = list(number)" in variables and "  nullable = false" in variables
    assert "    condition = length(var.env) > 0" in variables
    outputs = files["outputs.tf"]
    assert '  description = "The $${arn}."' in outputs and "  sensitive = true" in outputs
    assert "  value = aws_iam_role.r.arn" in outputs


def test_relative_local_backend_path_keeps_naming_the_same_state_file(tmp_path):
    stack = _stack()
    stack["terraform"]["backend"] = {"local": {"path": "terraform.demo.tfstate"}}
    asset_dir = tmp_path / "proj" / "cdktf.out" / "stacks" / "demo"
    asset_dir.mkdir(parents=True)
    out = tmp_path / "proj" / "infra"
    export_stack(stack, _tiny_schema(), out, asset_dir=asset_dir, fmt=False)
    path = _loads((out / "versions.tf").read_text())["terraform"][0]["backend"][0]["local"]["path"]
    assert path == "../cdktf.out/stacks/demo/terraform.demo.tfstate"
    assert (out / path).resolve() == (asset_dir / "terraform.demo.tfstate").resolve()
    assert "terraform.demo.tfstate" in (out / "README.md").read_text()


# ---------------------------------------------------------------------------------------------------------
# README, tfvars example, .gitignore, assets, schema cache
# ---------------------------------------------------------------------------------------------------------


def _docs_stack() -> dict:
    return _stack(
        **{
            "//": {"metadata": {"stackName": "docs", "version": "0.21.0"}},
            "variable": {
                "env": {"type": "string", "default": "dev", "description": "Environment.\nTwo lines | pipe."},
                "region": {"type": "string", "description": "Required region."},
                "tags": {"type": "map(string)", "default": {"team": "ops", "kubernetes.io/x": "y"}},
                "token": {"type": "string", "default": "s3cr3t", "sensitive": True, "description": "API token."},
            },
            "output": {
                "arn": {"value": "${aws_lambda_function.fn.arn}", "description": "Function ARN."},
                "env": {"value": "${aws_lambda_function.fn.environment}", "sensitive": True},
            },
            "locals": {"role_arn": "${aws_iam_role.r.arn}", "indirect": "${local.role_arn}"},
            "data": {"aws_iam_policy_document": {"p": {"statement": [{"actions": ["s3:*"]}]}}},
            "resource": {
                "aws_iam_role": {"r": {"name": "r", "assume_role_policy": "${data.aws_iam_policy_document.p.json}"}},
                "aws_cloudwatch_log_group": {"logs": {"name": "/aws/lambda/fn"}},
                "aws_lambda_function": {
                    "fn": {
                        "function_name": "fn",
                        "role": "${local.indirect}",  # through two locals
                        "depends_on": ["aws_cloudwatch_log_group.logs"],
                        "tags": {"ref": "${var.env}-${aws_iam_role.r.name}"},
                    }
                },
            },
        }
    )


def test_readme_has_inputs_outputs_and_dependency_flowchart(tmp_path):
    files = _export(tmp_path, _docs_stack(), title="Docs service")
    readme = files["README.md"]
    assert readme.startswith("# Docs service\n")
    assert "| Name | Description | Type | Default | Required |" in readme
    assert "| `env` | Environment.<br>Two lines \\| pipe. | `string` | `\"dev\"` | no |" in readme
    assert "| `region` | Required region. | `string` | n/a | yes |" in readme
    assert '| `tags` |  | `map(string)` | `{ team = "ops", "kubernetes.io/x" = "y" }` | no |' in readme
    assert "| `token` | API token. | `string` | (sensitive) | no |" in readme
    assert "s3cr3t" not in readme
    assert "| `arn` | Function ARN. | no |" in readme
    assert "| `env` |  | yes |" in readme

    chart = re.search(r"```mermaid\n(.*?)```", readme, re.S).group(1)
    assert chart.startswith("flowchart LR\n")
    ids = dict(re.findall(r'^  (n\d+)\(?\["([^"]+)"\]\)?$', chart, re.M))
    names = {v: k for k, v in ids.items()}
    assert set(names) == {
        "data.aws_iam_policy_document.p", "aws_iam_role.r", "aws_cloudwatch_log_group.logs", "aws_lambda_function.fn",
    }
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^  (n\d+) --> (n\d+)$", chart, re.M)}
    assert edges == {
        ("data.aws_iam_policy_document.p", "aws_iam_role.r"),
        ("aws_iam_role.r", "aws_lambda_function.fn"),  # via local.indirect -> local.role_arn, and via tags
        ("aws_cloudwatch_log_group.logs", "aws_lambda_function.fn"),  # depends_on
    }
    assert f'  {names["data.aws_iam_policy_document.p"]}(["data.aws_iam_policy_document.p"])' in chart
    assert mermaid_flowchart(_docs_stack()) == chart.rstrip("\n")


def test_tfvars_example_lists_every_variable(tmp_path):
    example = _export(tmp_path, _docs_stack())["terraform.tfvars.example"]
    values = _loads(example)
    assert values == {"env": "dev", "region": "REPLACE_ME", "tags": {"team": "ops", "kubernetes.io/x": "y"}}
    assert "# Environment.\n# Two lines | pipe.\n# type: string\nenv = \"dev\"" in example
    assert "# type: string; REQUIRED\nregion = \"REPLACE_ME\"" in example
    assert '# token = "REPLACE_ME"' in example  # sensitive: present but commented, default not copied
    assert "s3cr3t" not in example


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_gitignore_ignores_state_and_secrets_but_not_code(tmp_path):
    out = tmp_path / "hcl"
    export_stack(_docs_stack(), _tiny_schema(), out, fmt=False)
    subprocess.run(["git", "init", "-q", str(out)], check=True)

    def ignored(name: str) -> bool:
        proc = subprocess.run(["git", "-C", str(out), "check-ignore", "-q", "--no-index", name])
        return proc.returncode == 0

    for name in ("terraform.tfstate", "terraform.demo.tfstate", "x.tfstate.backup", ".terraform/providers/x",
                 "terraform.tfvars", "prod.tfvars", "secrets.tfvars.json", "tfplan", "a.tfplan", "crash.log", "override.tf"):
        assert ignored(name), name
    for name in ("main.tf", "terraform.tfvars.example", ".terraform.lock.hcl", "README.md", "assets/fn.zip"):
        assert not ignored(name), name


def test_referenced_asset_files_are_copied_under_the_same_relative_path(tmp_path):
    stack_dir = tmp_path / "stack"
    (stack_dir / "assets" / "fn" / "HASH").mkdir(parents=True)
    (stack_dir / "assets" / "fn" / "HASH" / "fn.zip").write_bytes(b"PK\x03\x04zip")
    (stack_dir / "assets" / "hash.zip").write_bytes(b"other")
    (stack_dir / "unused.txt").write_text("not referenced")
    (stack_dir / "cdk.tf.json").write_text("{}")
    (stack_dir / ".terraform.lock.hcl").write_text("# lock\n")
    (tmp_path / "outside.zip").write_text("outside")
    body = {
        "function_name": "fn",
        "filename": "assets/fn/HASH/fn.zip",
        "source_code_hash": '${filebase64sha256("assets/hash.zip")}',
        "role": "../outside.zip",
        "tags": {"a": "cdk.tf.json", "b": "unused"},
    }
    out = tmp_path / "hcl"
    written = export_stack(_stack(resource={"aws_lambda_function": {"fn": body}}), _tiny_schema(), out,
                           asset_dir=stack_dir, fmt=False)
    assert (out / "assets/fn/HASH/fn.zip").read_bytes() == b"PK\x03\x04zip"
    assert (out / "assets/hash.zip").read_bytes() == b"other"
    assert (out / ".terraform.lock.hcl").read_text() == "# lock\n"
    assert not (out / "unused.txt").exists() and not (out / "cdk.tf.json").exists()
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)  # "../outside.zip" is not an asset
    assert sorted(p.relative_to(out).as_posix() for p in written if "assets" in p.parts) == [
        "assets/fn/HASH/fn.zip", "assets/hash.zip",
    ]
    assert '"assets/fn/HASH/fn.zip"' in (out / "main.tf").read_text()


class _FakeTerraform:
    """Stands in for tfcli.Terraform: records calls and serves a schema."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.calls: list[tuple[list[str], str]] = []

    def run(self, args, cwd, **_):
        self.calls.append((list(args), (Path(cwd) / "main.tf.json").read_text()))
        stdout = json.dumps(self.schema) if args[:2] == ["providers", "schema"] else ""
        return subprocess.CompletedProcess(args, 0, stdout, "")


def test_provider_schema_is_loaded_once_then_cached(tmp_path):
    stack_dir = tmp_path / "stack"
    stack_dir.mkdir()
    stack = _docs_stack()
    (stack_dir / "cdk.tf.json").write_text(json.dumps(stack))
    fake = _FakeTerraform(_tiny_schema())
    cache = tmp_path / "cache"
    assert load_provider_schema(stack_dir, cache, tf=fake) == _tiny_schema()
    assert [c[0][:2] for c in fake.calls] == [["init", "-backend=false"], ["providers", "schema"]]
    # the scratch folder holds only the required_providers, never the stack's backend or resources
    assert json.loads(fake.calls[0][1]) == {
        "terraform": {"required_providers": {"aws": {"source": AWS, "version": "5.100.0"}}}
    }
    assert (cache / schema_cache_name(stack)).is_file()
    assert schema_cache_name(stack) == "provider-schema-hashicorp_aws@5.100.0.json"
    assert load_provider_schema(stack_dir, cache, tf=fake) == _tiny_schema()
    assert len(fake.calls) == 2  # second call: cache only
    assert [p.name for p in cache.iterdir()] == [schema_cache_name(stack)]  # scratch folder removed


def test_fixture_covers_the_tricky_cases():
    """Guards the checked-in fixture: regenerating it must keep every case the slow tests rely on."""
    stack = json.loads((STACK / "cdk.tf.json").read_text())
    fn = stack["resource"]["aws_lambda_function"]["api"]
    env = fn["environment"]["variables"]
    assert "\\" in env["WINDOWS_PATH"] and '"' in env["QUOTED"] and "$${" in env["LITERAL_TEMPLATE"]
    assert "\n" in stack["resource"]["aws_iam_role"]["lambda_role"]["assume_role_policy"]
    assert not stack["resource"]["aws_iam_role"]["lambda_role"]["assume_role_policy"].endswith("\n")
    assert stack["resource"]["aws_ssm_parameter"]["appspec"]["value"].endswith("\n")
    assert len(stack["data"]["aws_iam_policy_document"]["logs_policy"]["statement"]) == 2
    assert "dynamic" in stack["data"]["aws_iam_policy_document"]["logs_policy"]
    assert stack["output"]["function_env"]["sensitive"] is True
    assert "local" in stack["terraform"]["backend"]
    assert (STACK / fn["filename"]).is_file()
    assert "\n" in stack["variable"]["environment_name"]["description"]


# ---------------------------------------------------------------------------------------------------------
# Terraform: fmt, validate, plan equivalence, round trip, value corpus
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tf(tmp_path_factory):
    """One Terraform runner (and so one plugin cache) for the whole session."""
    return terraform(tmp_path_factory.mktemp("tfcli"))


@pytest.fixture(scope="session")
def aws_schema(tf, tmp_path_factory):
    return load_provider_schema(STACK, tmp_path_factory.mktemp("schema-cache"), tf=tf)


@pytest.fixture(scope="session")
def exported(aws_schema, tmp_path_factory):
    """(copy of the fixture JSON stack dir, exported HCL dir, the stack JSON)."""
    work = tmp_path_factory.mktemp("export")
    stack_dir = work / "stack"
    shutil.copytree(STACK, stack_dir)
    stack_json = json.loads((stack_dir / "cdk.tf.json").read_text())
    hcl_dir = work / "hcl"
    export_stack(stack_json, aws_schema, hcl_dir, asset_dir=stack_dir, title="Fixture")
    return stack_dir, hcl_dir, stack_json


@pytest.fixture(scope="session")
def initialized(exported, tf):
    stack_dir, hcl_dir, _ = exported
    for d in (stack_dir, hcl_dir):
        tf.run(["init", "-input=false", "-no-color"], d)
    return exported


_OFFLINE = {
    "access_key": "mock",
    "secret_key": "mock",
    "skip_credentials_validation": True,
    "skip_requesting_account_id": True,
    "skip_metadata_api_check": True,
}


def _plan(tf, d: Path) -> dict:
    tf.run(["plan", "-out=tfplan", "-lock=false", "-input=false", "-no-color"], d)
    return json.loads(tf.run(["show", "-json", "tfplan"], d).stdout)


def _without_constant_values(value):
    if isinstance(value, dict):
        return {k: _without_constant_values(v) for k, v in value.items() if k != "constant_value"}
    if isinstance(value, list):
        return [_without_constant_values(v) for v in value]
    return value


@pytest.mark.slow
def test_exported_hcl_is_fmt_clean(exported, tf):
    _, hcl_dir, _ = exported
    proc = tf.run(["fmt", "-check", "-recursive", "-diff", "-no-color", str(hcl_dir)], hcl_dir, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"versions.tf", "providers.tf", "variables.tf", "main.tf", "outputs.tf"} <= {p.name for p in hcl_dir.glob("*.tf")}
    example = (hcl_dir / "terraform.tfvars.example").read_text()
    proc = subprocess.run(["terraform", "fmt", "-check", "-"], input=example, text=True, capture_output=True, env=tf.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_exported_hcl_validates(initialized, tf):
    _, hcl_dir, _ = initialized
    proc = tf.run(["validate", "-no-color"], hcl_dir)
    assert "Success" in proc.stdout


@pytest.mark.slow
def test_plan_of_exported_hcl_equals_plan_of_json(initialized, tf):
    stack_dir, hcl_dir, _ = initialized
    override = json.dumps(
        {"provider": {"aws": [{"region": "eu-west-1", **_OFFLINE}, {"alias": "west", "region": "us-west-2", **_OFFLINE}]}}
    )
    (stack_dir / "zz_override.tf.json").write_text(override)
    (hcl_dir / "zz_override.tf.json").write_text(override)
    a, b = _plan(tf, stack_dir), _plan(tf, hcl_dir)

    # JSON documents (written as jsonencode) are compared by value, everything else exactly
    same = {key: json_values(a.get(key)) == json_values(b.get(key))
            for key in ("planned_values", "output_changes", "variables", "prior_state", "checks")}
    assert all(same.values()), same
    changes_a = {r["address"]: json_values(r) for r in a["resource_changes"]}
    changes_b = {r["address"]: json_values(r) for r in b["resource_changes"]}
    assert changes_a == changes_b
    assert sorted(map(json.dumps, a["relevant_attributes"])) == sorted(map(json.dumps, b["relevant_attributes"]))
    # The configuration (expressions, references, descriptions, defaults) is the same too; only JSON syntax
    # reports raw template strings as "constant_value" beside the references.
    assert _without_constant_values(a["configuration"]) == _without_constant_values(b["configuration"])

    # And the plan is the intended one, not merely the same mistake twice.
    assert set(changes_a) == {
        "aws_cloudwatch_log_group.archive_logs[0]", "aws_cloudwatch_log_group.fn_logs", "aws_iam_role.lambda_role",
        "aws_iam_role_policy.logs", "aws_lambda_function.api", "aws_ssm_parameter.appspec",
    }
    env = b["planned_values"]["outputs"]["function_env"]
    assert env["sensitive"] is True
    assert env["value"]["WINDOWS_PATH"] == "C:\\temp\\new"
    assert env["value"]["QUOTED"] == 'say "hi"'
    assert env["value"]["LITERAL_TEMPLATE"] == "cost: ${not_a_ref} and %{not_a_directive}"
    assert env["value"]["MIXED"] == "svc-dev-dev/x"
    values = {r["address"]: r["values"] for r in b["planned_values"]["root_module"]["resources"]}
    assert values["aws_ssm_parameter.appspec"]["value"].endswith("Pattern: 'C:\\temp\\${not_interpolated}'\n")
    role = json.loads((STACK / "cdk.tf.json").read_text())["resource"]["aws_iam_role"]["lambda_role"]
    planned_policy = values["aws_iam_role.lambda_role"]["assume_role_policy"]
    assert json.loads(planned_policy) == json.loads(role["assume_role_policy"])  # written as jsonencode({...})
    policy = json.loads(b["planned_values"]["outputs"]["policy_json"]["value"])
    assert [s["Sid"] for s in policy["Statement"]] == ["xrayPutTelemetryRecords", "xrayPutTraceSegments", "Logs", "Ssm"]
    assert b["configuration"]["root_module"]["variables"]["extra_tags"]["description"] == (
        "Extra tags; literal ${braces} in a description."
    )


def _heredoc_value(text: str) -> str:
    """Decode a heredoc as HCL defines it (only what the exporter writes: no whitespace-only lines)."""
    head, _, rest = text.partition("\n")
    marker = head.lstrip("<-")
    lines = rest.split("\n")
    assert lines[-1].strip() == marker
    lines = lines[:-1]
    if head.startswith("<<-"):
        strip = min(len(line) - len(line.lstrip(" ")) for line in lines if line)
        lines = [line[strip:] for line in lines]
    return "".join(line + "\n" for line in lines)


def _align(json_value, hcl_value):
    """The JSON value reshaped like hcl2's view: single blocks become one-element lists, ``//`` dropped."""
    if isinstance(hcl_value, list) and isinstance(json_value, dict):
        json_value = [json_value]
    if isinstance(json_value, dict) and isinstance(hcl_value, dict):
        return {k: _align(v, hcl_value.get(k)) for k, v in json_value.items() if k != "//"}
    if isinstance(json_value, list) and isinstance(hcl_value, list) and len(json_value) == len(hcl_value):
        return [_align(j, h) for j, h in zip(json_value, hcl_value)]
    return json_value


def _clean_hcl(value, key=None):
    if isinstance(value, dict):
        return {k: _clean_hcl(v, k) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_clean_hcl(v, key) for v in value]
    if isinstance(value, str) and value.startswith("<<"):
        return _heredoc_value(value)
    if key in ("provider", "depends_on", "ignore_changes", "iterator") and isinstance(value, str):
        return value[2:-1] if value.startswith("${") else value  # bare traversals in HCL, plain strings in JSON
    return value


_DOCUMENT = "(a JSON document)"


def _marked_documents(value, prefix: str | None = None):
    """``value`` with each string holding a JSON document (or, with ``prefix``, starting with it) marked."""
    if isinstance(value, dict):
        return {k: _marked_documents(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked_documents(v, prefix) for v in value]
    if isinstance(value, str) and (value.startswith(prefix) if prefix else isinstance(json_values(value), dict)):
        return _DOCUMENT
    return value


@pytest.mark.slow
def test_main_tf_round_trips_through_hcl2(exported):
    _, hcl_dir, stack_json = exported
    options = SerializationOptions(with_comments=False, strip_string_quotes=True, preserve_heredocs=True)
    parsed = hcl2.load(io.StringIO((hcl_dir / "main.tf").read_text()), serialization_options=options)
    back: dict = {"resource": {}, "data": {}}
    for kind in ("resource", "data"):
        for entry in parsed[kind]:
            for type_name, named in entry.items():
                for name, body in named.items():
                    back[kind].setdefault(type_name, {})[name] = _clean_hcl(body)
    back["locals"] = {k: v for block in parsed["locals"] for k, v in _clean_hcl(block).items()}
    original = {k: stack_json[k] for k in ("resource", "data", "locals")}
    # JSON documents in resource arguments are jsonencode(...) calls (their values are compared by the plan test)
    original["resource"] = _marked_documents(original["resource"])
    back["resource"] = {t: {n: _marked_documents(b, "${jsonencode(") for n, b in named.items()}
                        for t, named in back["resource"].items()}
    assert _align(original, back) == back
    # spot checks on the strings that matter most, compared exactly
    assert back["resource"]["aws_iam_role"]["lambda_role"]["assume_role_policy"] == _DOCUMENT
    assert back["resource"]["aws_ssm_parameter"]["appspec"]["value"] == (
        stack_json["resource"]["aws_ssm_parameter"]["appspec"]["value"]
    )
    assert "<<-EOT" in (hcl_dir / "main.tf").read_text()
    # assets travelled with the HCL
    fn = stack_json["resource"]["aws_lambda_function"]["api"]
    assert (hcl_dir / fn["filename"]).read_bytes() == (STACK / fn["filename"]).read_bytes()


# Values that have to come out of Terraform exactly as they went in, through both syntaxes.
_CORPUS = {
    "backslashes": "C:\\temp\\new\\",
    "quotes": 'say "hi" \\"there\\"',
    "multiline_no_eol": '{\n  "Version": "2012-10-17",\n  "Statement": []\n}',
    "multiline_eol": "version: 0.0\nResources:\n  - api:\n      Type: X\n\n  end\n",
    "all_indented": "  a\n    b\n",
    "blank_ws_line": "x\n  \ny\n",
    "marker_lines": "EOT\nEOT1\n  EOT\n",
    "tabs": "tab\tin\n\tstart\n",
    "crlf": "a\r\nb\r\n",
    "template_text": "${not} %{not} $${not} %%{not} $$${x} ${",
    "dollar_bits": "$ % $$ %% {} } $",
    "backslash_dollar": "\\${x}\\",
    "controls": "bell\x07 esc\x1b del\x7f nul-free",
    "unicode": "café ☃ 😀 \u2028 sep \u202e bidi \U000e0001 tag a\u200db",
    "empty": "",
}


def _as_template(value: str) -> str:
    """Write a literal value in a JSON *template* position."""
    return value.replace("${", "$${").replace("%{", "%%{")


_TEMPLATES = {  # JSON template -> the value Terraform must produce
    "mixed": ("pre-${local.a}-post", "pre-A-post"),
    "bare": ("${local.a}", "A"),
    "directive": ('%{ if local.a == "A" }yes%{ else }no%{ endif }', "yes"),
    "brace_in_string": ('${"}"}', "}"),
    "escaped_quote_in_expr": ('${upper("a\\"b")}', 'A"B'),
    "strip_markers": ("x  ${~ local.a ~}  y", "xAy"),
    "heredoc_interp": ("line ${local.a}\nline2 \\ \"q\"\n", 'line A\nline2 \\ "q"\n'),
    "heredoc_indented_interp": ("  ${local.a}\n    z\n", "  A\n    z\n"),
    "for_directive": ('%{ for c in ["p", "q"] }${c}\n%{ endfor }', "p\nq\n"),
}

_KEYS = {"kubernetes.io/role": "x", "for": "y", "null": "z", "with space": 1, "${local.a}": "templ", "$${lit}": "esc",
         "Name": True, "doc": "l1\n  l2 ${local.a}\n"}
_KEYS_EXPECTED = {"kubernetes.io/role": "x", "for": "y", "null": "z", "with space": 1, "A": "templ", "${lit}": "esc",
                  "Name": True, "doc": "l1\n  l2 A\n"}
_NUMBERS = [0.1, 1e20, -5, 3.5, 12345678901234567890, 0]


def _corpus_stack() -> dict:
    variables = {f"v_{n}": {"type": "string", "default": v, "description": v} for n, v in _CORPUS.items()}
    variables["v_map"] = {"type": "map(string)", "default": {"${k}": "${v}", "a.b": "%{x}"}}
    locals_ = {"a": "A", **{f"l_{n}": _as_template(v) for n, v in _CORPUS.items()}}
    locals_.update({f"t_{n}": t for n, (t, _) in _TEMPLATES.items()})
    outputs = {}
    for n in _CORPUS:
        outputs[f"var_{n}"] = {"value": f"${{var.v_{n}}}"}
        outputs[f"loc_{n}"] = {"value": f"${{local.l_{n}}}"}
    for n in _TEMPLATES:
        outputs[f"tpl_{n}"] = {"value": f"${{local.t_{n}}}"}
    outputs["keys"] = {"value": _KEYS}
    outputs["numbers"] = {"value": _NUMBERS + [None, True, [], {}]}
    outputs["var_map"] = {"value": "${var.v_map}"}
    return {"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}, "variable": variables,
            "locals": locals_, "output": outputs}


@pytest.mark.slow
def test_tricky_values_survive_export(tf, tmp_path):
    stack = _corpus_stack()
    json_dir = tmp_path / "json"
    json_dir.mkdir()
    (json_dir / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    hcl_dir = tmp_path / "hcl"
    export_stack(stack, {"provider_schemas": {}}, hcl_dir)
    text = (hcl_dir / "main.tf").read_text()
    assert "<<-EOT" in text and "<<EOT" in text  # both heredoc forms were exercised

    plans = {}
    for d in (json_dir, hcl_dir):
        tf.run(["init", "-input=false", "-no-color"], d)
        plans[d.name] = _plan(tf, d)
    for plan in plans.values():
        out = {k: v["value"] for k, v in plan["planned_values"]["outputs"].items()}
        for n, value in _CORPUS.items():
            assert out[f"var_{n}"] == value, n
            assert out[f"loc_{n}"] == value, n
            assert plan["configuration"]["root_module"]["variables"][f"v_{n}"].get("description", "") == value, n
        for n, (_, value) in _TEMPLATES.items():
            assert out[f"tpl_{n}"] == value, n
        assert out["keys"] == _KEYS_EXPECTED
        assert out["numbers"] == _NUMBERS + [None, True, [], {}]
        assert out["var_map"] == {"${k}": "${v}", "a.b": "%{x}"}
    assert plans["json"]["planned_values"] == plans["hcl"]["planned_values"]


def test_long_literal_strings_are_not_mistaken_for_asset_paths(tmp_path):
    """A string longer than a file name (e.g. an access-log format) must not stop the export."""
    from lambdaform.hcl_export import _copy_assets

    long_value = "$context.requestId " * 40
    stack = {"resource": {"aws_x": {"y": {"format": long_value, "filename": "assets/a.zip"}}}}
    (tmp_path / "stack" / "assets").mkdir(parents=True)
    (tmp_path / "stack" / "assets" / "a.zip").write_bytes(b"zip")
    copied = _copy_assets(stack, tmp_path / "stack", tmp_path / "out")
    assert copied == [tmp_path / "out" / "assets" / "a.zip"]
