"""The one place that turns a check into a CodeDeploy lifecycle hook handler.

CodeDeploy ignores a hook Lambda's return value: it waits for
``PutLifecycleEventHookExecutionStatus`` and, without it, leaves the deployment hanging until the hook
times out (one hour). :func:`lifecycle_hook` therefore wraps every check so that

* a check that returns reports ``Succeeded``;
* a check that raises :class:`~codedeploy_hooks.errors.HookFailed` (including a configuration error)
  reports ``Failed`` and logs the reason;
* any other exception also reports ``Failed``, and logs the reason with its traceback.

If the report itself cannot be sent (after botocore's retries), the handler logs why and re-raises:
an error result is the only way left to get the hook retried by Lambda's asynchronous invocation, since
swallowing it would leave the deployment waiting for a status that never comes. The handler sits inside
the kit's last line of defence with :func:`~lambdaform_kit.defence.reraise`: every line carries the Lambda
request id, and anything else that escapes is logged once and re-raised the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import append_fields, get_logger

from codedeploy_hooks import aws, config
from codedeploy_hooks.errors import HookFailed

SUCCEEDED = "Succeeded"
FAILED = "Failed"

# Seconds kept back from the Lambda timeout for reporting the status to CodeDeploy.
REPORT_RESERVE_SECONDS = 5.0

Check = Callable[["HookContext"], None]
Handler = Callable[[Any, Any], dict[str, Any]]

logger = get_logger(__name__)


@dataclass(frozen=True)
class HookContext:
    """One hook invocation: its identifiers (put on every log line) and its time budget."""

    hook: str
    lifecycle_event: str
    deployment_id: str
    execution_id: str
    deadline: float | None = None  # time.monotonic() by which checks should be done, if known
    log_fields: dict[str, str] = field(default_factory=dict)

    def seconds_left(self) -> float | None:
        """Time left for checks before the reporting reserve, or None outside Lambda."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _log(self, level: int, message: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        entry = {
            "hook": self.hook,
            "lifecycleEvent": self.lifecycle_event,
            "deploymentId": self.deployment_id,
            "lifecycleEventHookExecutionId": self.execution_id,
            **self.log_fields,
            **fields,
        }
        logger.log(level, message, extra=entry, exc_info=exc_info)

    def info(self, message: str, **fields: Any) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, *, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.ERROR, message, fields, exc_info=exc_info)



def lifecycle_hook(hook: str, lifecycle_event: str, check: Check) -> Handler:
    """Build the Lambda ``handler(event, context)`` that runs ``check`` and reports its outcome."""

    @last_line_of_defence(reraise, logger=logger)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        append_fields(hook=hook, lifecycleEvent=lifecycle_event)  # on every line, the defence's too
        ids = _event_ids(event)
        if isinstance(ids, str):
            # Without both ids there is nothing to report to; say so loudly instead.
            logger.error(
                f"cannot run hook: {ids}",
                extra={"hook": hook, "lifecycleEvent": lifecycle_event, "deploymentId": None},
            )
            return {"hook": hook, "status": FAILED, "reason": ids, "reported": False}
        deployment_id, execution_id = ids
        ctx = HookContext(
            hook=hook,
            lifecycle_event=lifecycle_event,
            deployment_id=deployment_id,
            execution_id=execution_id,
            deadline=_deadline(context),
            log_fields=_app_fields(),
        )
        ctx.info("hook started")
        status, reason = _run_check(ctx, check)
        _report(ctx, status)
        return {"hook": hook, "deploymentId": deployment_id, "status": status, "reason": reason, "reported": True}

    handler.__doc__ = f"{lifecycle_event} hook: {check.__doc__ or check.__name__}"
    return handler


def _event_ids(event: Any) -> tuple[str, str] | str:
    """(DeploymentId, LifecycleEventHookExecutionId) from the event, or why they are missing."""
    if not isinstance(event, dict):
        return f"event must be a JSON object, got {type(event).__name__}"
    missing = [
        key
        for key in ("DeploymentId", "LifecycleEventHookExecutionId")
        if not isinstance(event.get(key), str) or not event[key].strip()
    ]
    if missing:
        return f"event is missing {' and '.join(missing)}"
    return event["DeploymentId"], event["LifecycleEventHookExecutionId"]


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return time.monotonic() + remaining() / 1000 - REPORT_RESERVE_SECONDS


def _app_fields() -> dict[str, str]:
    fields = {"app": config.optional_str("APP_NAME"), "environment": config.optional_str("ENVIRONMENT")}
    return {key: value for key, value in fields.items() if value is not None}


def _run_check(ctx: HookContext, check: Check) -> tuple[str, str | None]:
    started = time.monotonic()
    try:
        check(ctx)
    except HookFailed as exc:
        ctx.error(f"hook failed: {exc.reason}", reason=exc.reason, durationMs=_ms_since(started))
        return FAILED, exc.reason
    except Exception as exc:  # noqa: BLE001 - any error must still end in a Failed report
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        ctx.error(f"hook failed: {reason}", exc_info=True, reason=reason, durationMs=_ms_since(started))
        return FAILED, reason
    ctx.info("hook checks passed", durationMs=_ms_since(started))
    return SUCCEEDED, None


def _report(ctx: HookContext, status: str) -> None:
    try:
        aws.client("codedeploy").put_lifecycle_event_hook_execution_status(
            deploymentId=ctx.deployment_id,
            lifecycleEventHookExecutionId=ctx.execution_id,
            status=status,
        )
    except Exception:
        ctx.error(
            f"could not report {status} to CodeDeploy; raising so Lambda retries the invocation",
            exc_info=True,
            status=status,
        )
        raise
    ctx.info(f"reported {status} to CodeDeploy", status=status)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
