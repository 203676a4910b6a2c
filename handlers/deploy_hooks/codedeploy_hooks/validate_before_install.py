"""BeforeInstall: the target cluster is ACTIVE and the service exists in it and is ACTIVE."""

from __future__ import annotations

from codedeploy_hooks.config import EcsTarget
from codedeploy_hooks.ecs_service import deployment_controller, describe_cluster, describe_service
from codedeploy_hooks.runner import HookContext, lifecycle_hook


def validate_before_install(ctx: HookContext) -> None:
    """ECS cluster is ACTIVE and the service exists and is ACTIVE."""
    target = EcsTarget.from_env()
    describe_cluster(target)
    service = describe_service(target)
    ctx.info(
        "ECS cluster and service found",
        cluster=target.cluster,
        service=target.service,
        deploymentController=deployment_controller(service),
        desiredCount=service.get("desiredCount"),
    )


handler = lifecycle_hook("validate_before_install", "BeforeInstall", validate_before_install)
