"""Render the GitHub Actions workflows that plan, apply and deploy a lambdaform service.

The flow is one way: :func:`context_from_service` turns a validated service file into a
:class:`WorkflowContext` (or a caller builds one), :func:`render_workflows` precomputes everything the
templates need and renders ``templates/workflows/*.j2`` with jinja2. Templates only place values; every
decision (which files, which jobs, quoting) is made here.

Two workflows come out:

``.github/workflows/terraform.yml``
    Every run but a destroy: the repository's own test command (``test`` job). Pull requests: synth, then
    ``plan --detailed-exitcode`` per environment with a read-only role, and one PR comment per environment
    kept up to date in place (found by a hidden marker); a service stack whose image does not exist yet is
    reported as waiting for the first image. Pushes to the default branch: ``deploy --yes`` per
    environment, in promotion order, each job behind its GitHub environment (approval gates) and a
    ``terraform-<env>`` concurrency group that never cancels a running apply. With image functions the
    apply job applies the registry stack, builds and pushes the image tagged with the commit SHA, then
    applies the service stack with that tag: an empty account is deployed in one run. Manual runs: plan,
    apply or destroy one environment. The service must keep its state remotely (jobs share no workspace).

``.github/workflows/build-deploy-lambda.yml`` (only when a function is packaged as a container image)
    Manual rollouts of the code alone: tests, then build an image for the function's platform
    (linux/amd64 or linux/arm64) without attestation manifests (Lambda rejects manifest lists: "Image
    manifest type not supported"), push it to the environment's ECR repository, point the function at it,
    wait, and health-check its Function URL (signed with SigV4 when the URL uses ``AWS_IAM`` auth).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from lambdaform import __version__, names
from lambdaform.deploy import WAITS_FOR_IMAGE
from lambdaform.fields import REGION_PATTERN
from lambdaform.render import render

if TYPE_CHECKING:
    from lambdaform.loader import LoadedService

REQUIREMENT_FILE = "requirements-lambdaform.txt"
"""A user's repository pins the lambdaform it builds with here (``lambdaform init`` writes it)."""
SELF_INSTALL = ("python -m pip install -e .", "npm ci")
SELF_TESTS = ("make test",)
"""lambdaform's own test command (the README's), which installs what it needs through the Makefile."""


def user_test_command(service_file: str = "service.yaml") -> str:
    """A user repository's test command: a scaffold's README names it, its test jobs run it."""
    quoted = shlex.quote(service_file)
    return f"lambdaform validate {quoted} && lambdaform synth {quoted} --quiet"

SELF_CLI = "python main.py"

TERRAFORM_WORKFLOW = ".github/workflows/terraform.yml"
BUILD_DEPLOY_WORKFLOW = ".github/workflows/build-deploy-lambda.yml"

PLAN_COMMENT_MARKER = "<!-- lambdaform-plan:{environment} -->"
"""Hidden first line of each plan comment; the comment job finds its previous comment by it."""

CiMode = Literal["github-oidc", "iam-user"]
PackageType = Literal["image", "zip"]
UrlAuth = Literal["AWS_IAM", "NONE"]
Platform = Literal["linux/amd64", "linux/arm64"]

# Every action is pinned to the full commit SHA of its current release tag (tags are mutable), each a Node 24
# release (GitHub's hosted runners removed Node 20 in September 2026); the comment names the release.
ACTIONS: Mapping[str, str] = {
    "checkout": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "setup_python": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    "setup_node": "actions/setup-node@820762786026740c76f36085b0efc47a31fe5020 # v7.0.0",
    "setup_terraform": "hashicorp/setup-terraform@dfe3c3f87815947d99a8997f908cb6525fc44e9e # v4.0.1",
    "aws_credentials": "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3",
    "ecr_login": "aws-actions/amazon-ecr-login@03f1aad4c6c7ffd436567f42f9384779290529bd # v2.1.7",
    "github_script": "actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0",
    "upload_artifact": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0",
    "download_artifact": "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1",
}

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_VAR_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ECR_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


class WorkflowContextError(ValueError):
    """The context cannot produce a valid workflow; the message names the offending field."""


@dataclass(frozen=True)
class StackNames:
    """The cdktf stacks of one environment."""

    service: str
    """The service stack, ``<project>-<env>``."""
    registry: str | None = None
    """The registry stack (ECR repositories), ``<project>-<env>-registry``; ``None`` when the service has no
    container-image function."""
    ci: str | None = None
    """The account's CI stack (its GitHub OIDC provider) when this environment owns it, else ``None``."""

    @classmethod
    def conventional(cls, project: str, environment: str, *, with_registry: bool) -> StackNames:
        """The names lambdaform gives its stacks."""
        return cls(service=names.service_stack(project, environment),
                   registry=names.registry_stack(project, environment) if with_registry else None)


@dataclass(frozen=True)
class WorkflowFunction:
    """One Lambda function as the workflows see it."""

    name: str
    """The function's key in the service file (``api``)."""
    package: PackageType
    """``image`` functions are built and rolled out by build-deploy-lambda.yml; ``zip`` functions are
    packaged by synth and rolled out by ``main.py deploy``."""
    function_names: Mapping[str, str]
    """The deployed function name per environment."""
    source_dir: str
    """The handler folder, relative to the working directory; pushes touching it trigger a rebuild."""
    ecr_repositories: Mapping[str, str] = field(default_factory=dict)
    """Image functions: the ECR repository name per environment (in that environment's registry stack)."""
    dockerfile: str | None = None
    """Image functions: the Dockerfile, relative to the working directory. A path under the synth output
    folder makes the deploy jobs run ``main.py synth`` first."""
    build_context: str | None = None
    """Image functions: the docker build context, relative to the working directory."""
    kit_context: str | None = None
    """Image functions built from synth's ``Dockerfile.lambda`` whose code imports ``lambdaform_kit``: the
    folder synth writes the kit to, passed as the named build context ``kit`` (relative to the working
    directory). ``None``: no kit context."""
    url_auth: UrlAuth | None = None
    """The Function URL's auth type; ``None`` when the function has no URL (no health check).
    ``AWS_IAM`` URLs are health-checked with a SigV4-signed request, so the deploy identity needs
    ``lambda:InvokeFunctionUrl``."""
    health_path: str = "/health"
    """Path requested on the Function URL after a rollout; it must answer 2xx."""
    push_latest: bool = True
    """Also push the ``latest`` tag (the tag the service stack deploys by default). Turn off for
    repositories with immutable tags."""
    platform: Platform = "linux/amd64"
    """Image platform: ``linux/amd64`` for x86_64 functions, ``linux/arm64`` for arm64 ones."""


@dataclass(frozen=True)
class WorkflowContext:
    """Everything the workflow templates need, decided by the caller."""

    project: str
    region: str
    environments: Sequence[str]
    """Environment names in promotion order: pushes apply them one after another, in this order."""
    stacks: Mapping[str, StackNames]
    """The stacks of each environment."""
    service_file: str
    """The service file, relative to the working directory."""
    functions: Sequence[WorkflowFunction] = ()
    ci_mode: CiMode = "github-oidc"
    """``github-oidc``: short-lived credentials from an IAM role per job (the default and the secure choice).
    ``iam-user``: static access keys from secrets (parity with older setups); environment-level secrets
    override repository-level ones, so PR plans can use read-only repository keys and the gated jobs
    their environment's keys."""
    plan_role_var: str = "AWS_PLAN_ROLE_ARN"
    """Repository variable holding the read-only role pull-request plans assume."""
    apply_role_var: str = "AWS_APPLY_ROLE_ARN"
    """Variable (set per GitHub environment) holding the role apply and destroy assume."""
    deploy_role_var: str = "AWS_DEPLOY_ROLE_ARN"
    """Variable (set per GitHub environment) holding the role that pushes images and updates functions."""
    access_key_id_secret: str = "AWS_ACCESS_KEY_ID"
    """``iam-user`` mode: the secret holding the access key id."""
    secret_access_key_secret: str = "AWS_SECRET_ACCESS_KEY"
    """``iam-user`` mode: the secret holding the secret access key."""
    python_version: str = "3.11"
    terraform_version: str = "1.11.4"
    node_version: str = "20"
    working_directory: str = "."
    """Where ``main.py`` and the service file live, relative to the repository root."""
    synth_out: str = "cdktf.out"
    default_branch: str = "main"
    runs_on: str = "ubuntu-latest"
    install_commands: Sequence[str] = SELF_INSTALL
    """Shell lines that install lambdaform before synth (:func:`context_from_service` picks them: from source
    in lambdaform's own checkout, the pinned requirement in a user's repository)."""
    test_commands: Sequence[str] = SELF_TESTS
    """The repository's own test command, run before anything is applied or any image is built."""
    tests_install: bool = True
    """Whether ``test_commands`` install what they need themselves (``make test`` does); otherwise the test
    job runs ``install_commands`` first."""
    cli: str = SELF_CLI
    """How the steps call lambdaform: ``python main.py`` in its own checkout, the ``lambdaform`` command elsewhere."""
    max_comment_chars: int = 60_000
    """Plan text kept in a PR comment (GitHub caps a comment at 65,536 characters); the full plan always
    goes to the job summary."""
    source_label: str = "service.yaml"
    """Named in the generated header so a reader knows what to regenerate from."""

    def __post_init__(self) -> None:
        # Freeze sequences so a context stays hashable-in-spirit and cannot change between renders.
        object.__setattr__(self, "environments", tuple(self.environments))
        object.__setattr__(self, "functions", tuple(self.functions))
        object.__setattr__(self, "install_commands", tuple(self.install_commands))
        object.__setattr__(self, "test_commands", tuple(self.test_commands))
        _validate(self)

    @property
    def image_functions(self) -> tuple[WorkflowFunction, ...]:
        return tuple(f for f in self.functions if f.package == "image")


def _fail(field_path: str, message: str) -> None:
    raise WorkflowContextError(f"{field_path}: {message}")


def _validate(ctx: WorkflowContext) -> None:
    if not ctx.environments:
        _fail("environments", "at least one environment is required")
    if len(set(ctx.environments)) != len(ctx.environments):
        _fail("environments", f"names must be unique, got {list(ctx.environments)}")
    for env in ctx.environments:
        if not _ENV_NAME.match(env):
            _fail("environments", f"{env!r} must match {_ENV_NAME.pattern} (it becomes a job id and a group name)")
        if env not in ctx.stacks:
            _fail(f"stacks.{env}", "missing stack names for this environment")
    if ctx.ci_mode not in ("github-oidc", "iam-user"):
        _fail("ci_mode", f"must be 'github-oidc' or 'iam-user', got {ctx.ci_mode!r}")
    for name in ("plan_role_var", "apply_role_var", "deploy_role_var", "access_key_id_secret", "secret_access_key_secret"):
        if not _VAR_NAME.match(getattr(ctx, name)):
            _fail(name, f"{getattr(ctx, name)!r} is not a valid GitHub variable/secret name")
    if not re.match(REGION_PATTERN, ctx.region):
        _fail("region", f"{ctx.region!r} is not an AWS region name")
    for label, path in (("service_file", ctx.service_file), ("working_directory", ctx.working_directory)):
        _check_relative(label, path)
    for label in ("install_commands", "test_commands"):
        for i, line in enumerate(getattr(ctx, label)):
            if not line.strip() or "\n" in line or "${{" in line:
                _fail(f"{label}[{i}]", "one non-empty shell line per entry, without ${{ }} expressions")
    if ctx.max_comment_chars < 1_000 or ctx.max_comment_chars > 64_000:
        _fail("max_comment_chars", "must be between 1000 and 64000 (GitHub caps comments at 65536)")
    seen: set[str] = set()
    for i, fn in enumerate(ctx.functions):
        where = f"functions[{i}]"
        if fn.name in seen:
            _fail(f"{where}.name", f"duplicate function {fn.name!r}")
        seen.add(fn.name)
        if fn.package not in ("image", "zip"):
            _fail(f"{where}.package", f"must be 'image' or 'zip', got {fn.package!r}")
        if fn.url_auth not in (None, "AWS_IAM", "NONE"):
            _fail(f"{where}.url_auth", f"must be 'AWS_IAM', 'NONE' or None, got {fn.url_auth!r}")
        _check_relative(f"{where}.source_dir", fn.source_dir)
        if fn.platform not in ("linux/amd64", "linux/arm64"):
            _fail(f"{where}.platform", f"must be 'linux/amd64' or 'linux/arm64', got {fn.platform!r}")
        if not fn.health_path.startswith("/"):
            _fail(f"{where}.health_path", "must start with '/'")
        if fn.package != "image":
            continue
        if not fn.dockerfile or not fn.build_context:
            _fail(where, f"image function {fn.name!r} needs dockerfile and build_context")
        _check_relative(f"{where}.dockerfile", fn.dockerfile)
        _check_relative(f"{where}.build_context", fn.build_context)
        if fn.kit_context is not None:
            _check_relative(f"{where}.kit_context", fn.kit_context)
        for env in ctx.environments:
            name = fn.function_names.get(env)
            if not name or not _FUNCTION_NAME.match(name):
                _fail(f"{where}.function_names.{env}", f"missing or invalid Lambda function name {name!r}")
            repo = fn.ecr_repositories.get(env)
            if not repo or not _ECR_NAME.match(repo):
                _fail(f"{where}.ecr_repositories.{env}", f"missing or invalid ECR repository name {repo!r}")
            if not ctx.stacks[env].registry:
                _fail(f"stacks.{env}.registry", "an image function needs the registry stack")


def _check_relative(label: str, path: str) -> None:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        _fail(label, f"{path!r} must be a relative POSIX path inside the repository")


def is_lambdaform_checkout(folder: Path) -> bool:
    """Whether ``folder`` is lambdaform's own repository (its workflows install it from source)."""
    pyproject = folder / "pyproject.toml"
    return (folder / "lambdaform" / "cli.py").is_file() and pyproject.is_file() and \
        'name = "lambdaform"' in pyproject.read_text(encoding="utf-8", errors="replace")


def _installation(loaded: LoadedService, workdir: Path, service_file: str) -> dict[str, object]:
    """How CI installs and calls lambdaform: from source in lambdaform's own checkout; elsewhere from the
    repository's pinned requirement, or ``ci.lambdaform_requirement`` when the service file gives one."""
    if is_lambdaform_checkout(workdir):
        return {"install_commands": SELF_INSTALL, "test_commands": SELF_TESTS, "tests_install": True, "cli": SELF_CLI}
    requirement = loaded.base.ci.lambdaform_requirement if loaded.base.ci else None
    install = f"python -m pip install {shlex.quote(requirement)}" if requirement else \
        f"python -m pip install -r {REQUIREMENT_FILE}"
    return {"install_commands": (install,), "test_commands": (user_test_command(service_file),),
            "tests_install": False, "cli": "lambdaform"}


def state_lines(project: str, bucket: str = "<a bucket you own>") -> str:
    """The ``state:`` section that gives a service remote state (what the refusal below asks for)."""
    return f"state:\n  backend: s3\n  bucket: {bucket}\n  key_prefix: {project}\n"


def require_remote_state(loaded: LoadedService) -> None:
    """Refuse a service whose state stays on the runner: every CI job starts from an empty workspace, so
    local state is gone after the job that wrote it (the next apply recreates what exists; destroy
    "succeeds" and leaves everything behind)."""
    local = [env for env, spec in loaded.environments.items() if spec.state.backend == "local"]
    if local:
        raise WorkflowContextError(
            f"state.backend: local state ({', '.join(local)}) does not survive a CI job (each starts from an "
            "empty workspace, so applies would recreate and destroys would leave resources behind); give the "
            f"service remote state first, then render the workflows again:\n\n"
            f"{state_lines(loaded.base.project)}")


def _stack_names(loaded: LoadedService, env: str) -> StackNames:
    owned = loaded.ci_stack(env)
    return replace(StackNames.conventional(loaded.base.project, env, with_registry=bool(loaded.base.image_functions)),
                   ci=owned.name if owned is not None and owned.owner == env else None)


def context_from_service(
    loaded: LoadedService,
    repo_root: Path,
    *,
    working_directory: str = ".",
    synth_out: str = "cdktf.out",
    **overrides: object,
) -> WorkflowContext:
    """The context for a validated service file living under ``repo_root``.

    Names follow the stacks (``<project>-<env>-<fn>`` functions and ECR repositories); an image function
    without its own ``dockerfile`` is built from the ``Dockerfile.lambda`` that synth renders into
    ``<synth_out>/docker/<fn>/``. ``overrides`` replace any other field (``install_commands``, ...).
    """
    from lambdaform.packaging import KIT_PACKAGE, uses_kit

    require_remote_state(loaded)
    base = loaded.base
    envs = list(loaded.environments)
    workdir = (Path(repo_root) / working_directory).resolve()
    try:
        service_file = loaded.path.resolve().relative_to(workdir).as_posix()
    except ValueError:
        raise WorkflowContextError(f"service_file: {loaded.path} is not inside {workdir}") from None
    service_dir = PurePosixPath(service_file).parent

    def rel(path: str) -> str:
        return os.path.normpath((service_dir / path).as_posix())

    functions = []
    for key, fn in base.functions.items():
        per_env = [loaded.environments[env].functions[key] for env in envs]
        auths = {spec.url.auth if spec.url else None for spec in per_env}
        if len(auths) > 1:
            raise WorkflowContextError(
                f"functions.{key}.url.auth: differs between environments ({sorted(map(str, auths))}); "
                "the health check needs one auth type"
            )
        image = fn.package == "image"
        dockerfile = kit_context = None
        if image:
            dockerfile = rel(fn.dockerfile) if fn.dockerfile else f"{synth_out}/docker/{key}/Dockerfile.lambda"
            if not fn.dockerfile and uses_kit(loaded.resolve(fn.source), fn.exclude):
                kit_context = f"{synth_out}/docker/{key}/{KIT_PACKAGE}"
        functions.append(
            WorkflowFunction(
                name=key,
                package=fn.package,
                function_names={env: names.physical(base.project, env, key) for env in envs},
                source_dir=rel(fn.source),
                ecr_repositories=(
                    {env: names.physical(base.project, env, key) for env in envs} if image else {}
                ),
                dockerfile=dockerfile,
                build_context=rel(fn.source) if image else None,
                kit_context=kit_context,
                url_auth=auths.pop(),
                push_latest=all(loaded.environments[env].registry.image_tag_mutability == "MUTABLE" for env in envs),
                platform="linux/arm64" if fn.architecture == "arm64" else "linux/amd64",
            )
        )
    fields: dict[str, object] = {
        "project": base.project,
        "region": base.region,
        "environments": envs,
        "stacks": {env: _stack_names(loaded, env) for env in envs},
        "service_file": service_file,
        "functions": functions,
        "ci_mode": base.ci.mode if base.ci else "github-oidc",
        "default_branch": base.ci.branches[0] if base.ci and base.ci.branches else "main",
        "working_directory": working_directory,
        **_installation(loaded, workdir, service_file),
        "synth_out": synth_out,
        "source_label": Path(service_file).name,
    }
    fields.update(overrides)
    return WorkflowContext(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- rendering


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def _aws_auth(ctx: WorkflowContext, role_var: str) -> dict[str, str]:
    """The ``with:`` of configure-aws-credentials for one kind of job."""
    if ctx.ci_mode == "github-oidc":
        return {
            "aws-region": _q(ctx.region),
            "role-to-assume": "${{ vars.%s }}" % role_var,
        }
    return {
        "aws-region": _q(ctx.region),
        "aws-access-key-id": "${{ secrets.%s }}" % ctx.access_key_id_secret,
        "aws-secret-access-key": "${{ secrets.%s }}" % ctx.secret_access_key_secret,
    }


_PERMISSION_REASONS = {
    "contents": "check out the repository",
    "id-token": "request the OIDC token that configure-aws-credentials exchanges for the role",
    "pull-requests": "create or update the plan comment on the pull request",
}


def _job_permissions(ctx: WorkflowContext, *, aws: bool) -> list[dict[str, str]]:
    """A job's ``permissions:`` as (scope, level, reason) rows; OIDC jobs alone get ``id-token: write``."""
    scopes = {"contents": "read"}
    if aws and ctx.ci_mode == "github-oidc":
        scopes["id-token"] = "write"
    return [{"scope": k, "level": v, "reason": _PERMISSION_REASONS[k]} for k, v in scopes.items()]


def _template_vars(ctx: WorkflowContext) -> dict[str, object]:
    envs = list(ctx.environments)
    branch_ref = f"refs/heads/{ctx.default_branch}"
    generated = {f.name for f in ctx.image_functions if PurePosixPath(f.dockerfile or "").is_relative_to(ctx.synth_out)}
    needs_synth_for_build = bool(generated)
    promotion = []
    for i, env in enumerate(envs):
        previous = envs[i - 1] if i else None
        promotion.append(
            {
                "name": env,
                "name_q": _q(env),
                "previous": previous,
                "stacks": ", ".join(s for s in (ctx.stacks[env].ci, ctx.stacks[env].registry, ctx.stacks[env].service) if s),
            }
        )
    image_functions = []
    for fn in ctx.image_functions:
        image_functions.append(
            {
                "name": fn.name,
                "tag_var": names.image_tag_variable(fn.name),
                "dockerfile_q": _q(fn.dockerfile or ""),
                "build_context_q": _q(fn.build_context or ""),
                "kit_context_q": _q(fn.kit_context) if fn.kit_context else None,
                "health_path_q": _q(fn.health_path),
                "url_auth": fn.url_auth,
                "push_latest": fn.push_latest,
                "platform": fn.platform,
                "per_env": {
                    env: {
                        "function_name_q": _q(fn.function_names[env]),
                        "image_q": _q("${{ steps.ecr.outputs.registry }}/" + fn.ecr_repositories[env]),
                    }
                    for env in envs
                },
            }
        )
    return {
        "actions": ACTIONS,
        "waits_for_image": WAITS_FOR_IMAGE,
        "source_label": ctx.source_label,
        "environments": promotion,
        "environments_inline": "[" + ", ".join(envs) + "]",
        "environments_json_expr": "'" + json.dumps(envs, separators=(",", ":")) + "'",
        "first_environment": envs[0],
        "branch_ref": branch_ref,
        "default_branch": ctx.default_branch,
        "runs_on": ctx.runs_on,
        "region_q": _q(ctx.region),
        "service_file_q": _q(ctx.service_file),
        "synth_out_q": _q(ctx.synth_out),
        "working_directory_q": _q(ctx.working_directory),
        "python_version_q": _q(ctx.python_version),
        "node_version_q": _q(ctx.node_version),
        "terraform_version_q": _q(ctx.terraform_version),
        "install_commands": list(ctx.install_commands),
        "cli": ctx.cli,
        "version": __version__,
        "test_commands": list(ctx.test_commands),
        "tests_install": ctx.tests_install,
        "max_comment_chars_q": _q(str(ctx.max_comment_chars)),
        "marker_q": _q(PLAN_COMMENT_MARKER.format(environment="${{ matrix.environment }}")),
        "aws_permissions": _job_permissions(ctx, aws=True),
        "read_permissions": _job_permissions(ctx, aws=False),
        "comment_permissions": [
            {"scope": "pull-requests", "level": "write", "reason": _PERMISSION_REASONS["pull-requests"]}
        ],
        "plan_auth": _aws_auth(ctx, ctx.plan_role_var),
        "apply_auth": _aws_auth(ctx, ctx.apply_role_var),
        "deploy_auth": _aws_auth(ctx, ctx.deploy_role_var),
        "image_functions": image_functions,
        "needs_synth_for_build": needs_synth_for_build,
    }


def render_workflows(ctx: WorkflowContext) -> dict[str, str]:
    """The workflow files for ``ctx``: repository-relative path -> YAML text.

    ``terraform.yml`` always; ``build-deploy-lambda.yml`` only when a function is a container image.
    """
    variables = _template_vars(ctx)
    files = {TERRAFORM_WORKFLOW: render("workflows/terraform.yml.j2", "workflow", **variables)}
    if ctx.image_functions:
        files[BUILD_DEPLOY_WORKFLOW] = render("workflows/build-deploy-lambda.yml.j2", "workflow", **variables)
    return files


def write_workflows(ctx: WorkflowContext, repo_root: Path) -> list[Path]:
    """Render and write the workflows under ``repo_root``; returns the written paths."""
    written = []
    for relative, text in render_workflows(ctx).items():
        path = repo_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
