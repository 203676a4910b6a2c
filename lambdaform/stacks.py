"""Compose cdktf stacks from a validated :class:`Service`: the only place that maps the model to constructs.

Per environment:

* ``<project>-ci`` (only in the stacks of the first environment of an account whose CI uses GitHub OIDC):
  the account's GitHub OIDC provider, created once for every environment deploying to that account;
  ``<project>-ci-<account_id>`` per account when the environments span several. Applied first.
* ``<project>-<env>-registry`` (only with container-image functions): the ECR repositories. Applied
  first, so an image can be pushed before any function refers to it - no ``-target`` needed.
* ``<project>-<env>``: functions, log groups, roles, URLs, CI identity and the blueprint resources. Each
  image function's tag is a stack variable (``<function>_image_tag``, default ``latest``). CI roles look
  the OIDC provider up by URL: the ci stack (or whoever else) created it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lambdaform.constructs  # noqa: F401  (installs the light provider import before any binding is loaded)
from cdktf import App, LocalBackend, S3Backend, TerraformOutput, TerraformStack, TerraformVariable
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_ecr_image import DataAwsEcrImage
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_ecr_repository import DataAwsEcrRepository
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from lambdaform import names
from lambdaform.kinds import KINDS, reference_pattern
from lambdaform.literals import escape_literal
from lambdaform.names import output as output_name
from lambdaform.names import tf_name
from lambdaform.service import Function as FunctionSpec
from lambdaform.service import Service
from lambdaform.triggers import TRIGGERS, uses
from lambdaform.constructs._iam import named, policy, statement
from lambdaform.constructs.sqs_queue import Queue, QueueProps
from lambdaform.constructs.artifacts import ArtifactBucket, ArtifactBucketProps, ZipLocation
from lambdaform.constructs.ci_identity import CiIdentity, CiIdentityProps
from lambdaform.constructs.github_oidc_provider import provider_arn
from lambdaform.constructs.ecr import Ecr, EcrProps
from lambdaform.constructs.github_oidc_provider import GithubOidcProvider
from lambdaform.constructs.function import Function, FunctionProps, ImageCode, VpcPlacement, ZipCode
from lambdaform.constructs.function_url import CorsProps, FunctionUrl, FunctionUrlProps
from lambdaform.constructs.kms_key import ServiceKey, ServiceKeyProps
from lambdaform.constructs.event_invoke_config import AsyncDelivery, AsyncDeliveryProps, DestinationProps, destination_statements
from lambdaform.constructs.function_alias import FunctionAlias, FunctionAliasProps
from lambdaform.constructs.lambda_deployment import LambdaDeployment, LambdaDeploymentProps

ASSETS_DIR = "assets"


@dataclass(frozen=True)
class ZipPackage:
    """A function's canonical zip, as the stack refers to it."""

    filename: str
    """Path relative to the stack folder, e.g. ``assets/api.zip``."""
    source_code_hash: str
    """Base64-encoded SHA-256 of the zip bytes (what Lambda reports as CodeSha256)."""
    via_s3: bool = False
    """Above Lambda's 50 MB direct-upload limit: deployed through the environment's artifact bucket."""


@dataclass(frozen=True)
class StackContext:
    """What a stack needs besides the model: the environment and where things live on disk."""

    env: str
    service_root: Path
    """Folder of the service file (relative paths in it start here)."""
    stack_dir: Path
    """Final folder of this stack's synthesized output (for relative state paths)."""


def stack_names(service: Service, env: str, ci_stack: str | None = None) -> list[str]:
    """Stacks of one environment in apply order; ``ci_stack``: the account's CI stack, when this environment
    owns it (:meth:`lambdaform.loader.LoadedService.ci_stack`)."""
    return names.stacks(service.project, env, with_registry=bool(service.image_functions), ci=ci_stack)


def _provider(stack: TerraformStack, service: Service, env: str) -> None:
    """The AWS provider: the environment's region and tags; with ``account_id``, credentials of any other
    account fail before terraform reads or changes anything."""
    tags = {"lambdaform:project": service.project, "lambdaform:environment": env,
            **{k: escape_literal(v) for k, v in service.tags.items()}}
    AwsProvider(stack, "aws", region=service.region, default_tags=[AwsProviderDefaultTags(tags=tags)],
                allowed_account_ids=[service.account_id] if service.account_id else None)


def _backend(stack: TerraformStack, name: str, service: Service, ctx: StackContext) -> None:
    state = service.state
    if state.backend == "local":
        state_file = (ctx.service_root / state.path / f"{name}.tfstate").resolve()
        LocalBackend(stack, path=os.path.relpath(state_file, ctx.stack_dir))
        return
    S3Backend(
        stack,
        bucket=state.bucket,
        key=f"{state.key_prefix}/{name}.tfstate",
        region=state.region or service.region,
        encrypt=state.encrypt,
        dynamodb_table=state.dynamodb_table,
    )
    # Native S3 locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no field for it yet.
    stack.add_override("terraform.backend.s3.use_lockfile", True)


def _output(stack: TerraformStack, name: str, value: str, description: str, sensitive: bool = False) -> None:
    TerraformOutput(stack, name, value=value, description=description, sensitive=sensitive or None)


class RegistryStack(TerraformStack):
    """ECR repositories for the environment's image functions."""

    def __init__(self, scope: Construct, service: Service, ctx: StackContext):
        name = names.registry_stack(service.project, ctx.env)
        super().__init__(scope, name)
        _provider(self, service, ctx.env)
        _backend(self, name, service, ctx)
        reg = service.registry
        for key in service.image_functions:
            ecr = Ecr(self, tf_name(key, "ecr"), EcrProps(
                name=names.physical(service.project, ctx.env, key),
                scan_on_push=reg.scan_on_push,
                image_tag_mutability=reg.image_tag_mutability,
                keep_last_images=reg.keep_last_images,
                encryption=reg.encryption,
                force_delete=reg.force_delete,
            ))
            _output(self, output_name(key, "ecr_repository_url"), ecr.repository_url,
                    f"ECR repository URL for function '{key}' (docker push target)")
            _output(self, output_name(key, "ecr_repository_name"), ecr.repository_name,
                    f"ECR repository name for function '{key}'")


class CiStack(TerraformStack):
    """The account's GitHub OIDC provider, shared by every environment deploying to the account. It belongs
    to the account's first environment (its provider settings and state backend); destroying that
    environment keeps it while others use it."""

    def __init__(self, scope: Construct, name: str, service: Service, ctx: StackContext):
        super().__init__(scope, name)
        _provider(self, service, ctx.env)
        _backend(self, name, service, ctx)
        provider = GithubOidcProvider(self, "github_oidc")
        _output(self, "github_oidc_provider_arn", provider.arn,
                "ARN of the account's GitHub Actions OIDC provider (the CI roles of every environment trust it)")


class ServiceStack(TerraformStack):
    """Resources, functions, URLs, CI identity and blueprint sections of one environment.

    Every kind of :data:`lambdaform.kinds.KINDS` composes itself into it (resources before the functions,
    sections after) through ``functions``, ``packages``, :meth:`zip_code`, :meth:`add_resource`, :meth:`grant`,
    :meth:`output` and :meth:`account`. Zips above Lambda's 50 MB direct-upload limit deploy from the
    environment's artifact bucket (created only then)."""

    def __init__(self, scope: Construct, service: Service, ctx: StackContext, packages: dict[str, ZipPackage]):
        name = names.service_stack(service.project, ctx.env)
        super().__init__(scope, name)
        self.service = service
        self.env = ctx.env
        self.packages = packages
        _provider(self, service, ctx.env)
        _backend(self, name, service, ctx)
        self._caller: DataAwsCallerIdentity | None = None
        self._partition: DataAwsPartition | None = None
        self.key: ServiceKey | None = None
        if service.encryption_key == "service":
            caller, partition = self.account()
            self.key = ServiceKey(self, "service_key", ServiceKeyProps(alias=name, region=service.region),
                                  caller, partition)
            self.output("service_kms_key_arn", self.key.key_arn,
                        "Customer managed KMS key encrypting this environment's logs, tables, buckets and queues")
        self.resources: dict[str, dict[str, Any]] = {}
        self._artifacts: ArtifactBucket | None = None
        present = [kind for kind in KINDS if kind.present(service)]
        for kind in present:
            if kind.phase == "resources":
                kind.compose(self)
        self.functions: dict[str, Function] = {}
        self.aliases: dict[str, FunctionAlias] = {}
        repositories: list[str] = []
        for key, spec in service.functions.items():
            if spec.package == "image":
                code, repo_arn = self._image_code(key)
                repositories.append(repo_arn)
            else:
                location = self.zip_code(key, key)
                code = ZipCode(filename=location.filename, source_code_hash=location.source_code_hash,
                               runtime=spec.runtime, handler=spec.handler, s3_bucket=location.s3_bucket,
                               s3_key=location.s3_key)
            self.functions[key] = self._function(key, spec, code)
        for key, spec in service.functions.items():
            if spec.async_ is not None:
                self._async_delivery(key, spec)
        for kind in present:
            if kind.phase == "sections":
                kind.compose(self)
        for key, spec in service.functions.items():
            if spec.deployment is not None:
                self._deployment(key, spec)
        triggered = uses(service)
        for trigger in TRIGGERS:
            if triggered[trigger.key]:
                trigger.compose(self, triggered[trigger.key])
        if service.ci is not None:
            self._ci(service, repositories)

    # -- helpers for kinds --------------------------------------------------------------------------

    def output(self, name: str, value: str, description: str, sensitive: bool = False) -> None:
        _output(self, name, value, description, sensitive)

    def add_resource(self, kind: str, key: str, construct: Any) -> None:
        """Register a resource construct (it answers ``grant(mode, prefix)`` and ``reference(attribute)``)."""
        self.resources.setdefault(kind, {})[key] = construct

    def grant(self, function_key: str, name: str, statements: list[dict]) -> IamRolePolicy:
        """Attach an extra inline policy ``name`` to a function's execution role; returns it, so what needs
        the permission at creation (an event source mapping) can depend on it."""
        fn = self.functions[function_key]
        return named(IamRolePolicy(fn, f"grant-{name}", name=name, role=fn.role_name, policy=policy(statements)),
                     tf_name(function_key), "grant", name)

    def zip_code(self, package: str, prefix: str) -> ZipLocation:
        """Where the zip ``package`` deploys from: its asset file, or above 50 MB an object under ``prefix/``
        in the environment's artifact bucket (created on first need)."""
        pkg = self.packages[package]
        if not pkg.via_s3:
            return ZipLocation(filename=pkg.filename, source_code_hash=pkg.source_code_hash)
        if self._artifacts is None:
            self._artifacts = ArtifactBucket(self, "lambdaform_artifacts", ArtifactBucketProps(
                name=names.physical(self.service.project, self.env, "artifacts"),
                kms_key_arn=self.key.key_arn if self.key else None))
            self.output("artifact_bucket_name", self._artifacts.bucket_name,
                        "S3 bucket the zips above Lambda's 50 MB direct-upload limit are deployed from")
        return self._artifacts.upload(tf_name(package), prefix, pkg.filename, pkg.source_code_hash)

    def function_layers(self, spec: FunctionSpec) -> tuple[str, ...]:
        """The function's layer version ARNs: declared layers by key, the others as written."""
        return tuple(self.ref("layers", ref, "arn") if not ref.startswith("arn:") else ref for ref in spec.layers)

    def ref(self, kind: str, key: str, attribute: str) -> str:
        """The Terraform value behind ``${kind.key.attribute}``."""
        return self.resources[kind][key].reference(attribute)

    def resolve(self, value: str) -> str:
        """Escape a literal environment value, replacing ``${tables.x.name}``-style references."""
        parts, last = [], 0
        for match in reference_pattern().finditer(value):
            parts.append(escape_literal(value[last:match.start()]))
            parts.append(self.ref(*match.groups()))
            last = match.end()
        parts.append(escape_literal(value[last:]))
        return "".join(parts)

    # -- functions ------------------------------------------------------------------------------------

    def _image_code(self, key: str) -> tuple[ImageCode, str]:
        """The image is looked up by tag and deployed by digest: a missing image fails the plan with a
        clear "image not found" before anything is created, and a tag moved by CI is picked up by the
        next apply instead of showing up as drift."""
        spec = self.service.functions[key]
        tag = TerraformVariable(self, names.image_tag_variable(key), type="string", default="latest",
                                description=f"Image tag of function '{key}' in its ECR repository")
        repo_name = names.physical(self.service.project, self.env, key)
        repo = named(DataAwsEcrRepository(self, f"{key}-repository", name=repo_name), key, "repository")
        image = named(DataAwsEcrImage(self, f"{key}-image", repository_name=repo.name, image_tag=tag.string_value),
                      key, "image")
        assert spec.handler is not None  # the model requires it for images
        return ImageCode(image_uri=image.image_uri, command=(spec.handler,)), repo.arn

    def account(self) -> tuple[DataAwsCallerIdentity, DataAwsPartition]:
        """The account and partition data sources (created on first use)."""
        if self._caller is None or self._partition is None:
            self._caller = named(DataAwsCallerIdentity(self, "caller"), "current")
            self._partition = named(DataAwsPartition(self, "partition"), "current")
        return self._caller, self._partition

    def _secret_reference(self, key: str) -> tuple[str, dict]:
        """(value for the environment variable, statement allowing to read the secret) of ``secrets.<key>``."""
        ref = self.service.secrets[key]
        if ref.secrets_manager_arn is not None:
            return ref.secrets_manager_arn, statement(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                                                      [ref.secrets_manager_arn])
        caller, partition = self.account()
        arn = f"arn:{partition.partition}:ssm:{self.service.region}:{caller.account_id}:parameter{ref.ssm_parameter}"
        return ref.ssm_parameter, statement(["ssm:GetParameter"], [arn])

    def _access_statements(self, spec: FunctionSpec) -> list[dict]:
        statements: list[dict] = []
        for key in dict.fromkeys(spec.secrets.values()):
            statements.append(self._secret_reference(key)[1])
        if self.key is not None and (spec.access or spec.dead_letter_queue):
            # tables, buckets and queues are encrypted with the service key: using them needs the key too
            statements.append(statement(["kms:Decrypt", "kms:GenerateDataKey"], [self.key.key_arn], sid="UseServiceKey"))
        for access in spec.access:
            kind, key = access.target()
            statements.extend(self.resources[kind][key].grant(access.mode, access.prefix))
        return statements

    def _function(self, key: str, spec: FunctionSpec, code: ZipCode | ImageCode) -> Function:
        fn_name = names.physical(self.service.project, self.env, key)
        prefix = tf_name(key)
        dlq = None
        if spec.dead_letter_queue:
            dlq = Queue(self, tf_name(key, "dlq"), QueueProps(name=f"{fn_name}-dlq",
                                                              kms_key_arn=self.key.key_arn if self.key else None))
            self.output(output_name(key, "dead_letter_queue_url"), dlq.queue_url,
                        f"Dead-letter queue of '{key}' (failed asynchronous invocations)")
        fn = Function(self, prefix, FunctionProps(
            name=fn_name,
            code=code,
            description=escape_literal(spec.description),
            architecture=spec.architecture,
            memory_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
            ephemeral_storage_mb=spec.ephemeral_storage_mb,
            environment={**{k: self.resolve(v) for k, v in spec.environment.items()},
                         **{var: self._secret_reference(key)[0] for var, key in spec.secrets.items()}},
            reserved_concurrency=spec.reserved_concurrency,
            log_retention_days=spec.log_retention_days,
            tracing=spec.tracing,
            statements=tuple(
                [statement(list(s.actions), list(s.resources), sid=s.sid) for s in spec.permissions]
                + self._access_statements(spec)
            ),
            dead_letter_target_arn=dlq.queue_arn if dlq else None,
            vpc=VpcPlacement(tuple(spec.vpc.subnet_ids), tuple(spec.vpc.security_group_ids)) if spec.vpc else None,
            layers=self.function_layers(spec),
            kms_key_arn=self.key.key_arn if self.key else None,
            publish=spec.alias is not None,
            snap_start=spec.snap_start,
        ))
        if spec.alias is not None:
            alias = FunctionAlias(self, f"{prefix}_alias", FunctionAliasProps(
                function_name=fn.function_name, function_version=fn.version, name=spec.alias,
                managed_by_rollout=spec.deployment is not None,
                provisioned_concurrency=spec.provisioned_concurrency))
            self.aliases[key] = alias
            # Everything that invokes the function from here on (URL, triggers, API integrations) uses the alias.
            fn.target_arn = alias.alias_arn
            fn.qualifier = alias.alias_name
        self.output(output_name(key, "function_name"), fn.function_name, f"Lambda function name of '{key}'")
        self.output(output_name(key, "function_arn"), fn.function_arn, f"Lambda function ARN of '{key}'")
        self.output(output_name(key, "function_version"), fn.version, f"Latest published version of '{key}'")
        self.output(output_name(key, "log_group_name"), fn.log_group_name, f"CloudWatch log group of '{key}'")
        if spec.alias is not None:
            self.output(output_name(key, "alias_name"), fn.qualifier, f"Alias of '{key}' that triggers invoke")
            self.output(output_name(key, "alias_arn"), fn.target_arn, f"ARN of the alias of '{key}'")
        if spec.url is not None:
            cors = spec.url.cors
            url = FunctionUrl(self, f"{prefix}_url", FunctionUrlProps(
                function_name=fn.function_name,
                qualifier=fn.qualifier,
                auth=spec.url.auth,
                invoke_mode=spec.url.invoke_mode,
                cors=CorsProps(
                    allow_origins=tuple(cors.allow_origins), allow_methods=tuple(cors.allow_methods),
                    allow_headers=tuple(cors.allow_headers), expose_headers=tuple(cors.expose_headers),
                    allow_credentials=cors.allow_credentials, max_age_seconds=cors.max_age_seconds,
                ) if cors else None,
            ))
            self.output(output_name(key, "function_url"), url.url, f"Function URL of '{key}' (auth: {spec.url.auth})")
        return fn

    def _destination(self, kind: str, target: str) -> tuple[str, list[dict]]:
        """(ARN, service-key statements) of an asynchronous destination: a key of this file or an ARN."""
        if target.startswith("arn:"):
            return target, []
        if kind == "function":
            return self.functions[target].target_arn, []
        if kind == "event_bus":  # only "default" passes the model
            caller, partition = self.account()
            return (f"arn:{partition.partition}:events:{self.service.region}:{caller.account_id}:event-bus/default",
                    [])
        section = {"queue": "queues", "topic": "topics"}[kind]
        arn = self.ref(section, target, "arn")
        # this file's queues and topics are encrypted with the service key: sending needs the key too
        key = ([statement(["kms:Decrypt", "kms:GenerateDataKey"], [self.key.key_arn], sid="AsyncDestinationKey")]
               if self.key else [])
        return arn, key

    def _async_delivery(self, key: str, spec: FunctionSpec) -> None:
        """Retries, event age and destinations of asynchronous invocations, on the alias when there is one;
        the role may deliver to exactly the destinations."""
        settings = spec.async_
        assert settings is not None
        fn = self.functions[key]
        destinations: dict[str, DestinationProps] = {}
        kms: list[dict] = []
        for name in ("on_failure", "on_success"):
            given = getattr(settings, name)
            if given is not None:
                arn, key_statements = self._destination(given.kind, given.target)
                destinations[name] = DestinationProps(kind=given.kind, arn=arn)
                kms = kms or key_statements
        props = AsyncDeliveryProps(
            function_name=fn.function_name, qualifier=fn.qualifier,
            maximum_retry_attempts=settings.maximum_retry_attempts,
            maximum_event_age_seconds=settings.maximum_event_age_seconds,
            on_failure=destinations.get("on_failure"), on_success=destinations.get("on_success"))
        statements = destination_statements(props)
        depends: tuple[Any, ...] = ()
        if statements:
            if kms:
                statements.append(kms[0])
            depends = (self.grant(key, "async-destinations", statements),)
        AsyncDelivery(self, tf_name(key, "async"), AsyncDeliveryProps(**{**props.__dict__, "depends_on": depends}))

    def _deployment(self, key: str, spec: FunctionSpec) -> None:
        """CodeDeploy application and deployment group moving the alias; hooks may report to that group only."""
        deployment = spec.deployment
        assert deployment is not None
        fn, alias = self.functions[key], self.aliases[key]
        hooks = [h for h in (deployment.hooks.before_allow_traffic, deployment.hooks.after_allow_traffic) if h]
        hook_arns = list(dict.fromkeys(
            arn for h in hooks for arn in (self.functions[h].function_arn, self.functions[h].target_arn)))
        alarms = self.resources.get("alarms", {}).get(key)
        caller, partition = self.account()
        release = LambdaDeployment(self, tf_name(key, "deployment"), LambdaDeploymentProps(
            name=names.physical(self.service.project, self.env, key),
            alias_arn=alias.alias_arn,
            deployment_config_name=deployment.config_name,
            account_id=caller.account_id, partition=partition.partition, region=self.service.region,
            hook_function_arns=tuple(hook_arns),
            alarm_names=tuple(alarms.alarm_names.values()) if alarms else (),
            alarm_arns=tuple(alarms.alarm_arns.values()) if alarms else (),
        ))
        for hook in dict.fromkeys(hooks):
            self.grant(hook, f"report-{key}-deployment", [statement(
                ["codedeploy:PutLifecycleEventHookExecutionStatus"], [release.deployment_group_arn],
                sid="ReportHookStatus")])
        self.output(output_name(key, "codedeploy_app_name"), release.application_name,
                    f"CodeDeploy application that rolls out new versions of '{key}'")
        self.output(output_name(key, "codedeploy_deployment_group_name"), release.deployment_group_name,
                    f"CodeDeploy deployment group moving the alias of '{key}' ({deployment.strategy})")

    def _ci(self, service: Service, repositories: list[str]) -> None:
        ci = service.ci
        assert ci is not None
        caller, partition = self.account()
        identity = CiIdentity(self, "ci", CiIdentityProps(
            name_prefix=f"{service.project}-{self.env}",
            mode=ci.mode,
            repository=ci.repository,
            branches=tuple(ci.branches),
            github_environments=tuple(ci.github_environments),
            repository_owner_id=ci.repository_owner_id,
            repository_id=ci.repository_id,
            create_oidc_provider=False,  # the account's ci stack creates it (or it exists already)
            oidc_provider_arn=provider_arn(partition.partition, caller.account_id),
            ecr_repository_arns=tuple(repositories),
            function_arns=tuple(fn.function_arn for fn in self.functions.values()),
            terraform_roles=ci.terraform_roles,
        ))
        if ci.mode == "github-oidc":
            _output(self, "ci_deploy_role_arn", identity.deploy_role_arn,
                    "IAM role GitHub Actions assumes to push images and update function code")
            if ci.terraform_roles:
                _output(self, "ci_plan_role_arn", identity.plan_role_arn,
                        "Read-only IAM role for terraform plan on pull requests")
                _output(self, "ci_apply_role_arn", identity.apply_role_arn,
                        "IAM role for terraform apply from the deploy branches / environments")
        else:
            _output(self, "ci_access_key_id", identity.access_key_id,
                    "Access key id of the CI user (GitHub secret AWS_ACCESS_KEY_ID)")
            _output(self, "ci_secret_access_key", identity.secret_access_key,
                    "Secret access key of the CI user (GitHub secret AWS_SECRET_ACCESS_KEY)", sensitive=True)


def build_app(app: App, service: Service, env: str, service_root: Path, out_dir: Path,
              packages: dict[str, ZipPackage], ci_stack: str | None = None) -> list[TerraformStack]:
    """Add one environment's stacks to ``app``; ``out_dir`` is the final synth folder, ``ci_stack`` the
    account's CI stack when this environment owns it."""
    stacks: list[TerraformStack] = []
    for name in stack_names(service, env, ci_stack):
        ctx = StackContext(env=env, service_root=service_root, stack_dir=out_dir / "stacks" / name)
        if name == ci_stack:
            stacks.append(CiStack(app, name, service, ctx))
        elif names.is_registry_stack(name):
            stacks.append(RegistryStack(app, service, ctx))
        else:
            stacks.append(ServiceStack(app, service, ctx, packages))
    return stacks
