"""handlers/release_hooks: the Lambda-alias rollout hooks of examples/release-train.yaml report their outcome
to CodeDeploy (a Stubber on the kit's cached client: moto lacks PutLifecycleEventHookExecutionStatus)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber
from lambdaform_kit import clients
from release_hooks import report

EVENT = {"DeploymentId": "d-7QZ3EXAMPLE", "LifecycleEventHookExecutionId": "exec-1"}


@pytest.fixture
def codedeploy(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("HOOK_FAIL", raising=False)
    clients.reset()
    with Stubber(clients.client("codedeploy")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    clients.reset()


def expect(stubber: Stubber, status: str) -> None:
    stubber.add_response("put_lifecycle_event_hook_execution_status", {"lifecycleEventHookExecutionId": "exec-1"},
                         {"deploymentId": "d-7QZ3EXAMPLE", "lifecycleEventHookExecutionId": "exec-1",
                          "status": status})


def test_a_passing_check_reports_succeeded(codedeploy):
    expect(codedeploy, "Succeeded")
    assert report.handler(EVENT, None) == {"statusCode": 200, "status": "Succeeded"}


def test_a_failing_check_reports_failed_so_codedeploy_rolls_back(codedeploy, monkeypatch):
    monkeypatch.setenv("HOOK_FAIL", "1")
    expect(codedeploy, "Failed")
    assert report.handler(EVENT, None)["status"] == "Failed"


@pytest.mark.parametrize("event", [{}, {"DeploymentId": "d-1"}, ["not", "a", "mapping"]])
def test_an_event_without_the_ids_is_answered_400_and_reports_nothing(codedeploy, event):
    assert report.handler(event, None)["statusCode"] == 400
