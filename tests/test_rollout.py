"""The rollout driver (lambdaform.rollout): CodeDeploy deployments that move an alias, and rollback.

Which backend each test uses, and why:

* moto (in-process ``mock_aws``) implements Lambda's GetAlias, ListVersionsByFunction and UpdateAlias, so
  :func:`plan_rollouts` and :func:`rollback` run against it.
* moto implements CodeDeploy's CreateApplication (computePlatform Lambda), CreateDeploymentGroup,
  CreateDeployment (it stores the AppSpecContent revision) and GetDeployment, but a deployment stays in
  status ``Created`` forever, with empty errorInformation and rollbackInfo, and ListDeploymentTargets /
  GetDeploymentTarget are not implemented. So moto checks the deployment request and the timeout path;
  the status transitions (InProgress -> Succeeded / Failed / Stopped, rollbackInfo, traffic weights) use
  botocore's ``Stubber`` on a real ``boto3.client("codedeploy")``, which validates every request and
  response against the service model. Each test says which it uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdaform import rollout
from lambdaform.errors import InputError, ToolError

REGION = "eu-west-1"
FUNCTION = "shop-prod-api"
ALIAS = "live"
DEPLOYMENT_ID = "d-ABCDEF123"

ROLL = rollout.Rollout(
    function="api", function_name=FUNCTION, alias=ALIAS, current_version="2", target_version="3",
    application="shop-prod-api", group="shop-prod-api",
    hooks={"BeforeAllowTraffic": "shop-prod-CodeDeployHook_smoke"},
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEDEPLOY"):
        monkeypatch.delenv(name, raising=False)


class FakeClock:
    """The injected clock and sleep: sleeping advances time, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def stubbed() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("codedeploy", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect_create(stubber: Stubber, roll: rollout.Rollout = ROLL) -> None:
    content = rollout.appspec(roll)
    stubber.add_response("create_deployment", {"deploymentId": DEPLOYMENT_ID}, {
        "applicationName": roll.application, "deploymentGroupName": roll.group,
        "revision": {"revisionType": "AppSpecContent",
                     "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}},
    })


def _expect_status(stubber: Stubber, status: str, **extra: object) -> None:
    stubber.add_response("get_deployment", {"deploymentInfo": {
        "deploymentId": DEPLOYMENT_ID, "applicationName": ROLL.application, "status": status,
        "computePlatform": "Lambda", **extra}}, {"deploymentId": DEPLOYMENT_ID})


def _expect_traffic(stubber: Stubber, weight: float) -> None:
    target = f"{FUNCTION}:{ALIAS}"
    stubber.add_response("list_deployment_targets", {"targetIds": [target]}, {"deploymentId": DEPLOYMENT_ID})
    stubber.add_response("get_deployment_target", {"deploymentTarget": {
        "deploymentTargetType": "LambdaTarget",
        "lambdaTarget": {"deploymentId": DEPLOYMENT_ID, "targetId": target, "status": "InProgress",
                         "lambdaFunctionInfo": {"functionName": FUNCTION, "functionAlias": ALIAS,
                                                "currentVersion": "2", "targetVersion": "3",
                                                "targetVersionWeight": weight}}}},
        {"deploymentId": DEPLOYMENT_ID, "targetId": target})


# --- appspec -------------------------------------------------------------------------------------------


def test_appspec_names_the_alias_both_versions_and_the_hooks() -> None:
    spec = json.loads(rollout.appspec(ROLL))
    assert spec["version"] == 0.0
    assert spec["Resources"] == [{"api": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": FUNCTION, "Alias": ALIAS, "CurrentVersion": "2", "TargetVersion": "3"}}}]
    assert spec["Hooks"] == [{"BeforeAllowTraffic": "shop-prod-CodeDeployHook_smoke"}]


# --- run() with Stubber: status transitions moto does not make ------------------------------------------


def test_success_reports_progress_and_traffic(stubbed) -> None:
    """Stubber: InProgress (10% shifted) -> InProgress (100%) -> Succeeded."""
    client, stubber = stubbed
    _expect_create(stubber)
    _expect_status(stubber, "InProgress")
    _expect_traffic(stubber, 10.0)
    _expect_status(stubber, "InProgress")
    _expect_traffic(stubber, 100.0)
    _expect_status(stubber, "Succeeded")
    lines: list[str] = []
    fake = FakeClock()
    results = rollout.run([ROLL], codedeploy=client, progress=lines.append, poll_seconds=7,
                          clock=fake.clock, sleep=fake.sleep)
    assert results == [rollout.RolloutResult("api", "2", "3", DEPLOYMENT_ID, "succeeded")]
    assert not rollout.failed(results)
    assert fake.sleeps == [7, 7]
    assert any("10% of traffic on version 3" in line for line in lines)
    assert any("100% of traffic on version 3" in line for line in lines)
    assert lines[-1] == "api: succeeded"


def test_failing_hook_is_rolled_back_and_flags_failure(stubbed) -> None:
    """Stubber: the BeforeAllowTraffic hook reports Failed; CodeDeploy rolls back and says so."""
    client, stubber = stubbed
    _expect_create(stubber)
    _expect_status(stubber, "InProgress")
    _expect_traffic(stubber, 0.0)
    _expect_status(stubber, "Failed",
                   errorInformation={"code": "HOOK_EXECUTION_FAILURE",
                                     "message": "The BeforeAllowTraffic hook shop-prod-CodeDeployHook_smoke failed"},
                   rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK1",
                                 "rollbackMessage": "Automatic rollback triggered by a failed deployment"})
    fake = FakeClock()
    results = rollout.run([ROLL], codedeploy=client, progress=lambda _: None, clock=fake.clock, sleep=fake.sleep)
    [result] = results
    assert result.status == "rolled back"
    assert result.reason == "HOOK_EXECUTION_FAILURE: The BeforeAllowTraffic hook shop-prod-CodeDeployHook_smoke failed"
    assert result.rollback_deployment_id == "d-ROLLBACK1"
    assert (result.from_version, result.to_version) == ("2", "3")
    assert rollout.failed(results)


def test_alarm_stops_the_deployment_and_rolls_back(stubbed) -> None:
    """Stubber: an alarm fires half way through; the deployment is Stopped and rolled back."""
    client, stubber = stubbed
    alarm = ("One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, "
             "and the affected deployments have been stopped. Activated alarms: <shop-prod-api-errors>")
    _expect_create(stubber)
    _expect_status(stubber, "InProgress")
    _expect_traffic(stubber, 50.0)
    _expect_status(stubber, "Stopped", errorInformation={"code": "ALARM_ACTIVE", "message": alarm},
                   rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK2"})
    fake = FakeClock()
    lines: list[str] = []
    [result] = rollout.run([ROLL], codedeploy=client, progress=lines.append, clock=fake.clock, sleep=fake.sleep)
    assert result.status == "rolled back"
    assert result.reason.startswith("ALARM_ACTIVE: ") and "shop-prod-api-errors" in result.reason
    assert "rolled back" in lines[-1] and "shop-prod-api-errors" in lines[-1]
    assert rollout.failed([result])


def test_failure_without_rollback_is_failed(stubbed) -> None:
    """Stubber: Failed with no rollbackInfo is reported as failed, not as rolled back."""
    client, stubber = stubbed
    _expect_create(stubber)
    _expect_status(stubber, "Failed", errorInformation={"code": "INTERNAL_ERROR", "message": "boom"})
    fake = FakeClock()
    [result] = rollout.run([ROLL], codedeploy=client, progress=lambda _: None, clock=fake.clock, sleep=fake.sleep)
    assert (result.status, result.reason) == ("failed", "INTERNAL_ERROR: boom")


def test_ctrl_c_stops_waiting_but_not_the_deployment(stubbed) -> None:
    """Stubber: Ctrl-C while waiting; no StopDeployment call is queued, so one would fail the test."""
    client, stubber = stubbed
    _expect_create(stubber)
    _expect_status(stubber, "InProgress")
    _expect_traffic(stubber, 10.0)

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(ToolError) as caught:
        rollout.run([ROLL], codedeploy=client, progress=lambda _: None, sleep=interrupted)
    message = str(caught.value)
    assert f"aws deploy get-deployment --deployment-id {DEPLOYMENT_ID}" in message
    assert (f"https://{REGION}.console.aws.amazon.com/codesuite/codedeploy/deployments/{DEPLOYMENT_ID}"
            f"?region={REGION}") in message
    assert "keeps running" in message


def test_create_deployment_failure_is_a_tool_error(stubbed) -> None:
    """Stubber: CodeDeploy refuses the deployment (a group that does not exist)."""
    client, stubber = stubbed
    stubber.add_client_error("create_deployment", "DeploymentGroupDoesNotExistException", "no such group")
    with pytest.raises(ToolError, match="no such group"):
        rollout.run([ROLL], codedeploy=client, progress=lambda _: None)


# --- run() on moto: the request CodeDeploy records, and the timeout -------------------------------------


@mock_aws
def test_deployment_on_moto_records_the_appspec_and_times_out() -> None:
    """moto: CreateApplication/CreateDeploymentGroup/CreateDeployment/GetDeployment; the status stays Created."""
    client = boto3.client("codedeploy", region_name=REGION)
    client.create_application(applicationName=ROLL.application, computePlatform="Lambda")
    client.create_deployment_group(
        applicationName=ROLL.application, deploymentGroupName=ROLL.group,
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    fake = FakeClock()
    lines: list[str] = []
    with pytest.raises(ToolError) as caught:
        rollout.run([ROLL], codedeploy=client, progress=lines.append, poll_seconds=10, timeout_seconds=60,
                    clock=fake.clock, sleep=fake.sleep)
    [deployment_id] = client.list_deployments(applicationName=ROLL.application,
                                              deploymentGroupName=ROLL.group)["deployments"]
    assert deployment_id in str(caught.value) and "did not finish within 60 s" in str(caught.value)
    assert len(fake.sleeps) == 6
    assert lines.count("api: Created") == 1  # one line per change, not per poll
    revision = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["revision"]
    content = revision["appSpecContent"]["content"]
    assert revision["revisionType"] == "AppSpecContent"
    assert revision["appSpecContent"]["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    assert json.loads(content)["Resources"][0]["api"]["Properties"]["TargetVersion"] == "3"


# --- plan_rollouts() and rollback() on moto Lambda ------------------------------------------------------


def _zip(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", body)
    return buffer.getvalue()


@pytest.fixture
def lambda_client() -> Iterator[object]:
    """moto Lambda: FUNCTION with published versions 1 and 2 and alias ALIAS on version 1."""
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=role["Arn"],
                               Handler="index.handler", Code={"ZipFile": _zip("v = 1")}, Publish=True)
        client.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
        client.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("v = 2"), Publish=True)
        yield client


def _outputs(version: str) -> dict[str, object]:
    return {"api_function_name": {"value": FUNCTION, "type": "string", "sensitive": False},
            "api_function_version": {"value": version, "type": "string", "sensitive": False},
            "api_alias_name": {"value": ALIAS, "type": "string", "sensitive": False},
            "api_codedeploy_app_name": {"value": "shop-prod-api", "type": "string", "sensitive": False},
            "api_codedeploy_deployment_group_name": {"value": "shop-prod-api", "type": "string", "sensitive": False},
            "smoke_function_name": {"value": "shop-prod-CodeDeployHook_smoke", "type": "string",
                                    "sensitive": False}}


def test_plan_rollouts_reads_the_alias_and_resolves_hooks(lambda_client) -> None:
    """moto Lambda: the alias is on 1, the apply published 2 -> one rollout from 1 to 2."""
    hooks = {"before_allow_traffic": "smoke", "AfterAllowTraffic": "arn:aws:lambda:eu-west-1:1:function:x"}
    [planned] = rollout.plan_rollouts(_outputs("1"), _outputs("2"), {"api": hooks}, lambda_client=lambda_client)
    assert planned == rollout.Rollout(
        function="api", function_name=FUNCTION, alias=ALIAS, current_version="1", target_version="2",
        application="shop-prod-api", group="shop-prod-api",
        hooks={"BeforeAllowTraffic": "shop-prod-CodeDeployHook_smoke",
               "AfterAllowTraffic": "arn:aws:lambda:eu-west-1:1:function:x"})


def test_plan_rollouts_skips_first_deploy_and_unchanged_versions(lambda_client) -> None:
    """moto Lambda: no previous outputs, the same version, or an alias already on the target."""
    functions = {"api": {}}
    assert rollout.plan_rollouts({}, _outputs("1"), functions, lambda_client=lambda_client) == []
    assert rollout.plan_rollouts(_outputs("2"), _outputs("2"), functions, lambda_client=lambda_client) == []
    assert rollout.plan_rollouts(_outputs("2"), _outputs("1"), functions, lambda_client=lambda_client) == []


def test_plan_rollouts_rejects_a_hook_event_lambda_has_not(lambda_client) -> None:
    with pytest.raises(InputError, match="BeforeAllowTraffic, AfterAllowTraffic"):
        rollout.plan_rollouts(_outputs("1"), _outputs("2"), {"api": {"BeforeInstall": "smoke"}},
                              lambda_client=lambda_client)


def test_plan_rollouts_missing_alias_is_a_tool_error(lambda_client) -> None:
    outputs = {**_outputs("2"), "api_alias_name": "gone"}
    with pytest.raises(ToolError, match="reading alias gone"):
        rollout.plan_rollouts(_outputs("1"), outputs, {"api": {}}, lambda_client=lambda_client)


def test_rollback_moves_the_alias_to_the_previous_version(lambda_client) -> None:
    """moto Lambda: alias on 2 (with 10% still routed to 1) -> rollback -> alias on 1, no routing."""
    lambda_client.update_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="2",
                               RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})
    assert rollout.rollback(FUNCTION, ALIAS, lambda_client=lambda_client) == ("2", "1")
    alias = lambda_client.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_rollback_without_an_earlier_version_is_an_input_error(lambda_client) -> None:
    """moto Lambda: the alias is on version 1; there is nothing below it."""
    with pytest.raises(InputError, match="no earlier published version"):
        rollout.rollback(FUNCTION, ALIAS, lambda_client=lambda_client)
    assert lambda_client.get_alias(FunctionName=FUNCTION, Name=ALIAS)["FunctionVersion"] == "1"
