"""A Lambda function with its log group and execution role, from a zip package or a container image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionDeadLetterConfig,
    LambdaFunctionEnvironment,
    LambdaFunctionEphemeralStorage,
    LambdaFunctionImageConfig,
    LambdaFunctionSnapStart,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from constructs import Construct

from lambdaform.constructs._iam import named
from lambdaform.constructs.execution_role import ExecutionRole, ExecutionRoleProps
from lambdaform.constructs.log_group import LogGroup, LogGroupProps


@dataclass(frozen=True)
class ZipCode:
    """A zip built by lambdaform: path relative to the stack folder and its base64 SHA-256."""

    filename: str
    source_code_hash: str
    runtime: str = "python3.12"
    handler: str | None = None
    """Required except for ``provided.*`` runtimes, where the package's ``bootstrap`` is the entry point."""
    s3_bucket: str | None = None
    """Set for a zip above Lambda's 50 MB direct-upload limit: deployed from this bucket and ``s3_key``
    (:class:`modules.artifacts.ArtifactBucket`) instead of ``filename``."""
    s3_key: str | None = None


@dataclass(frozen=True)
class ImageCode:
    """A container image in ECR. ``command`` overrides the image CMD; it is always written explicitly so
    re-plans compare equal (Lambda reports the resolved config back)."""

    image_uri: str
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class VpcPlacement:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class FunctionProps:
    name: str
    """Function name (64 characters at most)."""
    code: ZipCode | ImageCode
    description: str = ""
    architecture: str = "x86_64"
    """``x86_64`` (default) or ``arm64``."""
    memory_mb: int = 512
    timeout_seconds: int = 30
    ephemeral_storage_mb: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    """Unset: the function shares the account's unreserved concurrency."""
    log_retention_days: int = 14
    tracing: str = "Active"
    """X-Ray tracing: ``Active`` (default) or ``PassThrough``."""
    statements: tuple[dict[str, Any], ...] = ()
    """Extra execution-role statements, scoped to ARNs."""
    dead_letter_target_arn: str | None = None
    """SQS queue or SNS topic for failed asynchronous invocations."""
    dead_letter_target_type: str = "sqs"
    """``sqs`` (default) or ``sns``: which service the dead-letter target is (the ARN is usually a token
    at synth time, so it cannot be inspected)."""
    vpc: VpcPlacement | None = None
    layers: tuple[str, ...] = ()
    kms_key_arn: str | None = None
    """Customer managed key for the log group and the environment variables; AWS managed keys when unset."""
    publish: bool = False
    """Publish a new version on every code or configuration change (``version`` is the newest); unset: only
    ``$LATEST`` exists."""
    snap_start: bool = False
    """SnapStart on published versions (needs ``publish``; the caller checks the runtime supports it)."""


class Function(Construct):
    """Log group -> execution role -> function, in that order. The log group has Lambda's default name
    (``/aws/lambda/<name>``), so no ``logging_config`` is needed to route logs there.

    Attributes: ``function_name``, ``function_arn``, ``invoke_arn``, ``qualified_arn``, ``version``,
    ``role_arn``, ``role_name``, ``log_group_name``, ``log_group_arn``."""

    def __init__(self, scope: Construct, id: str, props: FunctionProps):
        super().__init__(scope, id)
        if props.snap_start and not props.publish:
            raise ValueError("snap_start applies to published versions: set publish")
        self.log_group = LogGroup(
            self, f"{id}_log_group",
            LogGroupProps(name=LogGroup.for_function(props.name), retention_days=props.log_retention_days,
                          kms_key_arn=props.kms_key_arn),
        )
        statements = list(props.statements)
        if props.dead_letter_target_arn:
            if props.dead_letter_target_type not in ("sqs", "sns"):
                raise ValueError(f"dead_letter_target_type must be sqs or sns, not {props.dead_letter_target_type!r}")
            service = "sqs:SendMessage" if props.dead_letter_target_type == "sqs" else "sns:Publish"
            statements.append({"Sid": "DeadLetter", "Effect": "Allow", "Action": service,
                               "Resource": props.dead_letter_target_arn})
        if props.vpc:
            statements.append({
                "Sid": "VpcNetworkInterfaces", "Effect": "Allow",
                "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                           "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                           "ec2:UnassignPrivateIpAddresses"],
                "Resource": "*",
            })
        self.role = ExecutionRole(
            self, f"{id}_role",
            ExecutionRoleProps(
                name=f"{props.name}-role"[:64],
                log_group_arn=self.log_group.arn,
                statements=tuple(statements),
                tracing=props.tracing == "Active",
            ),
        )
        code = props.code
        kwargs: dict[str, Any] = {}
        if isinstance(code, ZipCode):
            location = {"s3_bucket": code.s3_bucket, "s3_key": code.s3_key} if code.s3_bucket else \
                {"filename": code.filename}
            kwargs.update(package_type="Zip", source_code_hash=code.source_code_hash, runtime=code.runtime,
                          handler=code.handler or "bootstrap", **location)
        else:
            kwargs.update(package_type="Image", image_uri=code.image_uri,
                          image_config=LambdaFunctionImageConfig(command=list(code.command)) if code.command else None)
        self.function = named(
            LambdaFunction(
                self,
                "function",
                function_name=props.name,
                description=props.description or None,
                role=self.role.role_arn,
                architectures=[props.architecture],
                memory_size=props.memory_mb,
                timeout=props.timeout_seconds,
                ephemeral_storage=LambdaFunctionEphemeralStorage(size=props.ephemeral_storage_mb),
                environment=LambdaFunctionEnvironment(variables=dict(props.environment)) if props.environment else None,
                reserved_concurrent_executions=props.reserved_concurrency,
                tracing_config=LambdaFunctionTracingConfig(mode=props.tracing),
                dead_letter_config=LambdaFunctionDeadLetterConfig(target_arn=props.dead_letter_target_arn)
                if props.dead_letter_target_arn else None,
                vpc_config=LambdaFunctionVpcConfig(subnet_ids=list(props.vpc.subnet_ids),
                                                   security_group_ids=list(props.vpc.security_group_ids))
                if props.vpc else None,
                layers=list(props.layers) or None,
                kms_key_arn=props.kms_key_arn if props.environment else None,
                publish=props.publish or None,
                snap_start=LambdaFunctionSnapStart(apply_on="PublishedVersions") if props.snap_start else None,
                depends_on=[self.log_group.resource, self.role.role],
                **kwargs,
            ),
            id, "function",
        )
        self.function_name: str = self.function.function_name
        self.function_arn: str = self.function.arn
        self.invoke_arn: str = self.function.invoke_arn
        self.qualified_arn: str = self.function.qualified_arn
        self.version: str = self.function.version
        self.role_arn: str = self.role.role_arn
        self.role_name: str = self.role.role_name
        self.log_group_name: str = self.log_group.name
        self.log_group_arn: str = self.log_group.arn
        self.target_arn: str = self.function_arn
        """What triggers invoke: the function ARN, or an alias ARN once the function is published behind one."""
        self.qualifier: str | None = None
        """The alias triggers' permissions apply to (``None``: the unqualified function)."""
