"""plan / deploy / destroy: synthesize one environment, then drive Terraform stack by stack.

Stacks run in dependency order (the account's CI stack, registry, service; destroy in reverse, keeping a CI
stack other environments of the account still use). Terraform's working data
lives outside the synth folder (``.lambdaform/tf/<stack>`` beside the service file), so re-synthesizing
does not force a fresh ``init``. ``--endpoint`` (or ``$LAMBDAFORM_ENDPOINT``) points every AWS service the
stacks use, and an S3 state backend, at an emulator such as moto or LocalStack: an override file and a
backend config file are written beside the synthesized JSON; the JSON itself stays production config.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lambdaform import names, synth
from lambdaform.console import Output
from lambdaform.errors import AuthError, InputError, PlatformError, ToolError
from lambdaform.loader import LoadedService
from lambdaform.tfcli import Terraform, TerraformError, terraform

ENDPOINT_ENV = "LAMBDAFORM_ENDPOINT"
WAITS_FOR_IMAGE = "Waits for the first image"
"""How a plan reports a service stack whose image is not pushed yet (the PR comment lists it per stack)."""
OVERRIDE_FILE = "zz_lambdaform_endpoint_override.tf.json"
BACKEND_CONFIG_FILE = "emulator.s3.tfbackend"
EMULATOR_SERVICES = (
    "apigateway", "apigatewayv2", "cloudwatch", "cloudwatchlogs", "codedeploy", "dynamodb", "ec2", "ecr",
    "events", "iam", "kms", "lambda", "s3", "scheduler", "secretsmanager", "sns", "sqs", "ssm", "sts",
)
"""Every service endpoint set under ``--endpoint`` (a superset of what the blueprints use)."""


@dataclass(frozen=True)
class RunOptions:
    env: str
    out: Path = Path("cdktf.out")
    endpoint: str | None = None
    verbose: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    """Extra ``-var`` values, e.g. ``api_image_tag=3f2c1e0``."""
    stacks: tuple[str, ...] = ()
    """Act on these stacks only (full names or the ``registry``/``service`` shorthands); all by default."""


@dataclass
class FunctionRow:
    key: str
    name: str = ""
    version: str = ""
    url: str = ""
    ecr_repository: str = ""


@dataclass
class DeployResult:
    env: str
    stacks: list[str]
    functions: list[FunctionRow]
    outputs: dict[str, Any]
    """Stack outputs; sensitive values are replaced by ``"(sensitive)"``."""
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    """CodeDeploy alias shifts this deploy ran (function, from/to version, deployment id, status, reason)."""

    @property
    def failed_rollouts(self) -> list[dict[str, Any]]:
        return [row for row in self.rollouts if row["status"] != "succeeded"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.env,
            "stacks": self.stacks,
            "functions": [row.__dict__ for row in self.functions],
            "outputs": self.outputs,
            "rollouts": self.rollouts,
        }


@dataclass
class DestroyResult:
    env: str
    destroyed: list[str]
    """The destroyed stacks, in the order they were destroyed."""
    images_deleted: int = 0
    """Images lambdaform deleted from the ECR repositories first (``--delete-images``)."""
    notes: list[str] = field(default_factory=list)
    """One line each: a CI stack kept for other environments, images terraform deleted (force_delete)."""


def parse_vars(pairs: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; :class:`InputError` on a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--var takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


def resolve_endpoint(cli_value: str | None) -> str | None:
    value = cli_value or os.environ.get(ENDPOINT_ENV) or None
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"--endpoint must be an http(s) URL such as http://127.0.0.1:5000, not {value!r}")
    return value.rstrip("/")


def provider_override(endpoint: str) -> dict[str, Any]:
    """Point the AWS provider at an emulator (and skip the checks only real AWS can answer). The account id
    is still requested: the emulator answers it, and ARNs the provider builds (e.g. for tags) need it."""
    return {
        "provider": {
            "aws": [{
                "endpoints": [{service: endpoint for service in EMULATOR_SERVICES}],
                "skip_credentials_validation": True,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
                "s3_use_path_style": True,
            }]
        }
    }


def backend_config(endpoint: str) -> str:
    """``-backend-config`` file for an S3 backend on the emulator (merged into the stack's backend)."""
    lines = [
        "endpoints = {",
        *(f'  {svc} = "{endpoint}"' for svc in ("s3", "dynamodb", "iam", "sts")),
        "}",
        "use_path_style              = true",
        "skip_credentials_validation = true",
        "skip_requesting_account_id  = true",
        "skip_metadata_api_check     = true",
        "skip_region_validation      = true",
    ]
    return "\n".join(lines) + "\n"


def check_credentials(endpoint: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Extra environment for terraform; raise :class:`AuthError` when no AWS credentials can be found."""
    if endpoint:
        return {
            "AWS_ACCESS_KEY_ID": environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        }
    sources = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if any(environ.get(name) for name in sources):
        if environ.get("AWS_ACCESS_KEY_ID") and not environ.get("AWS_SECRET_ACCESS_KEY"):
            raise AuthError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        return {}
    home = Path(environ.get("HOME", "~")).expanduser()
    for name, default in (("AWS_SHARED_CREDENTIALS_FILE", home / ".aws" / "credentials"),
                          ("AWS_CONFIG_FILE", home / ".aws" / "config")):
        if Path(environ.get(name, default)).is_file():
            return {}
    raise AuthError(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, configure "
        "~/.aws/credentials, or pass --endpoint URL to deploy to a local emulator"
    )


def write_endpoint_files(result: Any, stacks: list[str], endpoint: str | None, *, s3_backend: bool) -> None:
    """Point ``stacks`` of a synth at ``endpoint`` (an override file and, for an S3 backend, a backend config
    beside the JSON), or remove such files when there is no endpoint: a reused synth may hold the files of
    an earlier run."""
    for stack in stacks:
        stack_dir = result.stack_dir(stack)
        (stack_dir / OVERRIDE_FILE).unlink(missing_ok=True)
        (stack_dir / BACKEND_CONFIG_FILE).unlink(missing_ok=True)
        if endpoint:
            (stack_dir / OVERRIDE_FILE).write_text(json.dumps(provider_override(endpoint), indent=2) + "\n")
            if s3_backend:
                (stack_dir / BACKEND_CONFIG_FILE).write_text(backend_config(endpoint))


class Deployment:
    """One environment of one service, ready to run Terraform on."""

    def __init__(self, loaded: LoadedService, options: RunOptions, output: Output):
        self.loaded = loaded
        self.service = loaded.select([options.env])[options.env]
        self.options = options
        self.output = output
        self.endpoint = resolve_endpoint(options.endpoint)
        self.extra_env = check_credentials(self.endpoint, os.environ)
        if shutil.which("terraform") is None:
            raise PlatformError("terraform was not found on PATH (install Terraform >= 1.10)")
        self.home = loaded.root / ".lambdaform"
        self.tf: Terraform = terraform(self.home)
        self.stacks: list[str] = []
        self.out_dir: Path | None = None
        self.ci = loaded.ci_stack(options.env)
        """The account's CI stack whose provider this environment's CI roles trust (None: no such stack)."""

    # -- preparation --------------------------------------------------------------------------------

    def synthesize(self) -> None:
        """Synthesize the environment into ``options.out`` and prepare its stacks for terraform."""
        result = synth.run(self.loaded, self.options.out, [self.options.env], self.output)
        self.stacks = self._chosen(result.stacks[self.options.env])
        self.out_dir = result.out_dir
        self._check_variables()
        write_endpoint_files(result, self.stacks, self.endpoint, s3_backend=self.service.state.backend == "s3")

    def _chosen(self, stacks: list[str]) -> list[str]:
        if not self.options.stacks:
            return stacks
        ci = self.ci.name if self.ci is not None else None
        shorthand = {"registry": [s for s in stacks if names.is_registry_stack(s)],
                     "service": [s for s in stacks if not names.is_registry_stack(s) and s != ci]}
        chosen: list[str] = []
        for wanted in self.options.stacks:
            matches = shorthand.get(wanted, [wanted] if wanted in stacks else [])
            if not matches:
                raise InputError(f"no stack '{wanted}' in environment '{self.options.env}' "
                                 f"(stacks: {', '.join(stacks)}; or registry / service)")
            chosen += [m for m in matches if m not in chosen]
        return [s for s in stacks if s in chosen]

    def stack_dir(self, stack: str) -> Path:
        assert self.out_dir is not None
        return self.out_dir / "stacks" / stack

    def _env(self, stack: str) -> dict[str, str]:
        data_dir = self.home / "tf" / stack
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**self.extra_env, "TF_DATA_DIR": str(data_dir), "AWS_REGION": self.service.region}

    def _run(self, stack: str, args: list[str], *, check: bool = True):
        stream = self.output.stream if self.options.verbose else None
        try:
            return self.tf.run(["-chdir=" + str(self.stack_dir(stack)), *args], cwd=self.stack_dir(stack),
                               check=check, extra_env=self._env(stack), stream=stream)
        except TerraformError as exc:
            raise ToolError(f"terraform {' '.join(args[:1])} failed for stack {stack}:\n{_tail(exc.output)}") from None

    def init(self, stack: str) -> None:
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        if (self.stack_dir(stack) / BACKEND_CONFIG_FILE).exists():
            args.append(f"-backend-config={BACKEND_CONFIG_FILE}")
        self._run(stack, args)

    def _declared(self, stack: str) -> set[str]:
        return set(json.loads((self.stack_dir(stack) / "cdk.tf.json").read_text()).get("variable", {}))

    def _check_variables(self) -> None:
        declared = set().union(*(self._declared(stack) for stack in self.stacks))
        unknown = sorted(set(self.options.variables) - declared)
        if unknown:
            raise InputError(f"unknown variable(s) {', '.join(unknown)}; the stacks of '{self.options.env}' "
                             f"declare: {', '.join(sorted(declared)) or 'none'}")

    def _vars(self, stack: str) -> list[str]:
        declared = self._declared(stack)
        return [f"-var={k}={v}" for k, v in sorted(self.options.variables.items()) if k in declared]

    # -- commands -----------------------------------------------------------------------------------

    def plan(self, detailed_exitcode: bool = False) -> tuple[int, str]:
        """Plan every stack; returns (exit code, combined plan text). With ``detailed_exitcode``: 0 no
        changes anywhere, 2 changes present."""
        texts, changed = [], False
        with self.output.progress(f"plan {self.options.env}") as step:
            for stack in self.stacks:
                missing = self.missing_images(stack)
                if missing:
                    changed = True
                    texts.append(f"# stack {stack}\n{WAITS_FOR_IMAGE}: {', '.join(missing)} not in ECR yet. "
                                 "Deploying applies the registry, then this stack once the image is pushed "
                                 "(the generated terraform.yml pushes it in between).\n")
                    continue
                step(f"{stack}: init")
                self.init(stack)
                step(f"{stack}: plan")
                proc = self._run(stack, ["plan", "-input=false", "-no-color", "-detailed-exitcode",
                                         *self._vars(stack)], check=False)
                if proc.returncode == 1:
                    raise ToolError(f"terraform plan failed for stack {stack}:\n{_tail(proc.stdout + proc.stderr)}")
                changed |= proc.returncode == 2
                texts.append(f"# stack {stack}\n{proc.stdout}{self._rollout_notes(stack, proc.stdout)}")
        return (2 if changed and detailed_exitcode else 0), "\n".join(texts)

    def _rolled_out(self) -> dict[str, dict[str, str]]:
        """Function key -> its CodeDeploy hooks, for every function released with ``deployment:``."""
        return {key: fn.deployment.hooks.model_dump(exclude_none=True)
                for key, fn in self.service.functions.items() if fn.deployment is not None}

    def _rollout_notes(self, stack: str, plan_text: str) -> str:
        """``# api: new version 8, will shift with LambdaCanary10Percent5Minutes`` for each function of
        ``stack`` whose code the plan changes (terraform publishes the version; deploy shifts the alias)."""
        notes = []
        released = self._rolled_out()
        if not released or names.is_registry_stack(stack):
            return ""
        current = self.outputs(stack)
        for key in released:
            marker = f"aws_lambda_function.{names.tf_name(key)}_function will be updated"
            block = plan_text.split(marker, 1)[1].split("\n\n", 1)[0] if marker in plan_text else ""
            if "source_code_hash" not in block and "image_uri" not in block:
                continue
            version = current.get(names.output(key, "function_version"), {}).get("value")
            after = f"new version {int(version) + 1}" if str(version).isdigit() else "a new version"
            notes.append(f"# {key}: {after}, will shift with {self.service.functions[key].deployment.strategy}")
        return "".join(f"\n{line}" for line in notes) + ("\n" if notes else "")

    def _aws(self, service: str) -> Any:
        """A boto3 client for the environment's region (and the emulator, with ``--endpoint``)."""
        import boto3

        extra = {"endpoint_url": self.endpoint, **{k.lower(): v for k, v in self.extra_env.items()}} \
            if self.endpoint else {}
        return boto3.client(service, region_name=self.service.region, **extra)

    def missing_images(self, stack: str) -> list[str]:
        """``repository:tag`` of each image a service stack deploys that is not in ECR yet (the repository
        may not exist either): planning or applying that stack would fail on its image data source."""
        from botocore.exceptions import BotoCoreError, ClientError

        if stack != names.service_stack(self.service.project, self.options.env) or not self.service.image_functions:
            return []  # only the service stack reads images (not the registry, not the account's ci stack)
        ecr, missing = self._aws("ecr"), []
        for key in self.service.image_functions:
            repository = names.physical(self.service.project, self.options.env, key)
            tag = self.options.variables.get(names.image_tag_variable(key), "latest")
            try:
                ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("RepositoryNotFoundException",
                                                                     "ImageNotFoundException"):
                    return []  # no permission to look: terraform reports what it finds
                missing.append(f"{repository}:{tag}")
            except BotoCoreError:
                return []
        return missing

    def apply_stack(self, stack: str) -> None:
        missing = self.missing_images(stack)
        if missing:
            raise ToolError(
                f"stack {stack} deploys {', '.join(missing)}, which is not in ECR yet: apply the registry "
                f"first (deploy --stack registry), push the image, then deploy again (or pass --var "
                f"{names.image_tag_variable(next(iter(self.service.image_functions)))}=TAG of a pushed image)")
        self.init(stack)
        self._run(stack, ["apply", "-input=false", "-no-color", "-auto-approve", *self._vars(stack)])

    def apply(self) -> DeployResult:
        """Apply every stack in order; then shift the alias of each function released with ``deployment:``
        whose published version changed, through CodeDeploy (the first deploy points the alias directly)."""
        released = self._rolled_out()
        previous: dict[str, Any] = {}
        with self.output.progress(f"deploy {self.options.env}") as step:
            for stack in self.stacks:
                step(f"{stack}: apply")
                if released:
                    self.init(stack)
                    previous.update(self.outputs(stack))
                self.apply_stack(stack)
        result = self.result()
        if released:
            result.rollouts = self._roll_out(previous, released)
        return result

    def _roll_out(self, previous: dict[str, Any], released: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
        from lambdaform import rollout

        current: dict[str, Any] = {}
        for stack in self.stacks:
            current.update(self.outputs(stack))
        planned = rollout.plan_rollouts(previous, current, released, lambda_client=self._aws("lambda"))
        if not planned:
            return []
        with self.output.progress(f"roll out {self.options.env}") as step:
            results = rollout.run(planned, codedeploy=self._aws("codedeploy"), progress=step)
        return [row.as_dict() for row in results]

    def rollback(self, function: str) -> tuple[str, str]:
        """Move ``function``'s alias back to the previous published version: (from, to)."""
        from lambdaform import rollout

        fn = self.service.functions.get(function)
        if fn is None or fn.alias is None:
            raise InputError(f"{self.loaded.path}: '{function}' is not a function with an alias "
                             f"(functions with one: {', '.join(k for k, f in self.service.functions.items() if f.alias) or 'none'})")
        stack = self.stacks[-1]
        self.init(stack)
        deployed = self.outputs(stack)
        name = deployed.get(names.output(function, "function_name"), {}).get("value")
        if not name:
            raise InputError(f"environment '{self.options.env}' has no deployed '{function}'; run deploy first")
        return rollout.rollback(str(name), fn.alias, lambda_client=self._aws("lambda"))

    def destroy_stack(self, stack: str) -> None:
        self.init(stack)
        self._run(stack, ["destroy", "-input=false", "-no-color", "-auto-approve", *self._vars(stack)])

    def planned(self) -> list[str]:
        """The stacks this run acts on, known before synthesizing."""
        return self._chosen(self.loaded.stack_names(self.options.env))

    def held_images(self) -> dict[str, list[dict[str, str]]]:
        """ECR repository -> ``{"imageDigest": ...}`` of each image it holds, for the repositories this run's
        registry stack would destroy (a repository that does not exist holds none)."""
        if not any(names.is_registry_stack(stack) for stack in self.planned()):
            return {}
        from botocore.exceptions import BotoCoreError, ClientError

        ecr = self._aws("ecr")
        held: dict[str, list[dict[str, str]]] = {}
        for key in self.service.image_functions:
            repository = names.physical(self.service.project, self.options.env, key)
            try:
                pages = ecr.get_paginator("list_images").paginate(repositoryName=repository)
                digests = dict.fromkeys(image["imageDigest"] for page in pages for image in page["imageIds"])
            except ecr.exceptions.RepositoryNotFoundException:
                continue
            except (BotoCoreError, ClientError) as exc:
                raise ToolError(f"could not list the images of ECR repository {repository}: {exc}") from None
            if digests:
                held[repository] = [{"imageDigest": digest} for digest in digests]
        return held

    def delete_images(self, held: Mapping[str, list[dict[str, str]]], step: Any = None) -> int:
        """Delete ``held`` (from :meth:`held_images`) with BatchDeleteImage; the number of images deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        ecr = self._aws("ecr")
        deleted = 0
        for repository, images in held.items():
            if step is not None:
                step(f"{repository}: delete {len(images)} image(s)")
            for start in range(0, len(images), 100):  # BatchDeleteImage takes at most 100 ids
                batch = images[start:start + 100]
                try:
                    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=batch)
                except (BotoCoreError, ClientError) as exc:
                    raise ToolError(f"could not delete the images of ECR repository {repository}: {exc}") from None
                if answer.get("failures"):
                    failure = answer["failures"][0]
                    raise ToolError(f"could not delete image {failure['imageId'].get('imageDigest')} of ECR "
                                    f"repository {repository}: {failure.get('failureReason')}")
                deleted += len(batch)  # the answer lists one id per tag: count what was asked
        return deleted

    def kept_ci_stack(self) -> str | None:
        """The account's CI stack when destroying all of this environment would remove a provider other
        environments still trust: it is kept then (``--stack <name>`` destroys it)."""
        if self.ci is None or self.options.stacks or self.ci.name not in self.stacks:
            return None
        return self.ci.name if len(self.ci.environments) > 1 else None

    def destroy(self, delete_images: Mapping[str, list[dict[str, str]]] | None = None) -> DestroyResult:
        """Destroy the stacks in reverse order, keeping :meth:`kept_ci_stack`. ``delete_images`` (from
        :meth:`held_images`) are deleted just before the registry stack: the service stack reads its image
        until it is destroyed itself."""
        kept = self.kept_ci_stack()
        result = DestroyResult(env=self.options.env, destroyed=[])
        with self.output.progress(f"destroy {self.options.env}") as step:
            for stack in reversed(self.stacks):
                if stack == kept:
                    continue
                if delete_images and names.is_registry_stack(stack):
                    result.images_deleted += self.delete_images(delete_images, step)
                step(f"{stack}: destroy")
                self.destroy_stack(stack)
                result.destroyed.append(stack)
        if kept is not None:
            assert self.ci is not None
            others = [env for env in self.ci.environments if env != self.options.env]
            account = f"account {self.ci.account_id}" if self.ci.account_id else "the account"
            result.notes.append(
                f"kept {kept}: the GitHub OIDC provider of {account}, also used by {', '.join(others)}; "
                f"remove it with: lambdaform destroy {self._file_argument()}--env {self.options.env} --stack {kept}")
        return result

    def _file_argument(self) -> str:
        """The service file as a command line names it (nothing for ./service.yaml, the default)."""
        path = os.path.relpath(self.loaded.path)
        if path.startswith(".."):
            path = str(self.loaded.path)
        return "" if path == "service.yaml" else f"{path} "

    def outputs(self, stack: str) -> dict[str, dict[str, Any]]:
        proc = self._run(stack, ["output", "-json", "-no-color"])
        return json.loads(proc.stdout or "{}")

    def result(self) -> DeployResult:
        merged: dict[str, dict[str, Any]] = {}
        for stack in self.stacks:
            merged.update(self.outputs(stack))
        shown = {k: ("(sensitive)" if v.get("sensitive") else v.get("value")) for k, v in sorted(merged.items())}
        rows = []
        for key in self.service.functions:
            rows.append(FunctionRow(
                key=key,
                name=str(shown.get(names.output(key, "function_name"), "")),
                version=str(shown.get(names.output(key, "function_version"), "")),
                url=str(shown.get(names.output(key, "function_url"), "")),
                ecr_repository=str(shown.get(names.output(key, "ecr_repository_url"), "")),
            ))
        return DeployResult(env=self.options.env, stacks=self.stacks, functions=rows, outputs=shown)


def _tail(text: str, lines: int = 40) -> str:
    """The part of terraform's output that explains a failure: from its first ``Error:`` line on (the
    cause, not the end of a long diff), at most ``lines`` lines; the last lines when there is no such line."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    first = next((i for i, line in enumerate(kept) if line.lstrip("│ ").startswith("Error:")), None)
    if first is None:
        return "\n".join(kept[-lines:])
    excerpt = kept[first:first + lines]
    if first + lines < len(kept):
        excerpt.append(f"... ({len(kept) - first - lines} more lines; --verbose shows terraform's whole output)")
    return "\n".join(excerpt)
