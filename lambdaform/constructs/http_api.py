"""An API Gateway v2 HTTP API whose routes invoke Lambda functions, with its ``$default`` stage and logs.

Resources, in dependency order:

* the API (``protocol_type = "HTTP"``), with CORS when asked for;
* one JWT authorizer per distinct (issuer, audiences) the routes use;
* one ``AWS_PROXY`` integration per function (payload format 2.0, ``integration_uri`` = the ARN the
  function is invoked by) and one route per route key (``GET /orders/{id}``, ``$default``...), each with
  its own authorization (``AWS_IAM`` unless a route says otherwise);
* one ``aws_lambda_permission`` per route, letting this API invoke the function from that route only
  (``source_arn = <execution ARN>/*/<METHOD>/<path with parameters as *>``, given by the caller);
* the access log group, encrypted with the given key;
* the ``$default`` stage: auto-deployed, JSON access logs, default route throttling.

HTTP APIs have no execution logs (only WebSocket and REST APIs do), so no account logging role is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.apigatewayv2_api import Apigatewayv2Api, Apigatewayv2ApiCorsConfiguration
from cdktf_cdktf_provider_aws.apigatewayv2_authorizer import (
    Apigatewayv2Authorizer,
    Apigatewayv2AuthorizerJwtConfiguration,
)
from cdktf_cdktf_provider_aws.apigatewayv2_integration import Apigatewayv2Integration
from cdktf_cdktf_provider_aws.apigatewayv2_route import Apigatewayv2Route
from cdktf_cdktf_provider_aws.apigatewayv2_stage import (
    Apigatewayv2Stage,
    Apigatewayv2StageAccessLogSettings,
    Apigatewayv2StageDefaultRouteSettings,
)
from constructs import Construct

from lambdaform.constructs._api_gateway import access_log_format
from lambdaform.constructs._iam import named
from lambdaform.constructs.invoke_permission import InvokePermission, InvokePermissionProps
from lambdaform.constructs.log_group import LogGroup, LogGroupProps

AUTHORIZATIONS = ("NONE", "AWS_IAM", "JWT")
JWT_IDENTITY_SOURCE = "$request.header.Authorization"
"""Where the JWT authorizer reads the token: the ``Authorization`` header (``Bearer <token>``)."""

ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatencyMs": "$context.responseLatency",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "error": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integrationErrorMessage",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatencyMs": "$context.integrationLatency",
}
"""HTTP API ``$context`` variables written to the access log, one JSON object per request (no headers,
query strings or bodies: tokens never reach the log)."""


@dataclass(frozen=True)
class HttpTarget:
    """A function routes invoke."""

    key: str
    """Short name used in Terraform logical ids (the service file's function key)."""
    function_name: str
    invoke_arn: str
    """What the integration invokes: the function's (or its alias's) ARN."""
    qualifier: str | None = None
    """The alias or version the permission applies to (``None``: the unqualified function)."""


@dataclass(frozen=True)
class JwtAuthorizer:
    """A JWT authorizer: tokens from ``issuer`` whose ``aud`` (or ``client_id``) is one of ``audiences``."""

    key: str
    """Short name used in the Terraform logical id."""
    name: str
    """The authorizer's name in the API (unique within it)."""
    issuer: str
    """The ``iss`` the token must carry; its ``/.well-known/openid-configuration`` names the signing keys."""
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class HttpRoute:
    route_key: str
    """``METHOD /path`` (``GET /orders/{id}``, ``ANY /files/{proxy+}``) or ``$default``."""
    key: str
    """Short name used in Terraform logical ids, unique within the API."""
    target: str
    """The :class:`HttpTarget` key."""
    source_path: str
    """What follows the API's execution ARN in the permission's ``source_arn``: ``/*/GET/orders/*``."""
    authorization: str = "AWS_IAM"
    """``AWS_IAM`` (default: SigV4-signed callers with ``execute-api:Invoke``), ``JWT`` (with ``authorizer``)
    or ``NONE`` (anyone; must be asked for)."""
    authorizer: str | None = None
    """The :class:`JwtAuthorizer` key, for ``JWT`` routes."""
    scopes: tuple[str, ...] = ()
    """Scopes a JWT route requires (any one of them); none by default."""


@dataclass(frozen=True)
class HttpCors:
    """CORS answered by API Gateway itself (preflight included); nothing is allowed unless listed."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ("GET", "POST")
    allow_headers: tuple[str, ...] = ("authorization", "content-type")
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_seconds: int = 300


@dataclass(frozen=True)
class HttpApiProps:
    name: str
    """API name; also names the access log group."""
    targets: tuple[HttpTarget, ...]
    routes: tuple[HttpRoute, ...]
    """At least one route; route keys and keys unique."""
    authorizers: tuple[JwtAuthorizer, ...] = ()
    description: str = ""
    cors: HttpCors | None = None
    """No CORS configuration (browsers on other origins are refused) unless given."""
    throttling_burst_limit: int = 200
    """Default route throttling: requests allowed in a burst (200 unless set), across all clients."""
    throttling_rate_limit: float = 100.0
    """Default route throttling: steady requests per second (100 unless set), across all clients."""
    access_log_retention_days: int = 14
    """Retention of the access log group (14 days by default)."""
    log_kms_key_arn: str | None = None
    """Encrypt the access log group with this KMS key (its policy must let CloudWatch Logs use it);
    CloudWatch Logs' own encryption when unset."""


class HttpApi(Construct):
    """Attributes: ``api_id``, ``api_endpoint`` (the invoke URL of the ``$default`` stage, no trailing
    slash), ``execution_arn``, ``access_log_group_name``, and the ``routes``, ``integrations``,
    ``authorizers`` and ``permissions`` resources by key."""

    def __init__(self, scope: Construct, id: str, props: HttpApiProps):
        super().__init__(scope, id)
        _check(props)
        cors = props.cors
        self.api = named(Apigatewayv2Api(
            self, "api",
            name=props.name,
            description=props.description or None,
            protocol_type="HTTP",
            cors_configuration=Apigatewayv2ApiCorsConfiguration(
                allow_origins=list(cors.allow_origins),
                allow_methods=list(cors.allow_methods),
                allow_headers=list(cors.allow_headers) or None,
                expose_headers=list(cors.expose_headers) or None,
                allow_credentials=cors.allow_credentials,
                max_age=cors.max_age_seconds,
            ) if cors is not None else None,
        ), id)
        self.api_id: str = self.api.id
        self.api_endpoint: str = self.api.api_endpoint
        self.execution_arn: str = self.api.execution_arn

        self.authorizers: dict[str, Apigatewayv2Authorizer] = {}
        for authorizer in props.authorizers:
            self.authorizers[authorizer.key] = named(Apigatewayv2Authorizer(
                self, f"authorizer-{authorizer.key}",
                api_id=self.api.id,
                name=authorizer.name,
                authorizer_type="JWT",
                identity_sources=[JWT_IDENTITY_SOURCE],
                jwt_configuration=Apigatewayv2AuthorizerJwtConfiguration(
                    issuer=authorizer.issuer, audience=list(authorizer.audiences)),
            ), id, "authorizer", authorizer.key)

        targets = {target.key: target for target in props.targets}
        self.integrations: dict[str, Apigatewayv2Integration] = {}
        for key, target in targets.items():
            self.integrations[key] = named(Apigatewayv2Integration(
                self, f"integration-{key}",
                api_id=self.api.id,
                description=f"Invoke {target.function_name}",
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=target.invoke_arn,
                payload_format_version="2.0",
            ), id, key, "integration")

        self.routes: dict[str, Apigatewayv2Route] = {}
        self.permissions: dict[str, InvokePermission] = {}
        for route in props.routes:
            target = targets[route.target]
            self.routes[route.key] = named(Apigatewayv2Route(
                self, f"route-{route.key}",
                api_id=self.api.id,
                route_key=route.route_key,
                target=f"integrations/{self.integrations[route.target].id}",
                authorization_type=route.authorization,
                authorizer_id=self.authorizers[route.authorizer].id if route.authorizer else None,
                authorization_scopes=list(route.scopes) or None,
            ), id, "route", route.key)
            self.permissions[route.key] = InvokePermission(
                self, f"{id}_{route.key}_permission", InvokePermissionProps(
                    function_name=target.function_name,
                    principal="apigateway.amazonaws.com",
                    source_arn=f"{self.api.execution_arn}{route.source_path}",
                    qualifier=target.qualifier,
                    statement_id=f"AllowHttpApi-{route.key}"[:100],
                ))

        self.access_log_group = LogGroup(self, f"{id}_access_log_group", LogGroupProps(
            name=f"/aws/apigateway/{props.name}/access",
            retention_days=props.access_log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        ))
        self.stage = named(Apigatewayv2Stage(
            self, "stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=Apigatewayv2StageAccessLogSettings(
                destination_arn=self.access_log_group.arn,
                format=access_log_format(ACCESS_LOG_FIELDS),
            ),
            default_route_settings=Apigatewayv2StageDefaultRouteSettings(
                throttling_burst_limit=props.throttling_burst_limit,
                throttling_rate_limit=props.throttling_rate_limit,
                detailed_metrics_enabled=False,
            ),
            depends_on=[self.access_log_group.resource, *self.routes.values()],
        ), id, "stage")
        self.access_log_group_name: str = self.access_log_group.name


def _check(props: HttpApiProps) -> None:
    if not props.routes:
        raise ValueError("an HTTP API needs at least one route")
    for field in ("route_key", "key"):
        values = [getattr(route, field) for route in props.routes]
        if len(set(values)) != len(values):
            raise ValueError(f"route {field}s must be unique: {values}")
    targets = {target.key for target in props.targets}
    authorizers = {authorizer.key for authorizer in props.authorizers}
    for route in props.routes:
        if route.target not in targets:
            raise ValueError(f"route {route.route_key!r} targets unknown function {route.target!r}")
        if route.authorization not in AUTHORIZATIONS:
            raise ValueError(f"route {route.route_key!r}: authorization must be one of {', '.join(AUTHORIZATIONS)}")
        if (route.authorization == "JWT") != (route.authorizer is not None):
            raise ValueError(f"route {route.route_key!r}: a JWT route needs an authorizer, and only a JWT route")
        if route.authorizer is not None and route.authorizer not in authorizers:
            raise ValueError(f"route {route.route_key!r} names unknown authorizer {route.authorizer!r}")
        if route.scopes and route.authorization != "JWT":
            raise ValueError(f"route {route.route_key!r}: scopes apply to JWT routes only")
        if not route.source_path.startswith("/"):
            raise ValueError(f"route {route.route_key!r}: source_path must start with '/'")
    for authorizer in props.authorizers:
        if not authorizer.issuer.startswith("https://") or not authorizer.audiences:
            raise ValueError(f"authorizer {authorizer.key!r} needs an https issuer and at least one audience")
    if props.cors is not None and props.cors.allow_credentials and "*" in props.cors.allow_origins:
        raise ValueError("CORS cannot allow credentials for every origin ('*')")
    if props.throttling_burst_limit < 0 or props.throttling_rate_limit < 0:
        raise ValueError("throttling limits cannot be negative")
