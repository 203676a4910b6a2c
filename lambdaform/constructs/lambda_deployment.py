"""Gradual rollout of a Lambda alias with CodeDeploy: the application, the deployment group and its role.

CodeDeploy shifts the alias from the version it points at to a new one by the deployment configuration
(``CodeDeployDefault.LambdaCanary10Percent5Minutes``...), runs the lifecycle hooks, watches the alarms and
rolls back on a failure, a stopped deployment or an alarm. The role holds exactly what the Lambda compute
platform uses (the calls of AWS's ``AWSCodeDeployRoleForLambdaLimited``, scoped to ARNs): read and move this
alias, read its provisioned concurrency, invoke the hook functions, read the alarms. Revisions are passed as
AppSpec content, so no S3 access is granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.codedeploy_app import CodedeployApp
from cdktf_cdktf_provider_aws.codedeploy_deployment_group import (
    CodedeployDeploymentGroup,
    CodedeployDeploymentGroupAlarmConfiguration,
    CodedeployDeploymentGroupAutoRollbackConfiguration,
    CodedeployDeploymentGroupDeploymentStyle,
)
from constructs import Construct

from lambdaform.constructs._iam import named, statement
from lambdaform.constructs.service_role import ServiceRole, ServiceRoleProps

ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")
MAX_NAME = 100


@dataclass(frozen=True)
class LambdaDeploymentProps:
    name: str
    """Name of the application, the deployment group and (with ``-codedeploy``) the role."""
    alias_arn: str
    """The alias CodeDeploy moves."""
    deployment_config_name: str
    """A predefined configuration, e.g. ``CodeDeployDefault.LambdaCanary10Percent5Minutes``."""
    account_id: str
    partition: str
    region: str
    hook_function_arns: tuple[str, ...] = ()
    """Functions CodeDeploy invokes as lifecycle hooks (no invoke permission when empty)."""
    alarm_names: tuple[str, ...] = ()
    """Alarms that stop and roll back a deployment; no alarm configuration when empty."""
    alarm_arns: tuple[str, ...] = ()
    """The same alarms' ARNs, for the role's ``cloudwatch:DescribeAlarms``."""


class LambdaDeployment(Construct):
    """Attributes: ``application_name``, ``deployment_group_name``, ``deployment_group_arn``, ``role_arn``."""

    def __init__(self, scope: Construct, id: str, props: LambdaDeploymentProps):
        super().__init__(scope, id)
        if len(props.name) > MAX_NAME:
            raise ValueError(f"CodeDeploy name '{props.name}' is longer than {MAX_NAME} characters")
        if not props.deployment_config_name.startswith("CodeDeployDefault.Lambda"):
            raise ValueError(f"{props.deployment_config_name!r} is not a predefined Lambda deployment configuration")
        app = named(CodedeployApp(self, "app", name=props.name, compute_platform="Lambda"), id, "app")
        group_pattern = (f"arn:{props.partition}:codedeploy:{props.region}:{props.account_id}:"
                         f"deploymentgroup:{props.name}/*")
        statements = [statement(["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"],
                                [props.alias_arn], sid="ShiftAlias")]
        if props.hook_function_arns:
            statements.append(statement(["lambda:InvokeFunction"], list(props.hook_function_arns), sid="InvokeHooks"))
        if props.alarm_arns:
            statements.append(statement(["cloudwatch:DescribeAlarms"], list(props.alarm_arns), sid="ReadAlarms"))
        role = ServiceRole(self, f"{id}_role", ServiceRoleProps(
            name=f"{props.name}-codedeploy"[:64], service="codedeploy.amazonaws.com",
            source_account=props.account_id, statements=tuple(statements), source_arn=group_pattern))
        group = named(CodedeployDeploymentGroup(
            self, "group",
            app_name=app.name,
            deployment_group_name=props.name,
            service_role_arn=role.role_arn,
            deployment_config_name=props.deployment_config_name,
            deployment_style=CodedeployDeploymentGroupDeploymentStyle(
                deployment_option="WITH_TRAFFIC_CONTROL", deployment_type="BLUE_GREEN"),
            auto_rollback_configuration=CodedeployDeploymentGroupAutoRollbackConfiguration(
                enabled=True, events=list(ROLLBACK_EVENTS)),
            alarm_configuration=CodedeployDeploymentGroupAlarmConfiguration(
                enabled=True, alarms=list(props.alarm_names)) if props.alarm_names else None,
            depends_on=[role.policy],
        ), id, "group")
        self.application_name: str = app.name
        self.deployment_group_name: str = group.deployment_group_name
        self.deployment_group_arn: str = group.arn
        self.role_arn: str = role.role_arn
