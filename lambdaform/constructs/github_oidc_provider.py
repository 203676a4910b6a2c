"""The account's GitHub Actions OIDC identity provider: what CI roles name as their federated principal.

An AWS account holds one provider per URL, so lambdaform creates it once per account (in the ``<project>-ci``
stack of the account's first environment) and every environment's CI roles name it by its ARN, which is
fixed by the account and the URL (:func:`provider_arn`): no lookup, so a plan in an account that does not
have the provider yet (a pull request before the first apply) still works.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from constructs import Construct

from lambdaform.constructs._iam import named

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
GITHUB_THUMBPRINTS = ("6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd")


def provider_arn(partition: str, account_id: str) -> str:
    """The ARN IAM gives the account's GitHub provider (``arn:aws:iam::<account>:oidc-provider/<host>``)."""
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


@dataclass(frozen=True)
class GithubOidcProviderProps:
    client_ids: tuple[str, ...] = ("sts.amazonaws.com",)
    """Audiences accepted: ``sts.amazonaws.com``, what aws-actions/configure-aws-credentials requests."""
    thumbprints: tuple[str, ...] = GITHUB_THUMBPRINTS
    """GitHub's certificate thumbprints (AWS no longer checks them for this host, but the API requires one)."""


class GithubOidcProvider(Construct):
    """``aws_iam_openid_connect_provider.<id>`` for token.actions.githubusercontent.com. Attribute: ``arn``."""

    def __init__(self, scope: Construct, id: str, props: GithubOidcProviderProps | None = None):
        super().__init__(scope, id)
        props = props or GithubOidcProviderProps()
        provider = named(IamOpenidConnectProvider(self, "provider", url=GITHUB_OIDC_URL,
                                                  client_id_list=list(props.client_ids),
                                                  thumbprint_list=list(props.thumbprints)), id)
        self.arn: str = provider.arn
