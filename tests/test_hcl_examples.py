"""The HCL export of every example: fmt-clean, valid, and plan-equivalent to the JSON synth.

Both folders are planned against a moto server (same endpoint override, empty state) and the plans'
``planned_values`` and every resource change's ``after`` are compared: JSON documents (policies the export
writes as ``jsonencode``) by value, everything else exactly. No exported attribute may still be a string
holding a JSON document.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import boto3
import hcl2
import pytest
from hcl2.utils import SerializationOptions
from typer.testing import CliRunner

from lambdaform.commands import scaffold
from lambdaform.deploy import OVERRIDE_FILE, provider_override
from lambdaform.loader import load_service
from main import app
from support import EXAMPLE_FILES, json_values, push_placeholder_image, synth_file

pytestmark = [pytest.mark.slow, pytest.mark.emulator]


def plan_json(tf, folder: Path, endpoint: str, data_dir: Path) -> dict:
    (folder / OVERRIDE_FILE).write_text(json.dumps(provider_override(endpoint)))
    env = {"TF_DATA_DIR": str(data_dir), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    tf.run(["init", "-input=false", "-no-color"], folder, extra_env=env)
    tf.run(["plan", "-input=false", "-no-color", "-lock=false", "-refresh=false", "-out=plan.bin"], folder,
           extra_env=env)
    shown = tf.run(["show", "-json", "plan.bin"], folder, extra_env=env)
    return json.loads(shown.stdout)


def comparable(plan: dict) -> dict:
    return json_values({
        "planned_values": plan["planned_values"],
        "changes": sorted(
            (c["address"], c["change"]["actions"], json.dumps(json_values(c["change"]["after"]), sort_keys=True))
            for c in plan["resource_changes"]
        ),
        "outputs": plan.get("output_changes"),
    })


def json_strings(folder: Path) -> list[str]:
    """``file: attribute = value`` for every HCL attribute (at any depth, object keys included) whose value
    is a quoted string holding a JSON object or array, ``${...}`` taken as opaque."""
    options = SerializationOptions(with_comments=False, strip_string_quotes=True, preserve_heredocs=False)
    found = []

    def walk(value, where):
        if isinstance(value, dict):
            for key, val in value.items():
                walk(val, f"{where}.{key}")
        elif isinstance(value, list):
            for val in value:
                walk(val, where)
        elif isinstance(value, str) and not value.startswith("${"):
            try:
                parsed = json.loads(re.sub(r"\$\{[^}]*\}", "x", value))
            except ValueError:
                return
            if isinstance(parsed, (dict, list)):
                found.append(f"{where} = {value[:80]}")

    for path in sorted(folder.glob("*.tf")):
        walk(hcl2.load(io.StringIO(path.read_text()), serialization_options=options), path.name)
    return found


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_hcl_export_is_fmt_clean_valid_and_plan_equivalent(example, tf, module_moto, tmp_path):
    folder = tmp_path / "svc"
    scaffold(folder, example.stem)
    loaded = load_service(folder / "service.yaml")
    env = next(iter(loaded.environments))
    service = loaded.environments[env]
    result = CliRunner().invoke(app, ["hcl", str(folder / "service.yaml"), "--env", env, "--out", str(tmp_path / "hcl"), "-q"])
    assert result.exit_code == 0, result.stderr
    synth = synth_file(folder / "service.yaml", tmp_path / "json", envs=[env])
    ecr = boto3.client("ecr", endpoint_url=module_moto, region_name=service.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    for key in service.image_functions:  # the service stack reads the image by tag
        repository = f"{service.project}-{env}-{key}"
        if repository not in {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}:
            ecr.create_repository(repositoryName=repository)
            push_placeholder_image(ecr, repository)
    for stack in synth.stacks[env]:
        hcl_dir = tmp_path / "hcl" / stack
        names = sorted(p.name for p in hcl_dir.iterdir())
        for required in ("versions.tf", "providers.tf", "variables.tf", "main.tf", "outputs.tf",
                         "terraform.tfvars.example", ".gitignore", "README.md"):
            assert required in names, f"{stack}: {required} missing"
        assert "```mermaid" in (hcl_dir / "README.md").read_text()
        assert not list(hcl_dir.rglob("*.json")), "the export is HCL only"
        assert not json_strings(hcl_dir), "JSON documents must be written as jsonencode(...)"
        fmt = tf.run(["fmt", "-check", "-recursive", "-no-color"], hcl_dir, check=False)
        assert fmt.returncode == 0, fmt.stdout + fmt.stderr
        json_dir = tmp_path / "plan-json" / stack
        shutil.copytree(synth.stack_dir(stack), json_dir)
        hcl_copy = tmp_path / "plan-hcl" / stack
        shutil.copytree(hcl_dir, hcl_copy)
        from_json = plan_json(tf, json_dir, module_moto, tmp_path / "data-json" / stack)
        from_hcl = plan_json(tf, hcl_copy, module_moto, tmp_path / "data-hcl" / stack)
        validate = tf.run(["validate", "-no-color"], hcl_copy, check=False,
                          extra_env={"TF_DATA_DIR": str(tmp_path / "data-hcl" / stack)})
        assert validate.returncode == 0, validate.stdout + validate.stderr
        assert from_json["resource_changes"], "the plan must create something"
        assert comparable(from_hcl) == comparable(from_json)
