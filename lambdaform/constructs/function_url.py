"""A Function URL: an HTTPS endpoint for one function, IAM-authenticated unless made public explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.lambda_function_url import LambdaFunctionUrl, LambdaFunctionUrlCors
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class CorsProps:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ("GET", "POST")
    allow_headers: tuple[str, ...] = ("content-type",)
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_seconds: int = 300


@dataclass(frozen=True)
class FunctionUrlProps:
    function_name: str
    qualifier: str | None = None
    """The alias the URL invokes; ``None`` (default): the unqualified function (``$LATEST``)."""
    auth: str = "AWS_IAM"
    """``AWS_IAM`` (default): only SigV4-signed callers with ``lambda:InvokeFunctionUrl``. ``NONE``: public;
    the AWS provider itself adds the ``FunctionURLAllowPublicAccess`` resource policy statement (a second,
    explicit ``aws_lambda_permission`` would collide with it)."""
    cors: CorsProps | None = None
    """No CORS headers unless given."""
    invoke_mode: str = "BUFFERED"


class FunctionUrl(Construct):
    """Attribute: ``url`` (ends with ``/``)."""

    def __init__(self, scope: Construct, id: str, props: FunctionUrlProps):
        super().__init__(scope, id)
        if props.auth not in ("AWS_IAM", "NONE"):
            raise ValueError(f"auth must be AWS_IAM or NONE, not {props.auth!r}")
        cors = props.cors
        self.resource = named(
            LambdaFunctionUrl(
                self,
                "url",
                function_name=props.function_name,
                qualifier=props.qualifier,
                authorization_type=props.auth,
                invoke_mode=props.invoke_mode,
                cors=LambdaFunctionUrlCors(
                    allow_origins=list(cors.allow_origins),
                    allow_methods=list(cors.allow_methods),
                    allow_headers=list(cors.allow_headers),
                    expose_headers=list(cors.expose_headers),
                    allow_credentials=cors.allow_credentials,
                    max_age=cors.max_age_seconds,
                )
                if cors
                else None,
            ),
            id,
        )
        self.url: str = self.resource.function_url
