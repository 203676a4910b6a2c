"""The CodeDeploy AppSpec of an ECS blue/green deployment whose lifecycle hooks are the deploy_hooks functions.

Two entry points, one renderer (``templates/appspec.yml.j2``); ``lambdaform appspec`` is
:func:`lambdaform.commands.write_appspec`, which feeds them a deployed environment's outputs:

* :func:`render_appspec` - the YAML, from hook ARNs by lifecycle event. At synth the ARNs are Terraform
  references, so the stack's ``appspec`` output holds the real ARNs once applied.
* :func:`appspec_from_outputs` - the hook ARNs from a deployed stack's outputs (the seed's output names).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdaform.render import render

TEMPLATE = "appspec.yml.j2"
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
"""What CodePipeline's ECS blue/green action replaces with the new task definition ARN."""
DEFAULT_PLATFORM_VERSION = "LATEST"
DEFAULT_CONTAINER_NAME = "app"
DEFAULT_CONTAINER_PORT = 8000

LIFECYCLE_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
"""ECS deployment lifecycle events that run hooks, in the order CodeDeploy runs them."""

OUTPUT_EVENTS = {
    "validate_before_install_arn": "BeforeInstall",
    "validate_deployment_arn": "AfterInstall",
    "validate_test_traffic_arn": "AfterAllowTestTraffic",
    "run_migrations_arn": "BeforeAllowTraffic",
    "validate_production_arn": "AfterAllowTraffic",
}
"""Stack output (the seed module's output names) -> the lifecycle event its function serves."""


def _scalar(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML); ``<`` and ``>`` stay literal."""
    return json.dumps(value, ensure_ascii=False)


def render_appspec(
    hook_arns: Mapping[str, str],
    container_name: str = DEFAULT_CONTAINER_NAME,
    container_port: int = DEFAULT_CONTAINER_PORT,
    task_definition: str = TASK_DEFINITION_PLACEHOLDER,
    platform_version: str | None = DEFAULT_PLATFORM_VERSION,
) -> str:
    """AppSpec YAML (``version: 0.0``) for ``AWS::ECS::Service``.

    ``hook_arns`` maps lifecycle events (:data:`LIFECYCLE_EVENTS`) to Lambda ARNs; hooks are listed in
    lifecycle order whatever the mapping's order. ``platform_version`` ``None`` leaves ``PlatformVersion``
    out (EC2 launch type); Fargate takes ``LATEST`` or a version such as ``1.4.0``."""
    unknown = sorted(set(hook_arns) - set(LIFECYCLE_EVENTS))
    if unknown:
        raise ValueError(f"unknown lifecycle event(s) {', '.join(unknown)}; ECS hooks are {', '.join(LIFECYCLE_EVENTS)}")
    if not hook_arns:
        raise ValueError("no hooks given")
    if not container_name:
        raise ValueError("container_name is empty")
    if isinstance(container_port, bool) or not isinstance(container_port, int) or not 1 <= container_port <= 65535:
        raise ValueError(f"container_port must be a port number 1-65535, got {container_port!r}")
    return render(
        TEMPLATE,
        placeholder=task_definition if task_definition == TASK_DEFINITION_PLACEHOLDER else None,
        task_definition=_scalar(task_definition),
        container_name=_scalar(container_name),
        container_port=str(container_port),
        platform_version=_scalar(platform_version) if platform_version else None,
        hooks=[(event, _scalar(hook_arns[event])) for event in LIFECYCLE_EVENTS if event in hook_arns],
    )


def appspec_from_outputs(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Lifecycle event -> function ARN, from stack outputs by the seed's names.

    ``outputs`` is either ``{name: value}`` or ``terraform output -json``'s ``{name: {"value": ...}}``
    (what :meth:`lambdaform.deploy.Deployment.outputs` returns). ``ValueError`` names missing outputs."""
    arns: dict[str, str] = {}
    missing = []
    for name, event in OUTPUT_EVENTS.items():
        value = outputs.get(name)
        if isinstance(value, Mapping):
            value = value.get("value")
        if not isinstance(value, str) or not value:
            missing.append(name)
            continue
        arns[event] = value
    if missing:
        raise ValueError(f"missing output(s) {', '.join(missing)}")
    return {event: arns[event] for event in LIFECYCLE_EVENTS}
