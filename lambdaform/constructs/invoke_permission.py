"""``aws_lambda_permission``: let one AWS service invoke a function, from one source only.

Every permission names the exact source ARN, and for sources that live in an account (S3 buckets, SNS
topics, EventBridge rules) also the account: without ``source_account`` a bucket of the same name in
another account could invoke the function (the "confused deputy" AWS warns about).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class InvokePermissionProps:
    function_name: str
    principal: str
    """The service allowed to invoke, e.g. ``s3.amazonaws.com``."""
    source_arn: str
    source_account: str | None = None
    """The source's account (the deploying account's id); set for S3, SNS and EventBridge sources."""
    qualifier: str | None = None
    """Version or alias the permission applies to (the alias the trigger invokes)."""
    statement_id: str = "AllowInvoke"


class InvokePermission(Construct):
    def __init__(self, scope: Construct, id: str, props: InvokePermissionProps):
        super().__init__(scope, id)
        self.resource = named(LambdaPermission(
            self, "permission",
            statement_id=props.statement_id,
            action="lambda:InvokeFunction",
            function_name=props.function_name,
            principal=props.principal,
            source_arn=props.source_arn,
            source_account=props.source_account,
            qualifier=props.qualifier,
        ), id)
