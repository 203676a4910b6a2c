"""Who CI runs as: GitHub OIDC roles (default) or an IAM user with an access key (seed parity).

GitHub's OIDC token names the workflow's repository in its ``sub`` claim in one of two forms, and the
trust policy accepts both for the configured branches and GitHub environments:

* classic: ``repo:OWNER/REPO:ref:refs/heads/main`` / ``repo:OWNER/REPO:environment:prod``
* immutable (default for repositories created or renamed since 2026-07-15; opt-in for older ones):
  ``repo:OWNER@OWNER_ID/REPO@REPO_ID:ref:refs/heads/main`` - the numeric ids survive renames, so a
  recycled owner or repository name cannot assume the role. Emitted when both ids are given.

Roles (github-oidc):
* ``deploy``: push images to the service's ECR repositories and update its functions' code (the
  build-deploy workflow).
* ``plan`` (optional): read-only, trusted for pull requests (``repo:OWNER/REPO:pull_request``).
* ``apply`` (optional): trusted only for the deploy branches / environments; manages the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_iam_openid_connect_provider import DataAwsIamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_access_key import IamAccessKey
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.iam_user import IamUser
from cdktf_cdktf_provider_aws.iam_user_policy import IamUserPolicy
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement
from lambdaform.constructs.github_oidc_provider import GITHUB_OIDC_HOST, GITHUB_OIDC_URL, GithubOidcProvider


@dataclass(frozen=True)
class CiIdentityProps:
    name_prefix: str
    """Prefix for role/user names, e.g. ``nl2sql-agent-dev``."""
    mode: str = "github-oidc"
    """``github-oidc`` (default: short-lived credentials, nothing to leak) or ``iam-user`` (a static key)."""
    repository: str | None = None
    """``owner/name``; required for github-oidc."""
    branches: tuple[str, ...] = ("main",)
    github_environments: tuple[str, ...] = ()
    repository_owner_id: int | None = None
    repository_id: int | None = None
    create_oidc_provider: bool = True
    """Create the provider here (standalone use). An account holds one provider per URL: set False where
    another stack creates it (lambdaform's ``<project>-ci`` stack) or it exists already."""
    oidc_provider_arn: str | None = None
    """With ``create_oidc_provider`` False: the provider's ARN (``github_oidc_provider.provider_arn``), so
    nothing is looked up and a plan works before the provider exists; ``None`` looks it up by URL."""
    ecr_repository_arns: tuple[str, ...] = ()
    function_arns: tuple[str, ...] = ()
    terraform_roles: bool = False
    """Also create the ``plan`` (read-only, pull requests) and ``apply`` roles for the terraform workflow."""
    apply_policy_arns: tuple[str, ...] = ("arn:aws:iam::aws:policy/PowerUserAccess",)
    """Managed policies of the apply role; IAM rights are added separately, limited to ``name_prefix``."""


def github_subjects(props: CiIdentityProps, *, pull_requests: bool = False) -> list[str]:
    """The exact ``sub`` values trusted: classic form, plus the immutable form when ids are known."""
    assert props.repository is not None
    owner, repo = props.repository.split("/", 1)
    prefixes = [f"repo:{owner}/{repo}"]
    if props.repository_owner_id is not None and props.repository_id is not None:
        prefixes.append(f"repo:{owner}@{props.repository_owner_id}/{repo}@{props.repository_id}")
    if pull_requests:
        contexts = ["pull_request"]
    else:
        contexts = [f"ref:refs/heads/{b}" for b in props.branches] + [
            f"environment:{e}" for e in props.github_environments
        ]
    return [f"{prefix}:{context}" for prefix in prefixes for context in contexts]


def _push_and_update(props: CiIdentityProps) -> list[dict]:
    statements = []
    if props.ecr_repository_arns:
        statements += [
            # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
            statement(["ecr:GetAuthorizationToken"], "*", sid="EcrLogin"),
            statement(
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                 "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload",
                 "ecr:PutImage", "ecr:UploadLayerPart"],
                list(props.ecr_repository_arns), sid="EcrPush",
            ),
        ]
    if props.function_arns:
        statements.append(
            statement(
                ["lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionUrlConfig",
                 "lambda:UpdateFunctionCode", "lambda:InvokeFunction", "lambda:InvokeFunctionUrl"],
                list(props.function_arns), sid="UpdateFunctions",
            )
        )
    return statements


class CiIdentity(Construct):
    """Attributes: ``deploy_role_arn``/``plan_role_arn``/``apply_role_arn`` (github-oidc, else None) or
    ``access_key_id``/``secret_access_key`` (iam-user, else None)."""

    def __init__(self, scope: Construct, id: str, props: CiIdentityProps):
        super().__init__(scope, id)
        self.deploy_role_arn: str | None = None
        self.plan_role_arn: str | None = None
        self.apply_role_arn: str | None = None
        self.access_key_id: str | None = None
        self.secret_access_key: str | None = None
        if props.mode == "github-oidc":
            self._github(id, props)
        elif props.mode == "iam-user":
            self._user(id, props)
        else:
            raise ValueError(f"mode must be github-oidc or iam-user, not {props.mode!r}")

    def _github(self, id: str, props: CiIdentityProps) -> None:
        if not props.repository:
            raise ValueError("repository (owner/name) is required for github-oidc")
        if props.create_oidc_provider:
            provider_arn = GithubOidcProvider(self, f"{id}_github_oidc").arn
        elif props.oidc_provider_arn:
            provider_arn = props.oidc_provider_arn
        else:
            provider_arn = named(DataAwsIamOpenidConnectProvider(self, "oidc", url=GITHUB_OIDC_URL), id, "github_oidc").arn

        def role(suffix: str, subjects: list[str]) -> IamRole:
            trust = policy([
                statement(
                    ["sts:AssumeRoleWithWebIdentity"], [],
                    principal={"Federated": provider_arn},
                    conditions={"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                                                 f"{GITHUB_OIDC_HOST}:sub": subjects}},
                )
            ])
            return named(IamRole(self, f"{suffix}-role", name=f"{props.name_prefix}-ci-{suffix}"[:64],
                                 assume_role_policy=trust, max_session_duration=3600), id, suffix, "role")

        deploy = role("deploy", github_subjects(props))
        grants = _push_and_update(props)
        if grants:
            named(IamRolePolicy(self, "deploy-policy", name="deploy", role=deploy.id, policy=policy(grants)),
                  id, "deploy", "policy")
        self.deploy_role_arn = deploy.arn
        if props.terraform_roles:
            plan = role("plan", github_subjects(props, pull_requests=True))
            named(IamRolePolicyAttachment(self, "plan-readonly", role=plan.name,
                                          policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess"), id, "plan", "readonly")
            apply = role("apply", github_subjects(props))
            for index, arn in enumerate(props.apply_policy_arns):
                named(IamRolePolicyAttachment(self, f"apply-managed-{index}", role=apply.name, policy_arn=arn),
                      id, "apply", f"managed_{index}")
            iam_scope = [f"arn:aws:iam::*:{kind}/{props.name_prefix}-*" for kind in ("role", "policy", "user")]
            named(IamRolePolicy(self, "apply-iam", name="manage-own-iam", role=apply.id, policy=policy([
                statement(["iam:*"], iam_scope, sid="ManageOwnIam"),
                statement(["iam:*OpenIDConnectProvider*"], f"arn:aws:iam::*:oidc-provider/{GITHUB_OIDC_HOST}",
                          sid="ManageGithubOidc"),
            ])), id, "apply", "iam")
            self.plan_role_arn = plan.arn
            self.apply_role_arn = apply.arn

    def _user(self, id: str, props: CiIdentityProps) -> None:
        user = named(IamUser(self, "user", name=f"{props.name_prefix}-github-actions"[:64]), id, "user")
        grants = _push_and_update(props)
        if grants:
            named(IamUserPolicy(self, "user-policy", name="deploy", user=user.name, policy=policy(grants)),
                  id, "user", "policy")
        key = named(IamAccessKey(self, "key", user=user.name), id, "access_key")
        self.access_key_id = key.id
        self.secret_access_key = key.secret
