"""The IAM role a Lambda function runs as: trust lambda.amazonaws.com, logging, extra grants scoped to ARNs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from lambdaform.constructs._iam import assume_role_policy, named, policy, statement


@dataclass(frozen=True)
class ExecutionRoleProps:
    name: str
    """Role name (64 characters at most)."""
    log_group_arn: str
    """The function's log group. The role may write there and nowhere else: the grants of AWS's
    AWSLambdaBasicExecutionRole, scoped to this ARN instead of ``*``."""
    statements: tuple[dict[str, Any], ...] = ()
    """Extra statements, each scoped to ARNs; rendered into the same inline policy."""
    tracing: bool = True
    """Allow sending X-Ray segments (``xray:PutTraceSegments`` accepts only ``*`` as resource)."""
    managed_policy_arns: tuple[str, ...] = ()
    """Managed policies to attach; none by default. Pass AWSLambdaBasicExecutionRole's ARN to get the
    unscoped original."""


class ExecutionRole(Construct):
    """Least-privilege execution role. Attributes: ``role_arn``, ``role_name``."""

    def __init__(self, scope: Construct, id: str, props: ExecutionRoleProps):
        super().__init__(scope, id)
        statements = [
            statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{props.log_group_arn}:*"], sid="WriteOwnLogs"),
        ]
        if props.tracing:
            statements.append(statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*", sid="XRayWrite"))
        statements.extend(props.statements)
        self.role = named(
            IamRole(self, "role", name=props.name, assume_role_policy=assume_role_policy("lambda.amazonaws.com")),
            id,
        )
        named(IamRolePolicy(self, "policy", name="lambdaform", role=self.role.id, policy=policy(statements)), id, "policy")
        for index, arn in enumerate(props.managed_policy_arns):
            named(IamRolePolicyAttachment(self, f"managed-{index}", role=self.role.name, policy_arn=arn),
                  id, f"managed_{index}")
        self.role_arn: str = self.role.arn
        self.role_name: str = self.role.name
