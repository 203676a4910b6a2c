"""The ``deploy_hooks`` section: Lambda functions CodeDeploy calls during an ECS blue/green deployment.

Five hooks (``BeforeInstall``, ``AfterInstall``, ``AfterAllowTestTraffic``, ``BeforeAllowTraffic``,
``AfterAllowTraffic``) from one package (``source``, holding ``codedeploy_hooks/``), each with its own log
group and least-privilege role, plus the CodeDeploy application (``compute_platform = "ECS"``) they report
to. The stack outputs each function's ARN under the seed module's names and the rendered ``appspec``.
See :mod:`lambdaform.constructs.deploy_hooks` for names and permissions, and ``examples/deploy-hooks.yaml``.

Nothing here imports cdktf at module level: the model is loaded by every command, the construct only by
synth.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import Name, RelPath, RetentionDays, Strict
from lambdaform.kinds.base import CheckContext, Composer, Kind, PackageSpec
from lambdaform.literals import escape_literal
from lambdaform.names import physical

KEY = "deploy_hooks"
PACKAGE = "deploy_hooks"
"""The zip of the hook code (names with ``_`` never clash with function keys)."""
HOOK_PACKAGE_DIR = "codedeploy_hooks"

HOOK_NAME_SUFFIXES = (
    "validate-before-install", "validate-deployment", "validate-test-traffic", "run-migrations",
    "validate-production",
)
"""Function name suffixes (``<app_name>-<env>-<suffix>``) as :data:`lambdaform.constructs.deploy_hooks.HOOKS` makes them;
kept here so validating a file does not load cdktf (a test checks that both agree)."""

EcsName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,255}$")]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s,/?#]+([/?#][^\s,]*)?$", max_length=2048)]
AlarmName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:/#@+=()-]{0,254}$")]
MigrationCommand = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$", max_length=512)
]


class DeployHooksSection(Strict):
    """CodeDeploy lifecycle hooks of one ECS service. Defaults: python3.12, 15-minute timeout, 30 days of
    logs, a CodeDeploy application ``<app_name>-<env>`` created, Fargate ``LATEST`` in the AppSpec."""

    source: RelPath = Field(description="Folder holding the codedeploy_hooks package (the zip root), "
                                        "e.g. ../handlers/deploy_hooks.")
    app_name: Name | None = Field(default=None, description="First part of the function names; the project "
                                                            "name unless set.")
    ecs_cluster_name: EcsName = Field(description="ECS cluster of the blue/green deployment (ECS_CLUSTER).")
    ecs_service_name: EcsName = Field(description="ECS service being deployed (ECS_SERVICE).")
    log_retention: RetentionDays = Field(default=30, description="Days CloudWatch Logs keeps each hook's logs (30).")
    tags: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)],
               Annotated[str, StringConstraints(max_length=256)]] = Field(
        default_factory=dict, description="Extra tags on the hook functions, log groups, roles and application.")
    runtime: Literal["python3.10", "python3.11", "python3.12", "python3.13"] = Field(
        default="python3.12", description="Lambda runtime (the seed's python3.9 is out of support).")
    smoke_test_urls: list[HttpUrl] = Field(
        min_length=1, description="SMOKE_TEST_URLS: test-listener URLs AfterAllowTestTraffic must get "
                                  "2xx/3xx from, e.g. http://my-alb.example.com:8080/health.")
    production_urls: list[HttpUrl] = Field(
        default_factory=list, description="PRODUCTION_URLS: production-listener URLs AfterAllowTraffic checks.")
    alarm_names: list[AlarmName] = Field(
        default_factory=list, description="ALARM_NAMES: CloudWatch metric alarms that must not be in ALARM after "
                                          "production traffic (the only alarms the hook may read).")
    latency_threshold_ms: int = Field(default=2000, ge=1, le=900_000,
                                      description="LATENCY_THRESHOLD_MS: slowest acceptable smoke response.")
    http_timeout_seconds: int = Field(default=10, ge=1, le=300,
                                      description="HTTP_TIMEOUT_SECONDS: per-request smoke timeout.")
    expected_task_count: int | None = Field(
        default=None, ge=1, description="EXPECTED_TASK_COUNT; unset: the service's desiredCount.")
    migration_command: MigrationCommand | None = Field(
        default=None, description="MIGRATION_COMMAND (module:function) BeforeAllowTraffic runs; unset: none.")
    container_name: EcsName = Field(default="app", description="AppSpec LoadBalancerInfo.ContainerName.")
    container_port: int = Field(default=8000, ge=1, le=65535, description="AppSpec LoadBalancerInfo.ContainerPort.")
    platform_version: Annotated[str, StringConstraints(pattern=r"^(LATEST|\d+\.\d+\.\d+)$")] | None = Field(
        default="LATEST", description="AppSpec PlatformVersion (Fargate); null leaves it out (EC2 launch type).")
    codedeploy_app: bool = Field(default=True, description="Create the CodeDeploy application (ECS); false uses "
                                                           "an existing one named codedeploy_app_name.")
    codedeploy_app_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._+-]{1,100}$")] | None = Field(
        default=None, description="CodeDeploy application the hooks may report to; <app_name>-<env> unless set.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' must not start with 'aws:'")
        return value

    @model_validator(mode="after")
    def _production_checks_something(self) -> DeployHooksSection:
        if not self.alarm_names and not self.production_urls:
            raise ValueError("give alarm_names and/or production_urls: AfterAllowTraffic fails a deployment "
                             "when it has nothing to check")
        return self


def app_name(service) -> str:
    section = service.deploy_hooks
    return section.app_name or service.project


def codedeploy_app_name(service, env: str) -> str:
    return service.deploy_hooks.codedeploy_app_name or f"{app_name(service)}-{env}"


def cross_checks(ctx: CheckContext) -> list[Problem]:
    service, env = ctx.service, ctx.env
    section = service.deploy_hooks
    problems: list[Problem] = []
    source = ctx.resolve(section.source)
    if not source.is_dir():
        problems.append(Problem(f"{KEY}.source", f"folder '{section.source}' does not exist (looked in {source})"))
    elif not (source / HOOK_PACKAGE_DIR).is_dir():
        problems.append(Problem(f"{KEY}.source", f"'{section.source}' holds no {HOOK_PACKAGE_DIR}/ package "
                                                 f"(the hook handlers)"))
    names = [f"{app_name(service)}-{env}-{suffix}" for suffix in HOOK_NAME_SUFFIXES]
    where = f"{KEY}.app_name"
    for name in names:
        if len(name) > 64:
            problems.append(Problem(where, f"function name '{name}' is longer than Lambda's 64 characters"))
        elif len(f"{name}-role") > 64:
            problems.append(Problem(where, f"role name '{name}-role' is longer than IAM's 64 characters"))
    taken = {physical(service.project, env, key): key for key in service.functions}
    for name in names:
        if name in taken:
            problems.append(Problem(where, f"hook function '{name}' has the same name as function "
                                           f"'{taken[name]}'; set deploy_hooks.app_name"))
    if len(codedeploy_app_name(service, env)) > 100:
        problems.append(Problem(where, f"CodeDeploy application name '{codedeploy_app_name(service, env)}' is "
                                       "longer than 100 characters"))
    return problems


def compose(stack: Composer) -> None:
    from lambdaform.appspec import render_appspec
    from lambdaform.constructs.deploy_hooks import HOOKS, DeployHooks, DeployHooksProps, HookPackage

    service, env = stack.service, stack.env
    section = service.deploy_hooks
    package = stack.packages[PACKAGE]
    hooks = DeployHooks(stack, KEY, DeployHooksProps(
        app_name=app_name(service),
        environment=env,
        aws_region=service.region,
        ecs_cluster_name=section.ecs_cluster_name,
        ecs_service_name=section.ecs_service_name,
        package=HookPackage(filename=package.filename, source_code_hash=package.source_code_hash),
        log_retention=section.log_retention,
        tags={k: escape_literal(v) for k, v in section.tags.items()},
        runtime=section.runtime,
        smoke_test_urls=tuple(escape_literal(u) for u in section.smoke_test_urls),
        production_urls=tuple(escape_literal(u) for u in section.production_urls),
        latency_threshold_ms=section.latency_threshold_ms,
        http_timeout_seconds=section.http_timeout_seconds,
        expected_task_count=section.expected_task_count,
        alarm_names=tuple(section.alarm_names),
        migration_command=section.migration_command,
        create_codedeploy_app=section.codedeploy_app,
        codedeploy_app_name=codedeploy_app_name(service, env),
        kms_key_arn=stack.key.key_arn if stack.key else None,
    ))
    for hook in HOOKS:
        stack.output(hook.output_name, hooks.function_arns[hook.key], hook.output_description)
    stack.output(
        "appspec",
        render_appspec(hooks.hook_arns, section.container_name, section.container_port,
                       platform_version=section.platform_version),
        "AppSpec (YAML) of the ECS blue/green deployment with these hooks; <TASK_DEFINITION> is the new "
        "task definition ARN",
    )
    stack.output("codedeploy_app_name", hooks.codedeploy_app_name,
                 "CodeDeploy application (ECS) the hooks report to; create the deployment group in it")


class DeployHooks(Kind):
    key = KEY
    model = DeployHooksSection
    shape = "section"
    description = "Five CodeDeploy lifecycle-hook functions for an ECS blue/green deployment."

    def checks(self, ctx: CheckContext) -> list[Problem]:
        return cross_checks(ctx)

    def packages(self, ctx: CheckContext) -> dict[str, PackageSpec]:
        return {PACKAGE: PackageSpec(ctx.resolve(ctx.service.deploy_hooks.source))}

    def compose(self, stack: Composer) -> None:
        compose(stack)

    def provides_functions(self, service) -> bool:
        return service.deploy_hooks is not None


KIND = DeployHooks()
