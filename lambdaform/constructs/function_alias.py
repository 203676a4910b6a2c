"""An alias on a function's published versions, optionally with provisioned concurrency on it."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.lambda_alias import LambdaAlias
from cdktf_cdktf_provider_aws.lambda_provisioned_concurrency_config import LambdaProvisionedConcurrencyConfig
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class FunctionAliasProps:
    function_name: str
    function_version: str
    """The published version the alias points at when it is created (the function's ``version``)."""
    name: str
    """The alias name, e.g. ``live``."""
    managed_by_rollout: bool = False
    """False (default): every apply points the alias at the newest version. True: a deployment tool
    (CodeDeploy) moves the alias; Terraform creates it at the first version and then ignores
    ``function_version``."""
    provisioned_concurrency: int = 0
    """Execution environments kept initialized on the alias; 0 (default): none."""


class FunctionAlias(Construct):
    """Attributes: ``alias_name``, ``alias_arn``, ``invoke_arn``."""

    def __init__(self, scope: Construct, id: str, props: FunctionAliasProps):
        super().__init__(scope, id)
        if props.name == "$LATEST" or not props.name:
            raise ValueError(f"alias name {props.name!r} is not allowed")
        if props.provisioned_concurrency < 0:
            raise ValueError("provisioned_concurrency must be >= 0")
        self.alias = named(LambdaAlias(
            self, "alias",
            name=props.name,
            function_name=props.function_name,
            function_version=props.function_version,
            description="Managed by lambdaform" + (" and moved by CodeDeploy" if props.managed_by_rollout else ""),
            lifecycle=TerraformResourceLifecycle(ignore_changes=["function_version"])
            if props.managed_by_rollout else None,
        ), id)
        self.alias_name: str = self.alias.name
        self.alias_arn: str = self.alias.arn
        self.invoke_arn: str = self.alias.invoke_arn
        self.provisioned: LambdaProvisionedConcurrencyConfig | None = None
        if props.provisioned_concurrency:
            self.provisioned = named(LambdaProvisionedConcurrencyConfig(
                self, "provisioned_concurrency",
                function_name=props.function_name,
                qualifier=self.alias.name,
                provisioned_concurrent_executions=props.provisioned_concurrency,
            ), id, "provisioned_concurrency")
