"""CloudWatch log group for a function, created before the function so Lambda never makes an unmanaged one."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class LogGroupProps:
    name: str
    """Log group name; Lambda writes to ``/aws/lambda/<function name>``."""
    retention_days: int = 14
    """Events older than this are deleted (14 days unless set)."""
    kms_key_arn: str | None = None
    """Encrypt with this KMS key; CloudWatch Logs' own encryption when unset."""


class LogGroup(Construct):
    """A log group with a retention policy. Attributes: ``name``, ``arn``."""

    def __init__(self, scope: Construct, id: str, props: LogGroupProps):
        super().__init__(scope, id)
        self.resource = named(
            CloudwatchLogGroup(
                self,
                "group",
                name=props.name,
                retention_in_days=props.retention_days,
                kms_key_id=props.kms_key_arn,
            ),
            id,
        )
        self.name: str = self.resource.name
        self.arn: str = self.resource.arn

    @staticmethod
    def for_function(function_name: str) -> str:
        return f"/aws/lambda/{function_name}"
