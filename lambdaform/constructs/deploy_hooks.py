"""CodeDeploy lifecycle hooks for an ECS blue/green deployment: five Lambda functions, least privilege each.

The seed's Terraform module (``modules/lambda``: ``app_name``, ``environment``, ``aws_region``,
``ecs_cluster_name``, ``ecs_service_name``, ``log_retention``, ``tags``) as one construct. The hooks, in
lifecycle order (function name, CodeDeploy event, entry point, AWS calls besides the status report):

1. ``<app_name>-<environment>-validate-before-install``, ``BeforeInstall``,
   ``codedeploy_hooks.validate_before_install.handler``: ecs:DescribeClusters, ecs:DescribeServices.
2. ``<app_name>-<environment>-validate-deployment``, ``AfterInstall``,
   ``codedeploy_hooks.validate_deployment.handler``: ecs:DescribeServices, ecs:DescribeTaskSets.
3. ``<app_name>-<environment>-validate-test-traffic``, ``AfterAllowTestTraffic``,
   ``codedeploy_hooks.validate_test_traffic.handler``: HTTP smoke checks only.
4. ``<app_name>-<environment>-run-migrations``, ``BeforeAllowTraffic``,
   ``codedeploy_hooks.run_migrations.handler``: your migration callable only.
5. ``<app_name>-<environment>-validate-production``, ``AfterAllowTraffic``,
   ``codedeploy_hooks.validate_production.handler``: cloudwatch:DescribeAlarms (configured alarms).

Every hook reports its outcome with ``codedeploy:PutLifecycleEventHookExecutionStatus``; each gets its own
log group and execution role (the :class:`~lambdaform.constructs.function.Function` construct) and only the grants of
the calls it makes, each scoped to ARNs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.codedeploy_app import CodedeployApp
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from constructs import Construct

from lambdaform.constructs._iam import named, statement, tf_name
from lambdaform.constructs.function import Function, FunctionProps, ZipCode

MAX_FUNCTION_NAME = 64
MAX_ROLE_NAME = 64
MAX_CODEDEPLOY_APP_NAME = 100


@dataclass(frozen=True)
class Hook:
    """One lifecycle hook: its key (names, outputs), CodeDeploy event, entry point and seed output."""

    key: str
    lifecycle_event: str
    handler: str
    output_name: str
    output_description: str

    @property
    def name_suffix(self) -> str:
        return self.key.replace("_", "-")


HOOKS: tuple[Hook, ...] = (
    Hook("validate_before_install", "BeforeInstall", "codedeploy_hooks.validate_before_install.handler",
         "validate_before_install_arn", "ARN of the BeforeInstall Lambda function"),
    Hook("validate_deployment", "AfterInstall", "codedeploy_hooks.validate_deployment.handler",
         "validate_deployment_arn", "ARN of the AfterInstall Lambda function"),
    Hook("validate_test_traffic", "AfterAllowTestTraffic", "codedeploy_hooks.validate_test_traffic.handler",
         "validate_test_traffic_arn", "ARN of the AfterAllowTestTraffic Lambda function"),
    Hook("run_migrations", "BeforeAllowTraffic", "codedeploy_hooks.run_migrations.handler",
         "run_migrations_arn", "ARN of the BeforeAllowTraffic Lambda function"),
    Hook("validate_production", "AfterAllowTraffic", "codedeploy_hooks.validate_production.handler",
         "validate_production_arn", "ARN of the AfterAllowTraffic Lambda function"),
)
"""The five hooks in ECS lifecycle order (the order of the AppSpec ``Hooks`` list)."""


def hook_function_name(app_name: str, environment: str, hook: Hook) -> str:
    """``<app_name>-<environment>-<hook>``, e.g. ``shop-dev-validate-before-install``."""
    return f"{app_name}-{environment}-{hook.name_suffix}"


def hook_role_name(app_name: str, environment: str, hook: Hook) -> str:
    """The execution role :class:`~lambdaform.constructs.function.Function` creates: ``<function name>-role``."""
    return f"{hook_function_name(app_name, environment, hook)}-role"


def default_codedeploy_app_name(app_name: str, environment: str) -> str:
    return f"{app_name}-{environment}"


@dataclass(frozen=True)
class HookPackage:
    """The zip holding the ``codedeploy_hooks`` package: path relative to the stack folder and its
    base64 SHA-256 (what Lambda reports as CodeSha256)."""

    filename: str
    source_code_hash: str


@dataclass(frozen=True)
class DeployHooksProps:
    app_name: str
    """Application name; the first part of every function name."""
    environment: str
    """Deployment environment (``dev``, ``prod``); the second part of every function name."""
    aws_region: str
    """Region of the ECS cluster, the alarms and the CodeDeploy application (the ARNs the roles may use)."""
    ecs_cluster_name: str
    """The cluster the blue/green deployment runs in (``ECS_CLUSTER``)."""
    ecs_service_name: str
    """The service being deployed (``ECS_SERVICE``)."""
    package: HookPackage
    log_retention: int = 30
    """Days CloudWatch Logs keeps each hook's events (30, as in the seed)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Extra tags on the functions, log groups, roles and CodeDeploy application (none by default; the
    provider's default tags apply either way)."""
    runtime: str = "python3.12"
    """Lambda runtime; the seed's python3.9 is out of support."""
    timeout_seconds: int = 900
    """15 minutes, Lambda's maximum: smoke tests and migrations get all the time there is."""
    memory_mb: int = 256
    smoke_test_urls: tuple[str, ...] = ()
    """``SMOKE_TEST_URLS``: test-listener URLs AfterAllowTestTraffic must get a 2xx/3xx from."""
    production_urls: tuple[str, ...] = ()
    """``PRODUCTION_URLS``: production-listener URLs AfterAllowTraffic checks (optional)."""
    latency_threshold_ms: int = 2000
    """``LATENCY_THRESHOLD_MS``: slowest acceptable smoke response."""
    http_timeout_seconds: int = 10
    """``HTTP_TIMEOUT_SECONDS``: per-request timeout of the smoke checks."""
    expected_task_count: int | None = None
    """``EXPECTED_TASK_COUNT``; unset: the service's desiredCount."""
    alarm_names: tuple[str, ...] = ()
    """``ALARM_NAMES``: CloudWatch alarms that must not be in ALARM after production traffic. Only the
    AfterAllowTraffic hook may read them, and only these (by ARN). Metric alarms only: AWS returns
    composite alarms solely to callers allowed ``cloudwatch:DescribeAlarms`` on ``*``."""
    migration_command: str | None = None
    """``MIGRATION_COMMAND`` (``module:function``) run by BeforeAllowTraffic; unset: no migration."""
    kms_key_arn: str | None = None
    """Customer managed key for the hooks' log groups and environment variables (AWS managed when unset)."""
    create_codedeploy_app: bool = True
    """Create the CodeDeploy application (``compute_platform = "ECS"``). False: use an existing one named
    ``codedeploy_app_name``."""
    codedeploy_app_name: str | None = None
    """The CodeDeploy application; ``<app_name>-<environment>`` unless set. The hooks may report status
    only to deployment groups of this application."""

    @property
    def application_name(self) -> str:
        return self.codedeploy_app_name or default_codedeploy_app_name(self.app_name, self.environment)


class DeployHooks(Construct):
    """The five CodeDeploy hook functions (see the module docstring) and, by default, the CodeDeploy
    application they report to.

    Attributes: ``functions`` and ``function_arns`` (by hook key, lifecycle order), ``hook_arns`` (by
    lifecycle event, for the AppSpec), ``codedeploy_app_name``."""

    def __init__(self, scope: Construct, id: str, props: DeployHooksProps):
        super().__init__(scope, id)
        _validate(props)
        self.props = props
        prefix = tf_name(id)
        self._account = named(DataAwsCallerIdentity(self, "account"), prefix, "account").account_id
        self._partition = named(DataAwsPartition(self, "partition"), prefix, "partition").partition

        self.codedeploy_app: CodedeployApp | None = None
        if props.create_codedeploy_app:
            self.codedeploy_app = named(
                CodedeployApp(self, "codedeploy_app", name=props.application_name, compute_platform="ECS",
                              tags=dict(props.tags) or None),
                prefix, "codedeploy_app",
            )
        self.codedeploy_app_name: str = (
            self.codedeploy_app.name if self.codedeploy_app is not None else props.application_name
        )

        environment = _environment(props)
        self.functions: dict[str, Function] = {}
        for hook in HOOKS:
            fn = Function(self, tf_name(prefix, hook.key), FunctionProps(
                name=hook_function_name(props.app_name, props.environment, hook),
                code=ZipCode(filename=props.package.filename, source_code_hash=props.package.source_code_hash,
                             runtime=props.runtime, handler=hook.handler),
                description=f"CodeDeploy {hook.lifecycle_event} hook of {props.ecs_service_name}",
                memory_mb=props.memory_mb,
                timeout_seconds=props.timeout_seconds,
                environment=environment,
                log_retention_days=props.log_retention,
                statements=tuple(self._statements(hook)),
                kms_key_arn=props.kms_key_arn,
            ))
            if props.tags:
                for resource in (fn.function, fn.log_group.resource, fn.role.role):
                    resource.tags = dict(props.tags)
            self.functions[hook.key] = fn
        self.function_arns: dict[str, str] = {key: fn.function_arn for key, fn in self.functions.items()}
        self.hook_arns: dict[str, str] = {h.lifecycle_event: self.function_arns[h.key] for h in HOOKS}

    # -- ARNs the roles may use ------------------------------------------------------------------------

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self._partition}:{service}:{self.props.aws_region}:{self._account}:{resource}"

    @property
    def cluster_arn(self) -> str:
        return self._arn("ecs", f"cluster/{self.props.ecs_cluster_name}")

    @property
    def service_arn(self) -> str:
        return self._arn("ecs", f"service/{self.props.ecs_cluster_name}/{self.props.ecs_service_name}")

    @property
    def task_sets_arn(self) -> str:
        return self._arn("ecs", f"task-set/{self.props.ecs_cluster_name}/{self.props.ecs_service_name}/*")

    @property
    def deployment_groups_arn(self) -> str:
        return self._arn("codedeploy", f"deploymentgroup:{self.codedeploy_app_name}/*")

    def alarm_arns(self) -> list[str]:
        return [self._arn("cloudwatch", f"alarm:{name}") for name in self.props.alarm_names]

    def _statements(self, hook: Hook) -> list[dict]:
        """What ``hook`` calls, nothing more. The status report is allowed for the application's
        deployment groups only: the Service Authorization Reference lists no resource type for
        PutLifecycleEventHookExecutionStatus, yet IAM evaluates it against the deployment group ARN
        (AccessDenied messages name ``...:deploymentgroup:<app>/<group>``), so the ARN scope holds."""
        statements = [statement(["codedeploy:PutLifecycleEventHookExecutionStatus"], [self.deployment_groups_arn],
                                sid="ReportHookStatus")]
        if hook.key == "validate_before_install":
            statements += [
                statement(["ecs:DescribeClusters"], [self.cluster_arn], sid="DescribeCluster"),
                statement(["ecs:DescribeServices"], [self.service_arn], sid="DescribeService"),
            ]
        elif hook.key == "validate_deployment":
            statements += [
                statement(["ecs:DescribeServices"], [self.service_arn], sid="DescribeService"),
                # The task sets of this service only (the service ARN covers the request's service).
                statement(["ecs:DescribeTaskSets"], [self.service_arn, self.task_sets_arn], sid="DescribeTaskSets"),
            ]
        elif hook.key == "validate_production" and self.props.alarm_names:
            statements.append(statement(["cloudwatch:DescribeAlarms"], self.alarm_arns(), sid="DescribeAlarms"))
        return statements


def _environment(props: DeployHooksProps) -> dict[str, str]:
    """The variables ``codedeploy_hooks.config`` reads; optional ones only when set."""
    env = {
        "APP_NAME": props.app_name,
        "ENVIRONMENT": props.environment,
        "ECS_CLUSTER": props.ecs_cluster_name,
        "ECS_SERVICE": props.ecs_service_name,
        "LATENCY_THRESHOLD_MS": str(props.latency_threshold_ms),
        "HTTP_TIMEOUT_SECONDS": str(props.http_timeout_seconds),
    }
    optional = {
        "SMOKE_TEST_URLS": ",".join(props.smoke_test_urls),
        "PRODUCTION_URLS": ",".join(props.production_urls),
        "ALARM_NAMES": ",".join(props.alarm_names),
        "EXPECTED_TASK_COUNT": str(props.expected_task_count) if props.expected_task_count is not None else "",
        "MIGRATION_COMMAND": props.migration_command or "",
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


def _validate(props: DeployHooksProps) -> None:
    for hook in HOOKS:
        name = hook_function_name(props.app_name, props.environment, hook)
        if len(name) > MAX_FUNCTION_NAME:
            raise ValueError(f"function name '{name}' is longer than Lambda's {MAX_FUNCTION_NAME} characters")
        role = hook_role_name(props.app_name, props.environment, hook)
        if len(role) > MAX_ROLE_NAME:
            raise ValueError(f"role name '{role}' is longer than IAM's {MAX_ROLE_NAME} characters")
    if len(props.application_name) > MAX_CODEDEPLOY_APP_NAME:
        raise ValueError(f"CodeDeploy application name '{props.application_name}' is longer than "
                         f"{MAX_CODEDEPLOY_APP_NAME} characters")
    for value, what in [(u, "URL") for u in (*props.smoke_test_urls, *props.production_urls)] + [
        (a, "alarm name") for a in props.alarm_names
    ]:
        if "," in value:
            raise ValueError(f"{what} '{value}' contains a comma (the hooks read comma-separated lists)")
    for name in props.alarm_names:
        if any(c in name for c in "*?"):
            raise ValueError(f"alarm name '{name}' contains an IAM wildcard character")
