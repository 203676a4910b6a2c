"""An ops team takes over a deployed stack with the exported HCL: same state, same zip, empty plan.

The steps are the ones the export README documents: deploy with lambdaform, export, point the exported
folder at the same state (the local backend path is already relocated by the export) and, on the emulator
only, add the provider override the deploy used; ``terraform init`` + ``plan -detailed-exitcode`` must
exit 0. The example is hello: a zip function, its role and inline policy, and a KMS key with a key policy,
so the ``jsonencode`` policies and the copied zip asset are both on the line.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lambdaform.commands import scaffold
from lambdaform.deploy import OVERRIDE_FILE, provider_override
from main import app

pytestmark = [pytest.mark.slow, pytest.mark.emulator]


def test_exported_hcl_takes_over_the_deployed_state_with_an_empty_plan(tf, moto_endpoint, tmp_path):
    scaffold(tmp_path / "svc", "hello")
    service_file = tmp_path / "svc" / "service.yaml"
    runner = CliRunner()
    common = [str(service_file), "--env", "dev", "--endpoint", moto_endpoint, "-o", str(tmp_path / "out"), "--yes", "-q"]
    deployed = runner.invoke(app, ["deploy", *common])
    assert deployed.exit_code == 0, deployed.stderr
    try:
        exported = runner.invoke(app, ["hcl", str(service_file), "--env", "dev", "--out", str(tmp_path / "hcl"), "-q"])
        assert exported.exit_code == 0, exported.stderr
        folder = tmp_path / "hcl" / "hello-dev"
        main_tf = (folder / "main.tf").read_text()
        assert "policy = jsonencode({" in main_tf and '"{\\"Version' not in main_tf
        state_file = tmp_path / "svc" / ".lambdaform" / "state" / "hello-dev.tfstate"
        state = json.loads(state_file.read_text())
        assert any(r["type"] == "aws_lambda_function" for r in state["resources"])
        zip_name = next(r["instances"][0]["attributes"]["filename"] for r in state["resources"]
                        if r["type"] == "aws_lambda_function")
        deployed_zip = tmp_path / "out" / "stacks" / "hello-dev" / zip_name
        assert (folder / zip_name).read_bytes() == deployed_zip.read_bytes(), f"the export must carry the deployed {zip_name}"

        readme = (folder / "README.md").read_text()  # the steps below are the documented ones
        assert "## Taking over from lambdaform" in readme and OVERRIDE_FILE in readme and "-detailed-exitcode" in readme
        (folder / OVERRIDE_FILE).write_text(json.dumps(provider_override(moto_endpoint)))  # emulator only
        env = {"TF_DATA_DIR": str(tmp_path / "tf-data"), "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
        tf.run(["init", "-input=false", "-no-color"], folder, extra_env=env)
        plan = tf.run(["plan", "-input=false", "-no-color", "-detailed-exitcode"], folder, check=False, extra_env=env)
        assert plan.returncode == 0, f"the takeover plan is not empty:\n{plan.stdout}{plan.stderr}"
        assert "No changes." in plan.stdout
        assert json.loads(state_file.read_text())["serial"] == state["serial"], "plan must not write state"
    finally:
        destroyed = runner.invoke(app, ["destroy", *common])
        assert destroyed.exit_code == 0, destroyed.stderr
    assert not json.loads(state_file.read_text())["resources"]

