"""How `deploy`, `plan` and `rollback` use the rollout driver (lambdaform/rollout.py, tested on its own in
tests/test_rollout.py against moto and botocore's Stubber).

Terraform is not run here: the Deployment's terraform steps are replaced by recorders, and the driver's two
AWS-facing calls by stand-ins that return what CodeDeploy would report. What is under test is lambdaform's
own sequencing: outputs read before and after the apply, the rollout results in the deploy result, exit 1
and the reason on a rolled-back release, and the plan's "new version" note.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lambdaform import rollout
from lambdaform.console import Output
from lambdaform.deploy import Deployment, RunOptions
from lambdaform.loader import load_service
from main import app
from support import EXAMPLES

EXAMPLE = EXAMPLES / "release-train.yaml"


def outputs(version: str) -> dict:
    return {"api_function_name": {"value": "release-train-dev-api"}, "api_alias_name": {"value": "live"},
            "api_function_version": {"value": version}}


@pytest.fixture()
def deployment(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBDAFORM_ENDPOINT", "http://127.0.0.1:9")
    d = Deployment(load_service(EXAMPLE), RunOptions(env="dev", out=tmp_path / "out"), Output(quiet=True))
    d.stacks = ["release-train-dev"]
    d.calls = []
    versions = iter(["3", "4", "4"])
    monkeypatch.setattr(d, "init", lambda stack: d.calls.append(f"init {stack}"))
    monkeypatch.setattr(d, "apply_stack", lambda stack: d.calls.append(f"apply {stack}"))
    monkeypatch.setattr(d, "outputs", lambda stack: (d.calls.append("outputs"), outputs(next(versions)))[1])
    return d


def test_deploy_rolls_out_a_new_version_and_reports_it(deployment, monkeypatch):
    seen = {}

    def plan(previous, current, functions, *, lambda_client):
        seen.update(previous=previous, current=current, functions=functions)
        return [rollout.Rollout("api", "release-train-dev-api", "live", "3", "4", "release-train-dev-api",
                                "release-train-dev-api")]

    monkeypatch.setattr(rollout, "plan_rollouts", plan)
    monkeypatch.setattr(rollout, "run", lambda planned, **_: [rollout.RolloutResult(
        "api", "3", "4", "d-123", "succeeded")])
    result = deployment.apply()
    assert deployment.calls[:3] == ["init release-train-dev", "outputs", "apply release-train-dev"], \
        "the outputs before the apply are what the rollout compares against"
    assert seen["previous"]["api_function_version"]["value"] == "3"
    assert seen["current"]["api_function_version"]["value"] == "4"
    assert seen["functions"] == {"api": {"before_allow_traffic": "smoke", "after_allow_traffic": "verify"}}
    assert result.rollouts == [{"function": "api", "from_version": "3", "to_version": "4", "deployment_id": "d-123",
                                "status": "succeeded", "reason": ""}]
    assert not result.failed_rollouts


def test_a_rolled_back_release_exits_1_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(Deployment, "synthesize", lambda self: setattr(self, "stacks", ["release-train-dev"]))
    monkeypatch.setattr(Deployment, "init", lambda self, stack: None)
    monkeypatch.setattr(Deployment, "apply_stack", lambda self, stack: None)
    versions = iter(["3", "4", "4"])
    monkeypatch.setattr(Deployment, "outputs", lambda self, stack: outputs(next(versions)))
    monkeypatch.setattr(rollout, "plan_rollouts", lambda *a, **k: [rollout.Rollout(
        "api", "release-train-dev-api", "live", "3", "4", "app", "group")])
    monkeypatch.setattr(rollout, "run", lambda planned, **_: [rollout.RolloutResult(
        "api", "3", "4", "d-9", "rolled back", "ALARM_ACTIVE: release-train-dev-api-errors")])
    result = CliRunner().invoke(app, ["deploy", str(EXAMPLE), "--env", "dev", "--yes", "--json",
                                      "--endpoint", "http://127.0.0.1:9", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["rollouts"][0]["status"] == "rolled back"
    assert "d-9 rolled back (ALARM_ACTIVE: release-train-dev-api-errors); the alias stays on version 3" in result.stderr


def test_plan_says_which_version_a_code_change_publishes_and_how_it_shifts(deployment):
    text = ('  # aws_lambda_function.api_function will be updated in-place\n  ~ resource "aws_lambda_function" "api_function" {\n'
            '      ~ source_code_hash = "a" -> "b"\n    }\n\nPlan: 0 to add, 2 to change, 0 to destroy.\n')
    note = deployment._rollout_notes("release-train-dev", text)
    assert note.strip() == "# api: new version 4, will shift with LambdaCanary10Percent5Minutes"
    assert deployment._rollout_notes("release-train-dev", "No changes.\n") == ""
