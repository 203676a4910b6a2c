"""The service file model: what a user may write in ``service.yaml``, validated once by pydantic.

Every field carries its unit in its name and documents its default as the behaviour you get. The model
is pure data: loading the YAML, merging environment overrides and checking paths on disk live in
:mod:`lambdaform.loader`; turning the model into Terraform lives in :mod:`lambdaform.stacks`.

The top-level kinds (tables, buckets, queues, the blueprint sections) are not written out here: each one's
model comes from the registry :data:`lambdaform.kinds.KINDS`, and :class:`Service` gets one field per kind.
So do the ``access:`` entries of a function: one ``<access_key>: <key>`` field per kind that grants access.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, create_model, field_validator, model_validator

from lambdaform import names
from lambdaform.kinds import KINDS, Kind, by_access_key
from lambdaform.triggers import item_type as trigger_item_type
from lambdaform.fields import (  # noqa: F401  (re-exported for sections and tests)
    LOG_RETENTION_DAYS,
    PROVIDER_6_RUNTIMES,
    PROVIDER_VERSION,
    RESERVED_ENV_VARS,
    RetentionDays,
    ZIP_RUNTIMES,
    AccountId,
    Arn,
    EnvVarName,
    Name,
    Region,
    RelPath,
    Strict,
)

# --- sections ---------------------------------------------------------------------------------------


class Cors(Strict):
    """CORS for a Function URL. Nothing is allowed unless listed."""

    allow_origins: list[str] = Field(default_factory=list, description="Origins, e.g. https://app.example.com.")
    allow_methods: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"]] = Field(
        default_factory=lambda: ["GET", "POST"]
    )
    allow_headers: list[str] = Field(default_factory=lambda: ["content-type"])
    expose_headers: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    max_age_seconds: int = Field(default=300, ge=0, le=86400)

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"'{origin}' is not an origin (scheme://host[:port], no path)")
        return value


class FunctionUrl(Strict):
    """An HTTPS endpoint for the function. ``AWS_IAM`` (SigV4-signed callers only) unless ``NONE`` is written."""

    auth: Literal["AWS_IAM", "NONE"] = Field(
        default="AWS_IAM", description="AWS_IAM by default; NONE makes the URL public and must be explicit."
    )
    cors: Cors | None = None
    invoke_mode: Literal["BUFFERED", "RESPONSE_STREAM"] = "BUFFERED"


class Statement(Strict):
    """An extra IAM statement for the execution role, scoped to ARNs (no ``*`` resources)."""

    sid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]+$")
    actions: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+:[A-Za-z0-9*]+$")]] = Field(min_length=1)
    resources: list[Arn] = Field(min_length=1, description="ARNs; a bare '*' is refused.")


class VpcConfig(Strict):
    """Run the function inside a VPC (to reach RDS or other private resources)."""

    subnet_ids: list[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=1)
    security_group_ids: list[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(min_length=1)


class _AccessBase(Strict):
    """Grant the function access to a resource declared in this file (scoped to its ARN): exactly one
    ``<kind>: <key>`` (``table: locks``, ``bucket: uploads``, ``queue: jobs``...) and a mode."""

    mode: Literal["read", "write", "read_write"] = "read_write"
    prefix: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9!_.*'()/-]*$", description="Buckets only: limit access to this key prefix."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Any:
        targets = [name for name in ACCESS_KEYS if getattr(self, name) is not None]
        if len(targets) != 1:
            raise ValueError(f"give exactly one of {_one_of(ACCESS_KEYS)}")
        if self.prefix is not None and not by_access_key(targets[0]).access_prefix:
            with_prefix = [k.access_key for k in KINDS if k.access_key and k.access_prefix]
            raise ValueError(f"prefix applies to {', '.join(f'{k}s' for k in with_prefix)} only")
        return self

    def target(self) -> tuple[str, str]:
        """(kind key, declared key) this entry grants access to, e.g. ``("tables", "locks")``."""
        name = next(n for n in ACCESS_KEYS if getattr(self, n) is not None)
        return by_access_key(name).key, getattr(self, name)


def _one_of(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


ACCESS_KEYS: tuple[str, ...] = tuple(kind.access_key for kind in KINDS if kind.access_key)
Access = create_model(
    "Access",
    __base__=_AccessBase,
    __doc__=_AccessBase.__doc__,
    **{name: (Name | None, None) for name in ACCESS_KEYS},  # type: ignore[call-overload]
)


def _newest_like(runtime: str) -> str:
    """The newest supported runtime of the same language: python3.14 -> python3.13."""
    family = runtime.rstrip("0123456789.x")
    same = [r for r in ZIP_RUNTIMES if r.startswith(family)]
    return same[-1] if same else ZIP_RUNTIMES[0]


_LAYER_KEY = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$")


def _layer_ref(value: str) -> str:
    if (_LAYER_KEY.match(value) and len(value) <= 32) or _LAYER_ARN.match(value):
        return value
    raise ValueError("give a key under layers: (lowercase letters, digits and hyphens) or a layer version ARN "
                     "(arn:aws:lambda:<region>:<account>:layer:<name>:<version>)")


LayerRef = Annotated[str, AfterValidator(_layer_ref)]
"""A function's ``layers`` entry: a declared layer's key or a layer version ARN."""


SECRET_NAME_SUFFIXES = ("_API_KEY", "_APIKEY", "_SECRET", "_SECRET_KEY", "_PASSWORD", "_PASSWD", "_TOKEN",
                        "_PRIVATE_KEY", "_ACCESS_KEY")
_AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)


def secret_like(name: str, value: str) -> str | None:
    """Why a literal environment value looks like a secret, or None."""
    if _AWS_KEY_ID.search(value):
        return "it contains an AWS access key id"
    if _URL_WITH_PASSWORD.match(value):
        return "it is a URL with a password in it"
    upper = name.upper()
    if (upper.endswith(SECRET_NAME_SUFFIXES) or upper in {"PASSWORD", "SECRET", "API_KEY", "TOKEN"}) and \
            len(value) >= 8 and "${" not in value:
        return f"{name} names a secret and holds a literal value"
    return None


class SecretRef(Strict):
    """A secret kept outside the service file: an SSM SecureString parameter or a Secrets Manager secret.
    Functions receive its name/ARN in an environment variable and read the value at run time; the value
    never passes through Terraform, its state, outputs or logs."""

    ssm_parameter: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_.\-/]{1,1010}$",
                                      description="Parameter name, e.g. /nl2sql/prod/database-url.")
    secrets_manager_arn: Arn | None = Field(default=None, description="Full secret ARN (with its suffix).")

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.ssm_parameter is None) == (self.secrets_manager_arn is None):
            raise ValueError("give exactly one of ssm_parameter or secrets_manager_arn")
        if self.secrets_manager_arn is not None and ":secretsmanager:" not in self.secrets_manager_arn:
            raise ValueError("secrets_manager_arn must be a Secrets Manager ARN")
        return self


SNAP_START_RUNTIMES = ("python3.12", "python3.13", "java21")
"""Runtimes of :data:`ZIP_RUNTIMES` that Lambda SnapStart supports (Python 3.12+, Java 11+; not Node.js, Ruby or
OS-only runtimes)."""

DEPLOYMENT_STRATEGIES = (
    "LambdaAllAtOnce",
    "LambdaCanary10Percent5Minutes", "LambdaCanary10Percent10Minutes", "LambdaCanary10Percent15Minutes",
    "LambdaCanary10Percent30Minutes",
    "LambdaLinear10PercentEvery1Minute", "LambdaLinear10PercentEvery2Minutes", "LambdaLinear10PercentEvery3Minutes",
    "LambdaLinear10PercentEvery10Minutes",
)
"""CodeDeploy's predefined Lambda deployment configurations (``CodeDeployDefault.<name>``)."""

DESTINATION_KINDS = ("queue", "topic", "function", "event_bus")


class Destination(Strict):
    """Where Lambda sends the record of an asynchronous invocation: exactly one of ``queue``, ``topic`` or
    ``function`` (a key of this file, or an ``arn:``) or ``event_bus`` (an ``arn:`` or ``default``, the
    account's default bus). The execution role may send to exactly that destination."""

    queue: str | None = Field(default=None, description="A key under queues:, or an SQS queue ARN.")
    topic: str | None = Field(default=None, description="A key under topics:, or an SNS topic ARN.")
    function: str | None = Field(default=None, description="A key under functions:, or a Lambda function ARN.")
    event_bus: str | None = Field(default=None, description="An EventBridge event bus ARN, or default.")

    @model_validator(mode="after")
    def _one(self) -> Destination:
        given = [k for k in DESTINATION_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {_one_of(DESTINATION_KINDS)}"
                             + (f", not {' and '.join(given)}" if given else ""))
        kind, value = given[0], getattr(self, given[0])
        if value.startswith("arn:"):
            service = {"queue": ":sqs:", "topic": ":sns:", "function": ":lambda:", "event_bus": ":events:"}[kind]
            if not re.match(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$", value) or service not in value:
                raise ValueError(f"{kind}: '{value}' is not an ARN of {service.strip(':')}")
        elif kind == "event_bus":
            if value != "default":
                raise ValueError("event_bus: give an event bus ARN or default (no event buses are declared in a "
                                 "service file)")
        elif not re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", value):
            raise ValueError(f"{kind}: '{value}' is neither a key of this file nor an ARN")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in DESTINATION_KINDS if getattr(self, k) is not None)

    @property
    def target(self) -> str:
        """The key or ARN given."""
        return getattr(self, self.kind)


class AsyncInvocation(Strict):
    """How Lambda handles asynchronous invocations (S3, SNS, EventBridge, ``InvocationType=Event``).
    Unset fields keep Lambda's defaults: 2 retries, events kept 6 hours, no destinations."""

    maximum_retry_attempts: int = Field(default=2, ge=0, le=2, description="Retries after a failure (0-2; 2).")
    maximum_event_age_seconds: int = Field(
        default=21600, ge=60, le=21600, description="Discard events older than this (60-21600 s; 6 hours).")
    on_failure: Destination | None = Field(
        default=None,
        description="Receives the full invocation record (request, response, error) of every event that failed "
        "or expired. Prefer it to dead_letter_queue: true, which gets only the event payload.")
    on_success: Destination | None = Field(default=None, description="Receives the record of every success.")


class DeploymentHooks(Strict):
    """CodeDeploy lifecycle hooks: functions of this file that test the new version and report with
    ``PutLifecycleEventHookExecutionStatus`` (they may report to this deployment group only)."""

    before_allow_traffic: Name | None = Field(default=None, description="Runs before any traffic shifts.")
    after_allow_traffic: Name | None = Field(default=None, description="Runs after all traffic has shifted.")


class Deployment(Strict):
    """Shift the alias to new versions gradually with CodeDeploy; a failed hook, a stopped deployment or an
    alarm of the function (``alarms:``) rolls back."""

    strategy: str = Field(
        default="LambdaCanary10Percent5Minutes",
        description="A CodeDeploy predefined Lambda configuration: " + ", ".join(DEPLOYMENT_STRATEGIES) + ".")
    hooks: DeploymentHooks = Field(default_factory=DeploymentHooks)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        value = value.removeprefix("CodeDeployDefault.")
        if value not in DEPLOYMENT_STRATEGIES:
            raise ValueError(f"'{value}' is not a CodeDeploy Lambda deployment configuration (one of "
                             f"{', '.join(DEPLOYMENT_STRATEGIES)})")
        return value

    @property
    def config_name(self) -> str:
        return f"CodeDeployDefault.{self.strategy}"


class Function(Strict):
    """One Lambda function. Defaults: zip package, python3.12, x86_64, 512 MB, 30 s, 14 days of logs,
    X-Ray tracing active, no public URL."""

    description: str = Field(default="", max_length=256)
    package: Literal["zip", "image"] = Field(default="zip", description="zip (packaged by lambdaform) or image (ECR).")
    source: RelPath = Field(description="Handler folder: the zip root, or the Docker build context for images.")
    handler: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_./-]+$",
        description="Entry point, e.g. pkg.module.handler (zip; required unless a provided.* runtime). For images "
        "it overrides the image CMD.",
    )
    runtime: Literal[ZIP_RUNTIMES] = Field(default="python3.12", description="Zip functions only.")  # type: ignore[valid-type]
    dockerfile: RelPath | None = Field(
        default=None,
        description="Your own Dockerfile (image functions). Default: lambdaform renders Dockerfile.lambda.",
    )
    python_version: Literal["3.11", "3.12", "3.13"] = Field(
        default="3.12", description="Base image version for the rendered Dockerfile.lambda."
    )
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    ephemeral_storage_mb: int = Field(default=512, ge=512, le=10240)
    environment: dict[EnvVarName, str] = Field(default_factory=dict)
    reserved_concurrency: int | None = Field(
        default=None, ge=0, le=1000, description="Unset: the function shares the account's unreserved pool."
    )
    log_retention_days: RetentionDays = Field(default=14, description="CloudWatch Logs retention; 14 days by default.")
    tracing: Literal["Active", "PassThrough"] = Field(default="Active", description="X-Ray tracing mode.")
    url: FunctionUrl | None = Field(default=None, description="Give the function a Function URL.")
    permissions: list[Statement] = Field(default_factory=list)
    required_files: list[RelPath] = Field(
        default_factory=list,
        description="Files (relative to source) that must exist before packaging, e.g. compiled output.",
    )
    exclude: list[str] = Field(default_factory=list, description="Extra glob patterns left out of the zip.")
    access: list[Access] = Field(default_factory=list, description="Tables, buckets, queues and topics it may use.")
    dead_letter_queue: bool = Field(
        default=False,
        description="Create an encrypted SQS queue for failed asynchronous invocations (the event payload only). "
        "Prefer async.on_failure: its record carries the request, the response and the error of every failure, "
        "and it may go to a queue, topic, function or event bus.",
    )
    vpc: VpcConfig | None = None
    layers: list[LayerRef] = Field(
        default_factory=list, max_length=5,
        description="Layers, in order: a key under `layers:` (built by lambdaform; the function gets its version "
        "ARN) or a layer version ARN.",
    )
    allow_source_builds: bool = Field(
        default=False,
        description="Python dependencies: also build sdists (source-only releases) that give pure-Python wheels; "
        "off: binary wheels only. A compiled sdist is refused either way.",
    )
    secrets: dict[EnvVarName, Name] = Field(
        default_factory=dict,
        description="Environment variable -> key under `secrets:`; the variable receives the parameter name or "
        "secret ARN (never the value) and the role may read exactly that secret.",
    )
    triggers: list[trigger_item_type()] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="What invokes the function, each a one-key mapping from the kind to its options "
        "(sqs, schedule, s3, sns, dynamodb_stream, kinesis, eventbridge, http).",
    )
    alias: Name | None = Field(
        default=None,
        description="Publish a version on every code or configuration change and point this alias at it; "
        "triggers, the Function URL and API integrations invoke the alias. Unset: $LATEST, no versions kept.")
    provisioned_concurrency: int = Field(
        default=0, ge=0, le=1000,
        description="Execution environments kept initialized on the alias (needs alias; 0: none).")
    snap_start: bool = Field(
        default=False,
        description="SnapStart on published versions (needs alias; " + ", ".join(SNAP_START_RUNTIMES)
        + " zip functions; not with provisioned_concurrency or more than 512 MB of ephemeral storage).")
    async_: AsyncInvocation | None = Field(
        default=None, alias="async",
        description="Retries, event age and destinations of asynchronous invocations (on the alias when set).")
    deployment: Deployment | None = Field(
        default=None, description="Gradual rollout of new versions with CodeDeploy (needs alias).")

    @field_validator("runtime", mode="before")
    @classmethod
    def _newer_runtime(cls, value: object) -> object:
        if value in PROVIDER_6_RUNTIMES:
            raise ValueError(
                f"{value} needs the AWS provider 6.x, which this build's binding (hashicorp/aws "
                f"{PROVIDER_VERSION}) cannot plan; use {_newest_like(str(value))} or an image function")
        return value

    @field_validator("environment")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(set(value) & RESERVED_ENV_VARS)
        if reserved:
            raise ValueError(f"{', '.join(reserved)} is set by Lambda itself and cannot be configured")
        for name, text in value.items():
            why = secret_like(name, text)
            if why:
                raise ValueError(
                    f"{name} looks like a secret ({why}); keep it out of plain environment variables: declare it "
                    f"under `secrets:` (SSM parameter or Secrets Manager) and map it with `secrets: {{{name}: <key>}}`"
                )
        return value

    @model_validator(mode="after")
    def _package_rules(self) -> Function:
        if self.package == "zip":
            if self.dockerfile is not None:
                raise ValueError("dockerfile applies to image functions only (package: image)")
            if self.handler is None and not self.runtime.startswith("provided"):
                raise ValueError(f"handler is required for runtime {self.runtime}")
        elif self.handler is None:
            raise ValueError("handler is required for image functions (it becomes the image CMD)")
        return self


class Registry(Strict):
    """The ECR repository for image functions (in its own stack, applied before the service)."""

    scan_on_push: bool = True
    image_tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = Field(
        default="MUTABLE", description="MUTABLE lets CI move a 'latest' tag; IMMUTABLE forbids re-tagging."
    )
    keep_last_images: int = Field(default=10, ge=1, le=1000, description="Lifecycle rule: keep the newest N images.")
    encryption: Literal["AES256", "KMS"] = Field(default="KMS", description="KMS (AWS managed aws/ecr key) by default.")
    force_delete: bool = Field(default=False, description="Allow destroying a repository that still holds images.")


class CiIdentity(Strict):
    """Who CI runs as. ``github-oidc`` (short-lived role credentials) by default; ``iam-user`` creates a
    user and an access key (secret output marked sensitive) for parity with older setups."""

    mode: Literal["github-oidc", "iam-user"] = "github-oidc"
    repository: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", description="owner/name on GitHub."
    )
    branches: list[str] = Field(default_factory=lambda: ["main"], description="Branches allowed to deploy.")
    github_environments: list[str] = Field(default_factory=list, description="GitHub environments allowed to deploy.")
    repository_owner_id: int | None = Field(default=None, ge=1, description="Numeric owner id (immutable sub form).")
    repository_id: int | None = Field(default=None, ge=1, description="Numeric repository id (immutable sub form).")
    create_oidc_provider: bool = Field(
        default=True,
        description="Create the account's GitHub OIDC provider, once per account, in the <project>-ci stack of the "
        "account's first environment; false (in any environment of the account) reuses one that exists already.",
    )
    lambdaform_requirement: str | None = Field(
        default=None, min_length=1, max_length=512, pattern=r"^[^\s]+$",
        description="How the generated workflows install lambdaform: a pip requirement such as "
        "lambdaform==0.2.0, a git URL or a wheel URL on an internal index. Default: the repository's "
        "requirements-lambdaform.txt (lambdaform init writes it).",
    )
    terraform_roles: bool = Field(
        default=False,
        description="Also create a read-only plan role (pull requests) and an apply role (deploy branches).",
    )

    @model_validator(mode="after")
    def _needs_repo(self) -> CiIdentity:
        if self.mode == "github-oidc" and not self.repository:
            raise ValueError("repository (owner/name) is required for mode github-oidc")
        if (self.repository_owner_id is None) != (self.repository_id is None):
            raise ValueError("repository_owner_id and repository_id go together")
        return self


STATE_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class StateBackend(Strict):
    """Where Terraform keeps state. Local files beside the service file by default; S3 with locking
    when a bucket is given."""

    backend: Literal["local", "s3"] = "local"
    path: RelPath = Field(default=".lambdaform/state", description="Local backend: folder for state files.")
    bucket: str | None = Field(default=None, pattern=STATE_BUCKET_PATTERN)
    key_prefix: str = Field(default="lambdaform", pattern=r"^[A-Za-z0-9._/-]+$")
    region: Region | None = None
    dynamodb_table: str | None = Field(default=None, description="Legacy lock table; S3 lock files are used too.")
    encrypt: bool = True

    @model_validator(mode="after")
    def _s3(self) -> StateBackend:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("bucket is required for backend s3")
        return self


class _ServiceBase(Strict):
    """A service: functions and what they need, deployed once per environment."""

    project: Name
    region: Region = "us-east-1"
    account_id: AccountId | None = Field(
        default=None,
        description="The AWS account this environment deploys to: terraform refuses other credentials "
        "(allowed_account_ids), and environments are grouped by it for the account-wide GitHub OIDC provider. "
        "Unset: every environment without one is taken to share one account.",
    )
    description: str = ""
    tags: dict[str, Annotated[str, StringConstraints(max_length=256)]] = Field(default_factory=dict)
    environments: dict[Name, dict | None] = Field(
        default_factory=lambda: {"dev": {}, "prod": {}},
        description="Environment name -> overrides (any part of this file except project/environments); "
        "an empty value means no overrides.",
        min_length=1,
    )
    state: StateBackend = Field(default_factory=StateBackend)
    registry: Registry = Field(default_factory=Registry)
    ci: CiIdentity | None = None
    functions: dict[Name, Function] = Field(default_factory=dict)
    secrets: dict[Name, SecretRef] = Field(default_factory=dict)
    encryption_key: Literal["service", "aws-managed"] = Field(
        default="service",
        description="service: one customer managed KMS key per environment (rotation on) encrypts log groups, "
        "tables, buckets, queues and function environment variables; aws-managed: AWS's own keys (no key to pay "
        "for or manage, but no control over its policy).",
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' must be 1-128 characters and not start with 'aws:'")
        return value

    @model_validator(mode="after")
    def _something_to_deploy(self) -> Any:
        if not self.functions and not any(kind.provides_functions(self) for kind in KINDS):
            sections = [kind.key for kind in KINDS if type(kind).provides_functions is not Kind.provides_functions]
            raise ValueError(f"declare at least one function (functions:) or a {' or '.join(sections)} section")
        return self

    def resource_name(self, env: str, key: str) -> str:
        """Physical name of a table, bucket, queue or API: ``<project>-<env>-<key>``."""
        return names.physical(self.project, env, key)

    def function_name(self, env: str, key: str) -> str:
        """The deployed Lambda name: ``<project>-<env>-<function>``."""
        return names.physical(self.project, env, key)

    @property
    def image_functions(self) -> dict[str, Function]:
        return {k: f for k, f in self.functions.items() if f.package == "image"}


def _kind_field(kind: Kind) -> tuple[Any, Any]:
    if kind.shape == "section":
        return kind.model | None, Field(default=None, description=kind.description or kind.model.__doc__)
    key_type = kind.map_key_type or Name
    return dict[key_type, kind.model], Field(  # type: ignore[valid-type]
        default_factory=dict, description=kind.description or kind.model.__doc__)


Service = create_model(
    "Service",
    __base__=_ServiceBase,
    __doc__=_ServiceBase.__doc__,
    **{kind.key: _kind_field(kind) for kind in KINDS},  # type: ignore[call-overload]
)
