"""CodeDeploy lifecycle hooks (handlers/deploy_hooks/codedeploy_hooks).

What runs on moto (in-process ``mock_aws``): ECS clusters, task definitions and services (rolling
controller, and a CODE_DEPLOY service without task sets), and CloudWatch metric alarms.

What runs on ``botocore.stub.Stubber``, because moto does not implement it:

* ``codedeploy_status_stubber``: moto's CodeDeploy has no ``PutLifecycleEventHookExecutionStatus``.
  Every hook test queues the exact request it expects (deployment id, execution id, status) and checks
  that it was sent.
* ``ecs_task_set_stubber``: moto's task sets carry no ``runningCount``/``stabilityStatus``, so the
  CODE_DEPLOY task-set path is fed realistic ``DescribeServices``/``DescribeTaskSets`` responses.

HTTP smoke checks run against a real ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from codedeploy_hooks import (
    aws,
    run_migrations,
    validate_before_install,
    validate_deployment,
    validate_production,
    validate_test_traffic,
)

DEPLOYMENT_ID = "d-7QZ3EXAMPLE"
EXECUTION_ID = "eyJlbmNyeXB0ZWREYXRhIjoiZXhhbXBsZS1leGVjdXRpb24taWQifQ=="
EVENT = {"DeploymentId": DEPLOYMENT_ID, "LifecycleEventHookExecutionId": EXECUTION_ID}

CLUSTER = "shop-prod"
SERVICE = "shop-api"

CONFIG_VARS = (
    "ECS_CLUSTER",
    "ECS_SERVICE",
    "APP_NAME",
    "ENVIRONMENT",
    "SMOKE_TEST_URLS",
    "PRODUCTION_URLS",
    "LATENCY_THRESHOLD_MS",
    "HTTP_TIMEOUT_SECONDS",
    "EXPECTED_TASK_COUNT",
    "ALARM_NAMES",
    "MIGRATION_COMMAND",
    "MOTO_ECS_SERVICE_RUNNING",
)

HOOK_MODULES = {
    "validate_before_install": validate_before_install,
    "validate_deployment": validate_deployment,
    "validate_test_traffic": validate_test_traffic,
    "run_migrations": run_migrations,
    "validate_production": validate_production,
}


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(autouse=True, scope="module")
def _hook_clients() -> Iterator[None]:
    """The hooks cache their boto3 clients per container; share them across this module's tests
    (building clients is the slow part) and drop them before and after. Each client is first built
    inside a test, under that test's fake credentials and moto."""
    aws.reset_clients()
    yield
    aws.reset_clients()


@pytest.fixture(autouse=True)
def aws_sandbox(monkeypatch: pytest.MonkeyPatch, _hook_clients: None) -> Iterator[None]:
    """Fake credentials, a clean configuration, no proxies, and a fresh moto for every test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", *CONFIG_VARS):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def codedeploy_status_stubber() -> Iterator[Stubber]:
    """Stubber on the hooks' own CodeDeploy client (moto lacks PutLifecycleEventHookExecutionStatus).

    Queue an expectation with :func:`expect_status`; any call that does not match it exactly, or a
    call with nothing queued, raises inside the handler's report step and fails the test.
    """
    with Stubber(aws.client("codedeploy")) as stubber:
        yield stubber


@pytest.fixture
def ecs_task_set_stubber() -> Iterator[Stubber]:
    """Stubber on the hooks' ECS client, for the CODE_DEPLOY task-set path moto cannot describe."""
    with Stubber(aws.client("ecs")) as stubber:
        yield stubber


def expect_status(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": EXECUTION_ID},
        expected_params={
            "deploymentId": DEPLOYMENT_ID,
            "lifecycleEventHookExecutionId": EXECUTION_ID,
            "status": status,
        },
    )


def run_hook(
    handler: Callable[[Any, Any], dict[str, Any]],
    stubber: Stubber,
    status: str,
    context: Any = None,
) -> dict[str, Any]:
    """Invoke ``handler`` with the standard event; assert it reported exactly ``status``."""
    expect_status(stubber, status)
    result = handler(dict(EVENT), context)
    stubber.assert_no_pending_responses()
    assert result["status"] == status
    return result


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line, each of which must be one JSON object with the required fields."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"level", "message", "hook", "deploymentId"} <= entry.keys(), entry
    return entries


def failure_reason(entries: list[dict[str, Any]]) -> str:
    """The reason on the single 'hook failed' log line."""
    failed = [e for e in entries if e["message"].startswith("hook failed:")]
    assert len(failed) == 1, entries
    assert failed[0]["level"] == "ERROR"
    return str(failed[0]["reason"])


def create_ecs_service(
    monkeypatch: pytest.MonkeyPatch,
    *,
    desired: int = 2,
    running: int = 2,
    controller: str = "ECS",
) -> Any:
    """A cluster, task definition and service in moto; ``running`` is moto's reported runningCount.

    Set-up goes through the hooks' own cached client only to save client start-up time."""
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(running))
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(
        family="shop-api",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 512}],
    )
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition="shop-api",
        desiredCount=desired,
        deploymentController={"type": controller},
    )
    return ecs


@pytest.fixture
def ecs_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_CLUSTER", CLUSTER)
    monkeypatch.setenv("ECS_SERVICE", SERVICE)


class _SmokeApp(BaseHTTPRequestHandler):
    SLOW_SECONDS = 1.2  # far above the thresholds below, so a busy machine cannot blur the verdicts

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/slow":
            time.sleep(self.SLOW_SECONDS)
        if self.path in ("/ok", "/health", "/slow"):
            self._send(200, b'{"status": "ok"}')
        elif self.path == "/error":
            self._send(500, b'{"error": "boom"}')
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/error")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the hook gave up first (the timeout tests): expected, not a server error

    def log_message(self, format: str, *args: Any) -> None:  # keep stdout pure JSON log lines
        pass


@pytest.fixture
def smoke_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 and a free port; yields its base URL, always stopped."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SmokeApp)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        deadline = time.monotonic() + 5
        while True:  # ready once it accepts a connection
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


@dataclass
class FakeLambdaContext:
    """Just the part of the Lambda context object the runner reads."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# --------------------------------------------------------------------------------------------------
# The shared runner: reporting, logging, bad events, unexpected errors


def test_every_handler_is_exposed_under_its_handler_string() -> None:
    import importlib

    for handler_string, event in [
        ("codedeploy_hooks.validate_before_install.handler", "BeforeInstall"),
        ("codedeploy_hooks.validate_deployment.handler", "AfterInstall"),
        ("codedeploy_hooks.validate_test_traffic.handler", "AfterAllowTestTraffic"),
        ("codedeploy_hooks.run_migrations.handler", "BeforeAllowTraffic"),
        ("codedeploy_hooks.validate_production.handler", "AfterAllowTraffic"),
    ]:
        module_name, attr = handler_string.rsplit(".", 1)
        handler = getattr(importlib.import_module(module_name), attr)
        assert callable(handler)
        assert handler.__doc__.startswith(f"{event} hook:")


def test_success_logs_json_lines_with_hook_and_deployment_ids(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_NAME", "shop")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    result = run_hook(run_migrations.handler, codedeploy_status_stubber, "Succeeded")

    assert result["reported"] is True
    entries = log_lines(capsys)
    for entry in entries:
        assert entry["hook"] == "run_migrations"
        assert entry["lifecycleEvent"] == "BeforeAllowTraffic"
        assert entry["deploymentId"] == DEPLOYMENT_ID
        assert entry["lifecycleEventHookExecutionId"] == EXECUTION_ID
        assert entry["app"] == "shop" and entry["environment"] == "prod"
    messages = [e["message"] for e in entries]
    assert messages[0] == "hook started"
    assert messages[-1] == "reported Succeeded to CodeDeploy"


@pytest.mark.parametrize(
    ("hook_name", "broken_attr", "env"),
    [
        ("validate_before_install", "describe_cluster", {"ECS_CLUSTER": CLUSTER, "ECS_SERVICE": SERVICE}),
        ("validate_deployment", "describe_service", {"ECS_CLUSTER": CLUSTER, "ECS_SERVICE": SERVICE}),
        ("validate_test_traffic", "run_smoke_checks", {"SMOKE_TEST_URLS": "http://127.0.0.1:9/health"}),
        ("run_migrations", "load_migration", {"MIGRATION_COMMAND": "codedeploy_hooks.migrations:noop_migration"}),
        ("validate_production", "_describe_alarms", {"ALARM_NAMES": "shop-5xx"}),
    ],
)
def test_unexpected_exception_still_reports_failed(
    monkeypatch: pytest.MonkeyPatch,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
    hook_name: str,
    broken_attr: str,
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom: simulated bug")

    module = HOOK_MODULES[hook_name]
    monkeypatch.setattr(module, broken_attr, explode)
    result = run_hook(module.handler, codedeploy_status_stubber, "Failed")

    assert result["reason"] == "unexpected error: RuntimeError: boom: simulated bug"
    entries = log_lines(capsys)
    assert failure_reason(entries) == "unexpected error: RuntimeError: boom: simulated bug"
    failed = next(e for e in entries if e["message"].startswith("hook failed:"))
    assert "Traceback" in failed["traceback"] and "explode" in failed["traceback"]


def test_aws_api_error_reports_failed(
    ecs_env: None, ecs_task_set_stubber: Stubber, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs_task_set_stubber.add_client_error(
        "describe_clusters", service_error_code="AccessDeniedException", service_message="not authorized"
    )
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Failed")

    reason = failure_reason(log_lines(capsys))
    assert reason == (
        "unexpected error: AccessDeniedException: An error occurred (AccessDeniedException) "
        "when calling the DescribeClusters operation: not authorized"
    )


@pytest.mark.parametrize(
    ("hook_name", "env", "expected_reason"),
    [
        ("validate_before_install", {"ECS_SERVICE": SERVICE}, "environment variable ECS_CLUSTER is required"),
        ("validate_deployment", {"ECS_CLUSTER": CLUSTER}, "environment variable ECS_SERVICE is required"),
        (
            "validate_deployment",
            {"ECS_CLUSTER": CLUSTER, "ECS_SERVICE": SERVICE, "EXPECTED_TASK_COUNT": "0"},
            "EXPECTED_TASK_COUNT must be at least 1, got 0",
        ),
        ("validate_test_traffic", {}, "environment variable SMOKE_TEST_URLS is required"),
        ("validate_test_traffic", {"SMOKE_TEST_URLS": " , "}, "environment variable SMOKE_TEST_URLS is required"),
        ("validate_test_traffic", {"SMOKE_TEST_URLS": "alb:8080/health"}, "is not an absolute http(s) URL"),
        (
            "validate_test_traffic",
            {"SMOKE_TEST_URLS": "http://127.0.0.1:9/", "LATENCY_THRESHOLD_MS": "fast"},
            "LATENCY_THRESHOLD_MS must be a number, got 'fast'",
        ),
        (
            "validate_test_traffic",
            {"SMOKE_TEST_URLS": "http://127.0.0.1:9/", "HTTP_TIMEOUT_SECONDS": "-1"},
            "HTTP_TIMEOUT_SECONDS must be greater than 0",
        ),
        ("validate_production", {}, "set ALARM_NAMES and/or PRODUCTION_URLS"),
        ("run_migrations", {"MIGRATION_COMMAND": "migrate_everything"}, "MIGRATION_COMMAND must look like"),
    ],
)
def test_missing_or_invalid_configuration_reports_failed(
    monkeypatch: pytest.MonkeyPatch,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
    hook_name: str,
    env: dict[str, str],
    expected_reason: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run_hook(HOOK_MODULES[hook_name].handler, codedeploy_status_stubber, "Failed")

    reason = failure_reason(log_lines(capsys))
    assert reason.startswith("configuration error: ")
    assert expected_reason in reason


@pytest.mark.parametrize(
    ("event", "expected_reason"),
    [
        ({}, "event is missing DeploymentId and LifecycleEventHookExecutionId"),
        ({"DeploymentId": DEPLOYMENT_ID}, "event is missing LifecycleEventHookExecutionId"),
        ({"DeploymentId": " ", "LifecycleEventHookExecutionId": EXECUTION_ID}, "event is missing DeploymentId"),
        ("not-an-event", "event must be a JSON object, got str"),
    ],
)
def test_event_without_ids_is_logged_and_nothing_is_reported(
    codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str], event: Any, expected_reason: str
) -> None:
    # Nothing is queued on the stubber: any CodeDeploy call would raise out of the handler.
    result = validate_before_install.handler(event, None)

    assert result == {
        "hook": "validate_before_install",
        "status": "Failed",
        "reason": expected_reason,
        "reported": False,
    }
    (entry,) = log_lines(capsys)
    assert entry["level"] == "ERROR"
    assert entry["message"] == f"cannot run hook: {expected_reason}"
    assert entry["deploymentId"] is None


def test_report_failure_is_logged_and_raised_for_lambda_retry(
    codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    codedeploy_status_stubber.add_client_error(
        "put_lifecycle_event_hook_execution_status",
        service_error_code="LifecycleEventAlreadyCompletedException",
        expected_params={
            "deploymentId": DEPLOYMENT_ID,
            "lifecycleEventHookExecutionId": EXECUTION_ID,
            "status": "Succeeded",
        },
    )
    with pytest.raises(ClientError, match="LifecycleEventAlreadyCompletedException"):
        run_migrations.handler(dict(EVENT), None)
    codedeploy_status_stubber.assert_no_pending_responses()

    last = log_lines(capsys)[-1]
    assert last["level"] == "ERROR"
    assert last["message"] == "could not report Succeeded to CodeDeploy; raising so Lambda retries the invocation"
    assert "LifecycleEventAlreadyCompletedException" in last["traceback"]


# --------------------------------------------------------------------------------------------------
# BeforeInstall: validate_before_install (moto ECS)


def test_before_install_succeeds_when_cluster_and_service_are_active(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch)
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Succeeded")

    found = next(e for e in log_lines(capsys) if e["message"] == "ECS cluster and service found")
    assert found["desiredCount"] == 2 and found["deploymentController"] == "ECS"


def test_before_install_fails_when_service_is_missing(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    create_ecs_service(monkeypatch)
    monkeypatch.setenv("ECS_CLUSTER", CLUSTER)
    monkeypatch.setenv("ECS_SERVICE", "shop-typo")
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == f"ECS service shop-typo not found in cluster {CLUSTER} (MISSING)"


def test_before_install_fails_when_cluster_is_missing(
    ecs_env: None, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == f"ECS cluster {CLUSTER} not found (MISSING)"


def test_before_install_fails_when_cluster_is_inactive(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ecs = create_ecs_service(monkeypatch)
    ecs.delete_cluster(cluster=CLUSTER)
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == f"ECS cluster {CLUSTER} is INACTIVE, expected ACTIVE"


def test_before_install_fails_when_service_is_inactive(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ecs = create_ecs_service(monkeypatch)
    ecs.delete_service(cluster=CLUSTER, service=SERVICE, force=True)
    run_hook(validate_before_install.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == f"ECS service {SERVICE} is INACTIVE, expected ACTIVE"


# --------------------------------------------------------------------------------------------------
# AfterInstall: validate_deployment (moto ECS for rolling services, Stubber for task sets)


def test_deployment_succeeds_when_rolling_deployment_completed(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch, desired=2, running=2)
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Succeeded")

    entries = log_lines(capsys)
    primary = next(e for e in entries if e["message"] == "checking PRIMARY deployment")
    assert primary["rolloutState"] == "COMPLETED" and primary["runningCount"] == 2
    assert any(e["message"] == "ECS service is stable" and e["expectedTaskCount"] == 2 for e in entries)


def test_deployment_fails_while_rollout_in_progress(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch, desired=2, running=0)
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == (
        "PRIMARY deployment rolloutState is IN_PROGRESS, expected COMPLETED; "
        "service runningCount 0 does not match desiredCount 2; "
        "PRIMARY deployment runs 0 tasks, expected at least 2"
    )


def test_deployment_fails_below_expected_task_count(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch, desired=2, running=2)
    monkeypatch.setenv("EXPECTED_TASK_COUNT", "3")
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == "PRIMARY deployment runs 2 tasks, expected at least 3"


def test_deployment_fails_when_service_has_no_desired_tasks(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch, desired=0, running=0)
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert "has desiredCount 0 and EXPECTED_TASK_COUNT is not set" in failure_reason(log_lines(capsys))


def test_deployment_fails_for_code_deploy_service_without_task_sets(
    monkeypatch: pytest.MonkeyPatch,
    ecs_env: None,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_ecs_service(monkeypatch, controller="CODE_DEPLOY")
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == f"ECS service {SERVICE} has no task sets"


def _code_deploy_service(desired: int = 2) -> dict[str, Any]:
    return {
        "serviceName": SERVICE,
        "serviceArn": f"arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}",
        "clusterArn": f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}",
        "status": "ACTIVE",
        "desiredCount": desired,
        "runningCount": desired * 2,  # both task sets run during blue/green
        "deploymentController": {"type": "CODE_DEPLOY"},
    }


def _task_set(task_set_id: str, status: str, running: int, stability: str, created: datetime) -> dict[str, Any]:
    return {
        "id": task_set_id,
        "taskSetArn": f"arn:aws:ecs:us-east-1:123456789012:task-set/{CLUSTER}/{SERVICE}/{task_set_id}",
        "status": status,
        "runningCount": running,
        "stabilityStatus": stability,
        "createdAt": created,
        "taskDefinition": f"arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:{task_set_id[-1]}",
    }


NOW = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


def _stub_task_sets(stubber: Stubber, task_sets: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "describe_services",
        {"services": [_code_deploy_service()], "failures": []},
        expected_params={"cluster": CLUSTER, "services": [SERVICE]},
    )
    stubber.add_response(
        "describe_task_sets",
        {"taskSets": task_sets},
        expected_params={"cluster": CLUSTER, "service": SERVICE},
    )


def _blue_green_task_sets(new_running: int, new_stability: str) -> list[dict[str, Any]]:
    """Original PRIMARY, the replacement ACTIVE, and a newer DRAINING leftover that must be ignored."""
    return [
        _task_set("ecs-svc/old1", "PRIMARY", 2, "STEADY_STATE", NOW - timedelta(days=1)),
        _task_set("ecs-svc/new2", "ACTIVE", new_running, new_stability, NOW),
        _task_set("ecs-svc/gone3", "DRAINING", 0, "STABILIZING", NOW + timedelta(minutes=1)),
    ]


def test_deployment_succeeds_when_replacement_task_set_is_steady(
    ecs_env: None, ecs_task_set_stubber: Stubber, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    _stub_task_sets(ecs_task_set_stubber, _blue_green_task_sets(new_running=2, new_stability="STEADY_STATE"))
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Succeeded")
    ecs_task_set_stubber.assert_no_pending_responses()

    checked = next(e for e in log_lines(capsys) if e["message"] == "checking replacement task set")
    assert checked["taskSetId"] == "ecs-svc/new2"


def test_deployment_fails_when_replacement_task_set_is_short_of_tasks(
    ecs_env: None, ecs_task_set_stubber: Stubber, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    _stub_task_sets(ecs_task_set_stubber, _blue_green_task_sets(new_running=1, new_stability="STABILIZING"))
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == (
        "task set ecs-svc/new2 is STABILIZING, expected STEADY_STATE; "
        "task set ecs-svc/new2 runs 1 tasks, expected at least 2"
    )


def test_deployment_fails_without_a_replacement_task_set(
    ecs_env: None, ecs_task_set_stubber: Stubber, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # A healthy PRIMARY (the old version) and a newer DRAINING set: nothing new to validate.
    _stub_task_sets(
        ecs_task_set_stubber,
        [
            _task_set("ecs-svc/old1", "PRIMARY", 2, "STEADY_STATE", NOW - timedelta(days=1)),
            _task_set("ecs-svc/gone3", "DRAINING", 2, "STEADY_STATE", NOW),
        ],
    )
    run_hook(validate_deployment.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == (
        f"ECS service {SERVICE} has no replacement (ACTIVE) task set; "
        "found ecs-svc/old1 (PRIMARY), ecs-svc/gone3 (DRAINING)"
    )


# --------------------------------------------------------------------------------------------------
# AfterAllowTestTraffic: validate_test_traffic (real HTTP server)


def test_test_traffic_succeeds_when_every_url_answers(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SMOKE_TEST_URLS", f"{smoke_server}/health, {smoke_server}/redirect")
    run_hook(validate_test_traffic.handler, codedeploy_status_stubber, "Succeeded")

    passed = [e for e in log_lines(capsys) if e["message"].startswith("test-traffic smoke check passed")]
    # The 302 counts as an answer and is not followed (its target returns 500).
    assert [(e["url"], e["httpStatus"]) for e in passed] == [
        (f"{smoke_server}/health", 200),
        (f"{smoke_server}/redirect", 302),
    ]


def test_test_traffic_fails_with_every_failure_in_the_summary(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SMOKE_TEST_URLS", f"{smoke_server}/ok,{smoke_server}/error,{smoke_server}/slow")
    monkeypatch.setenv("LATENCY_THRESHOLD_MS", "600")
    run_hook(validate_test_traffic.handler, codedeploy_status_stubber, "Failed")

    entries = log_lines(capsys)
    reason = failure_reason(entries)
    assert reason.startswith("2 of 3 test-traffic smoke checks failed: ")
    assert f"GET {smoke_server}/error: HTTP 500" in reason
    assert f"GET {smoke_server}/slow: took " in reason and "over the 600 ms threshold" in reason
    assert f"{smoke_server}/ok:" not in reason
    slow = next(e for e in entries if e.get("url") == f"{smoke_server}/slow")
    assert slow["level"] == "WARNING" and slow["httpStatus"] == 200 and slow["latencyMs"] >= 600


def test_test_traffic_fails_on_timeout_and_refused_connection(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refused = closed_port_url()
    monkeypatch.setenv("SMOKE_TEST_URLS", f"{smoke_server}/slow,{refused}")
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "0.1")
    run_hook(validate_test_traffic.handler, codedeploy_status_stubber, "Failed")

    reason = failure_reason(log_lines(capsys))
    assert f"GET {smoke_server}/slow: no response within 0.1 s" in reason
    assert f"GET {refused}: request failed: " in reason


def test_test_traffic_stays_within_the_lambda_time_budget(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 5.15 s left minus the 5 s reporting reserve: 0.15 s for checks, despite a 10 s request timeout.
    monkeypatch.setenv("SMOKE_TEST_URLS", f"{smoke_server}/slow,{smoke_server}/ok")
    started = time.monotonic()
    run_hook(validate_test_traffic.handler, codedeploy_status_stubber, "Failed", context=FakeLambdaContext(5150))

    assert time.monotonic() - started < 2
    reason = failure_reason(log_lines(capsys))
    assert f"GET {smoke_server}/slow: no response within " in reason
    assert f"GET {smoke_server}/ok: not checked: Lambda time budget exhausted" in reason


# --------------------------------------------------------------------------------------------------
# BeforeAllowTraffic: run_migrations (the plug point)


@pytest.fixture
def migration_module(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """An importable module of migration callables, registered in sys.modules for this test only."""
    calls: list[str] = []
    module = types.ModuleType("lambdaform_test_migrations")

    def record(ctx: Any) -> None:
        calls.append(ctx.deployment_id)

    def refuse(ctx: Any) -> bool:
        calls.append(ctx.deployment_id)
        return False

    def crash(ctx: Any) -> None:
        raise RuntimeError("relation \"orders\" is locked")

    class Steps:
        @staticmethod
        def upgrade(ctx: Any) -> str:
            calls.append(f"upgrade:{ctx.deployment_id}")
            return "3 migrations applied"

    module.record, module.refuse, module.crash, module.Steps = record, refuse, crash, Steps
    module.NOT_CALLABLE = 42
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return types.SimpleNamespace(calls=calls)


def test_migrations_without_command_succeed_with_log_line(
    codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Succeeded")

    assert "no migration configured" in [e["message"] for e in log_lines(capsys)]


def test_noop_example_migration_runs_and_succeeds(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MIGRATION_COMMAND", "codedeploy_hooks.migrations:noop_migration")
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Succeeded")

    messages = [e["message"] for e in log_lines(capsys)]
    assert "noop_migration: example migration ran, no changes made" in messages
    assert "migration codedeploy_hooks.migrations:noop_migration finished" in messages


@pytest.mark.parametrize(
    ("command", "expected_calls"),
    [
        ("lambdaform_test_migrations:record", [DEPLOYMENT_ID]),
        ("lambdaform_test_migrations:Steps.upgrade", [f"upgrade:{DEPLOYMENT_ID}"]),
    ],
)
def test_configured_migration_receives_the_context_and_succeeds(
    monkeypatch: pytest.MonkeyPatch,
    migration_module: types.SimpleNamespace,
    codedeploy_status_stubber: Stubber,
    command: str,
    expected_calls: list[str],
) -> None:
    monkeypatch.setenv("MIGRATION_COMMAND", command)
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Succeeded")

    assert migration_module.calls == expected_calls


def test_migration_returning_false_reports_failed(
    monkeypatch: pytest.MonkeyPatch,
    migration_module: types.SimpleNamespace,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIGRATION_COMMAND", "lambdaform_test_migrations:refuse")
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Failed")

    assert migration_module.calls == [DEPLOYMENT_ID]
    assert failure_reason(log_lines(capsys)) == "migration lambdaform_test_migrations:refuse returned False"


def test_migration_raising_reports_failed_with_traceback(
    monkeypatch: pytest.MonkeyPatch,
    migration_module: types.SimpleNamespace,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIGRATION_COMMAND", "lambdaform_test_migrations:crash")
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Failed")

    entries = log_lines(capsys)
    assert failure_reason(entries) == (
        'migration lambdaform_test_migrations:crash raised RuntimeError: relation "orders" is locked'
    )
    raised = next(e for e in entries if e["message"] == "migration lambdaform_test_migrations:crash raised")
    assert "Traceback" in raised["traceback"]


@pytest.mark.parametrize(
    ("command", "expected_reason"),
    [
        ("no_such_module_xyz:migrate", "cannot import no_such_module_xyz"),
        ("lambdaform_test_migrations:absent", "lambdaform_test_migrations has no attribute absent"),
        ("lambdaform_test_migrations:NOT_CALLABLE", "is not callable"),
    ],
)
def test_unresolvable_migration_command_reports_failed(
    monkeypatch: pytest.MonkeyPatch,
    migration_module: types.SimpleNamespace,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
    command: str,
    expected_reason: str,
) -> None:
    monkeypatch.setenv("MIGRATION_COMMAND", command)
    run_hook(run_migrations.handler, codedeploy_status_stubber, "Failed")

    reason = failure_reason(log_lines(capsys))
    assert reason.startswith("configuration error: ") and expected_reason in reason
    assert migration_module.calls == []


# --------------------------------------------------------------------------------------------------
# AfterAllowTraffic: validate_production (moto CloudWatch, real HTTP server)


def create_alarms(*names: str) -> Any:
    cloudwatch = aws.client("cloudwatch")
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")
    return cloudwatch


def test_production_succeeds_when_alarms_are_ok(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    create_alarms("shop-5xx", "shop-latency")
    monkeypatch.setenv("ALARM_NAMES", "shop-5xx,shop-latency")
    run_hook(validate_production.handler, codedeploy_status_stubber, "Succeeded")

    states = next(e for e in log_lines(capsys) if e["message"] == "CloudWatch alarm states")
    assert states["alarmStates"] == {"shop-5xx": "OK", "shop-latency": "OK"}


def test_production_fails_when_an_alarm_is_in_alarm(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = create_alarms("shop-5xx", "shop-latency")
    cloudwatch.set_alarm_state(AlarmName="shop-5xx", StateValue="ALARM", StateReason="12 5xx in 1 minute")
    monkeypatch.setenv("ALARM_NAMES", "shop-5xx,shop-latency")
    run_hook(validate_production.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == "1 CloudWatch alarm(s) in ALARM: shop-5xx (12 5xx in 1 minute)"


def test_production_fails_when_configured_alarm_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, codedeploy_status_stubber: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    create_alarms("shop-5xx")
    monkeypatch.setenv("ALARM_NAMES", "shop-5xx,shop-5xxx")
    run_hook(validate_production.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == (
        "configuration error: CloudWatch alarms not found: shop-5xxx (check ALARM_NAMES)"
    )


def test_production_checks_urls_after_alarms(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_alarms("shop-5xx")
    monkeypatch.setenv("ALARM_NAMES", "shop-5xx")
    monkeypatch.setenv("PRODUCTION_URLS", f"{smoke_server}/ok,{smoke_server}/error")
    run_hook(validate_production.handler, codedeploy_status_stubber, "Failed")

    assert failure_reason(log_lines(capsys)) == (
        f"1 of 2 production smoke checks failed: GET {smoke_server}/error: HTTP 500"
    )


def test_production_urls_alone_are_enough(
    monkeypatch: pytest.MonkeyPatch,
    smoke_server: str,
    codedeploy_status_stubber: Stubber,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PRODUCTION_URLS", f"{smoke_server}/health")
    run_hook(validate_production.handler, codedeploy_status_stubber, "Succeeded")

    assert any(e["message"] == f"production smoke check passed: GET {smoke_server}/health" for e in log_lines(capsys))
