"""AfterInstall: the service is stable and the new tasks are running.

* ECS (rolling) controller: exactly one deployment (the PRIMARY), its ``rolloutState`` COMPLETED where
  the API reports one, service ``runningCount == desiredCount``, and the PRIMARY deployment running at
  least the expected number of tasks.
* CODE_DEPLOY (and EXTERNAL) controller: the replacement task set (the newest ACTIVE one, next to the
  PRIMARY original; there must be one) is in STEADY_STATE and runs at least the expected number of tasks. The
  service-level counters are not compared here because during blue/green they span both task sets.

The expected count is ``EXPECTED_TASK_COUNT`` or, when unset, the service's ``desiredCount``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from codedeploy_hooks import aws, config
from codedeploy_hooks.config import EcsTarget
from codedeploy_hooks.ecs_service import deployment_controller, describe_service
from codedeploy_hooks.errors import HookFailed
from codedeploy_hooks.runner import HookContext, lifecycle_hook

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def validate_deployment(ctx: HookContext) -> None:
    """ECS service is stable and the new task set runs the expected number of tasks."""
    target = EcsTarget.from_env()
    configured = config.positive_int("EXPECTED_TASK_COUNT", None)
    service = describe_service(target)
    expected = configured if configured is not None else int(service.get("desiredCount", 0))
    if expected < 1:
        raise HookFailed(
            f"ECS service {target.service} has desiredCount 0 and EXPECTED_TASK_COUNT is not set, "
            "so there are no new tasks to validate"
        )
    controller = deployment_controller(service)
    if controller == "ECS":
        problems = _rolling_problems(ctx, service, expected)
    else:
        problems = _task_set_problems(ctx, target, expected)
    if problems:
        raise HookFailed("; ".join(problems))
    ctx.info("ECS service is stable", deploymentController=controller, expectedTaskCount=expected)


def _rolling_problems(ctx: HookContext, service: dict[str, Any], expected: int) -> list[str]:
    deployments: list[dict[str, Any]] = service.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return ["service has no PRIMARY deployment"]
    ctx.info(
        "checking PRIMARY deployment",
        ecsDeploymentId=primary.get("id"),
        rolloutState=primary.get("rolloutState"),
        runningCount=primary.get("runningCount"),
        deploymentCount=len(deployments),
    )
    problems = []
    if len(deployments) > 1:
        problems.append(f"{len(deployments)} deployments in progress, the PRIMARY and {len(deployments) - 1} older")
    rollout = primary.get("rolloutState")
    if rollout is not None and rollout != "COMPLETED":
        problems.append(f"PRIMARY deployment rolloutState is {rollout}, expected COMPLETED")
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    if running != desired:
        problems.append(f"service runningCount {running} does not match desiredCount {desired}")
    if primary.get("runningCount", 0) < expected:
        problems.append(f"PRIMARY deployment runs {primary.get('runningCount', 0)} tasks, expected at least {expected}")
    return problems


def _task_set_problems(ctx: HookContext, target: EcsTarget, expected: int) -> list[str]:
    response = aws.client("ecs").describe_task_sets(cluster=target.cluster, service=target.service)
    if response.get("failures"):
        reasons = ", ".join(f.get("reason", "unknown") for f in response["failures"])
        return [f"could not describe task sets ({reasons})"]
    task_sets: list[dict[str, Any]] = response.get("taskSets", [])
    if not task_sets:
        return [f"ECS service {target.service} has no task sets"]
    # CodeDeploy creates the replacement as ACTIVE next to the PRIMARY (original) one; DRAINING sets
    # are on their way out. Validating the PRIMARY instead would pass on the old version.
    replacements = [ts for ts in task_sets if ts.get("status") == "ACTIVE"]
    if not replacements:
        found = ", ".join(f"{ts.get('id')} ({ts.get('status')})" for ts in task_sets)
        return [f"ECS service {target.service} has no replacement (ACTIVE) task set; found {found}"]
    new = max(replacements, key=lambda ts: ts.get("createdAt") or _EPOCH)
    ctx.info(
        "checking replacement task set",
        taskSetId=new.get("id"),
        taskSetStatus=new.get("status"),
        stabilityStatus=new.get("stabilityStatus"),
        runningCount=new.get("runningCount"),
        taskDefinition=new.get("taskDefinition"),
    )
    problems = []
    stability = new.get("stabilityStatus")
    if stability is not None and stability != "STEADY_STATE":
        problems.append(f"task set {new.get('id')} is {stability}, expected STEADY_STATE")
    running = new.get("runningCount", 0)
    if running < expected:
        problems.append(f"task set {new.get('id')} runs {running} tasks, expected at least {expected}")
    return problems


handler = lifecycle_hook("validate_deployment", "AfterInstall", validate_deployment)
