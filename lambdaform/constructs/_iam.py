"""Small helpers that render IAM policy JSON and give resources readable Terraform names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cdktf import TerraformElement

from lambdaform.names import tf_name


def statement(
    actions: Sequence[str],
    resources: Sequence[str] | str,
    *,
    sid: str | None = None,
    effect: str = "Allow",
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    principal: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One IAM statement. ``resources`` may hold Terraform references (tokens) as plain strings."""
    out: dict[str, Any] = {}
    if sid:
        out["Sid"] = sid
    out["Effect"] = effect
    if principal is not None:
        out["Principal"] = dict(principal)
    out["Action"] = list(actions) if len(actions) != 1 else actions[0]
    if resources:
        out["Resource"] = resources if isinstance(resources, str) else (
            list(resources) if len(resources) != 1 else resources[0]
        )
    if conditions:
        out["Condition"] = {op: dict(values) for op, values in conditions.items()}
    return out


def policy(statements: Iterable[Mapping[str, Any]]) -> str:
    """A policy document as compact, key-ordered JSON (stable bytes, tokens resolved at synth)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, separators=(",", ":"))


def assume_role_policy(service: str) -> str:
    """Trust policy letting an AWS service (e.g. ``lambda.amazonaws.com``) assume the role."""
    return policy([statement(["sts:AssumeRole"], [], principal={"Service": service})])


def named(element: TerraformElement, *parts: str) -> TerraformElement:
    """Give ``element`` the logical id ``tf_name(*parts)`` instead of cdktf's hashed one."""
    element.override_logical_id(tf_name(*parts))
    return element
