"""A CodeDeploy Lambda lifecycle hook: check, then report the outcome with PutLifecycleEventHookExecutionStatus.

CodeDeploy invokes the hook with ``{"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}`` and waits
for the report (up to an hour) before it shifts traffic (BeforeAllowTraffic) or finishes (AfterAllowTraffic).
``Failed`` rolls the alias back. An event without the two ids is answered with a 400-style result and no
report; a failed report raises, so Lambda retries the invocation instead of leaving the deployment waiting.
"""

from __future__ import annotations

import os
from typing import Any

from lambdaform_kit import clients
from lambdaform_kit.logs import get_logger

log = get_logger("release_hooks")


def check(event: dict[str, Any]) -> str | None:
    """Why the new version must not get traffic, or None. Replace with real smoke tests; ``HOOK_FAIL=1``
    makes the hook fail (to rehearse a rollback)."""
    if os.environ.get("HOOK_FAIL") == "1":
        return "HOOK_FAIL is set"
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deployment_id = event.get("DeploymentId") if isinstance(event, dict) else None
    execution_id = event.get("LifecycleEventHookExecutionId") if isinstance(event, dict) else None
    if not isinstance(deployment_id, str) or not isinstance(execution_id, str):
        log.warning("not a CodeDeploy hook event")
        return {"statusCode": 400, "error": "DeploymentId and LifecycleEventHookExecutionId are required"}
    reason = check(event)
    status = "Failed" if reason else "Succeeded"
    log.info("hook finished", extra={"deployment_id": deployment_id, "status": status, "reason": reason})
    clients.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status)
    return {"statusCode": 200, "status": status}
