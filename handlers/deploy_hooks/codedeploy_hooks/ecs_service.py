"""ECS look-ups shared by the BeforeInstall and AfterInstall hooks."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from codedeploy_hooks import aws
from codedeploy_hooks.config import EcsTarget
from codedeploy_hooks.errors import HookFailed


def describe_cluster(target: EcsTarget) -> dict[str, Any]:
    """The cluster, which must exist and be ACTIVE."""
    response = aws.client("ecs").describe_clusters(clusters=[target.cluster])
    if response.get("failures") or not response.get("clusters"):
        reasons = ", ".join(f.get("reason", "unknown") for f in response.get("failures", [])) or "not returned"
        raise HookFailed(f"ECS cluster {target.cluster} not found ({reasons})")
    cluster: dict[str, Any] = response["clusters"][0]
    if cluster.get("status") != "ACTIVE":
        raise HookFailed(f"ECS cluster {target.cluster} is {cluster.get('status')}, expected ACTIVE")
    return cluster


def describe_service(target: EcsTarget) -> dict[str, Any]:
    """The service, which must exist in the cluster and be ACTIVE."""
    try:
        response = aws.client("ecs").describe_services(cluster=target.cluster, services=[target.service])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
            raise HookFailed(f"ECS cluster {target.cluster} not found") from exc
        raise
    if response.get("failures") or not response.get("services"):
        reasons = ", ".join(f.get("reason", "unknown") for f in response.get("failures", [])) or "not returned"
        raise HookFailed(f"ECS service {target.service} not found in cluster {target.cluster} ({reasons})")
    service: dict[str, Any] = response["services"][0]
    if service.get("status") != "ACTIVE":
        raise HookFailed(f"ECS service {target.service} is {service.get('status')}, expected ACTIVE")
    return service


def deployment_controller(service: dict[str, Any]) -> str:
    """ECS, CODE_DEPLOY or EXTERNAL (ECS when the field is absent, as the API documents)."""
    return str(service.get("deploymentController", {}).get("type", "ECS"))
