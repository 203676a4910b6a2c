"""An IAM role an AWS service assumes on this stack's behalf (EventBridge Scheduler invoking a function).

The trust policy admits the service only for this account (``aws:SourceAccount``) and, when given, only
for one source (``aws:SourceArn``, e.g. a schedule group): no other account's resource can make the
service act with this role (the confused deputy). The inline policy holds exact statements, no ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement


@dataclass(frozen=True)
class ServiceRoleProps:
    name: str
    """Role name (64 characters at most)."""
    service: str
    """The service principal, e.g. ``scheduler.amazonaws.com``."""
    source_account: str
    """The account the service acts for (the deploying account's id)."""
    statements: tuple[dict[str, Any], ...]
    """What the role may do, each statement scoped to ARNs."""
    source_arn: str | None = None
    """Admit the service only on behalf of this source (ARN pattern allowed); any source of the account when
    ``None``."""


class ServiceRole(Construct):
    """Attributes: ``role_arn``, ``role_name``, ``policy`` (the inline policy, for ``depends_on``)."""

    def __init__(self, scope: Construct, id: str, props: ServiceRoleProps):
        super().__init__(scope, id)
        conditions: dict[str, dict[str, Any]] = {"StringEquals": {"aws:SourceAccount": props.source_account}}
        if props.source_arn is not None:
            conditions["ArnLike"] = {"aws:SourceArn": props.source_arn}
        trust = policy([statement(["sts:AssumeRole"], [], principal={"Service": props.service},
                                  conditions=conditions)])
        role = named(IamRole(self, "role", name=props.name, assume_role_policy=trust), id)
        self.policy = named(IamRolePolicy(self, "policy", name="lambdaform", role=role.id,
                                          policy=policy(props.statements)), id, "policy")
        self.role_arn: str = role.arn
        self.role_name: str = role.name
