"""An API Gateway WebSocket API whose routes invoke Lambda functions, with one stage and its logs.

Resources, in dependency order:

* the API (``protocol_type = "WEBSOCKET"``);
* one ``AWS_PROXY`` integration per function and one route per route key (``$connect``,
  ``$disconnect``, custom actions such as ``sensor-data``, optionally ``$default``);
* one ``aws_lambda_permission`` per function, letting this API (``source_arn = <execution ARN>/*``)
  and no other invoke it;
* the access log group and, when execution logging is on, the execution log group API Gateway would
  otherwise create itself without a retention (``API-Gateway-Execution-Logs_<api id>/<stage>``);
* optionally the account's API Gateway CloudWatch role (see ``create_account_logging_role``);
* the stage: auto-deployed, JSON access logs, default route throttling.

WebSocket stages can log only once the account's API Gateway settings name a CloudWatch Logs role
(``aws apigateway get-account`` shows ``cloudwatchRoleArn``); AWS answers "CloudWatch Logs role ARN
must be set in account settings to enable logging" otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import Fn
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.apigatewayv2_api import Apigatewayv2Api
from cdktf_cdktf_provider_aws.apigatewayv2_integration import Apigatewayv2Integration
from cdktf_cdktf_provider_aws.apigatewayv2_route import Apigatewayv2Route
from cdktf_cdktf_provider_aws.apigatewayv2_stage import (
    Apigatewayv2Stage,
    Apigatewayv2StageAccessLogSettings,
    Apigatewayv2StageDefaultRouteSettings,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from lambdaform.constructs._api_gateway import access_log_format
from lambdaform.constructs._iam import assume_role_policy, named, tf_name
from lambdaform.constructs.log_group import LogGroup, LogGroupProps

SPECIAL_ROUTES = ("$connect", "$disconnect", "$default")
ROUTE_KEY = re.compile(r"^(\$connect|\$disconnect|\$default|[A-Za-z0-9][A-Za-z0-9_.:-]{0,127})$")
"""What a route key may be: one of the three special routes, or an action name such as ``sensor-data``."""
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
LOGGING_LEVELS = ("OFF", "ERROR", "INFO")
PUSH_TO_CLOUDWATCH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"

ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "connectionId": "$context.connectionId",
    "messageId": "$context.messageId",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "error": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
    "integrationLatencyMs": "$context.integrationLatency",
}
"""WebSocket ``$context`` variables written to the access log, one JSON object per line."""


@dataclass(frozen=True)
class LambdaTarget:
    """A function a route invokes."""

    key: str
    """Short name used in Terraform logical ids (e.g. the service file's function key)."""
    function_name: str
    invoke_arn: str
    """The function's ``invoke_arn`` (``arn:aws:apigateway:<region>:lambda:path/.../invocations``)."""


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    """``$connect``, ``$disconnect``, ``$default`` or an action name matched by the route selection
    expression (``{"action": "sensor-data", ...}`` selects ``sensor-data``)."""
    target: LambdaTarget


@dataclass(frozen=True)
class WebSocketApiProps:
    name: str
    """API name; also names the log groups and the account logging role."""
    routes: tuple[WebSocketRoute, ...]
    """At least one route; route keys unique."""
    stage_name: str
    """The one stage, e.g. the environment name; part of every URL."""
    description: str = ""
    route_selection_expression: str = "$request.body.action"
    """Which part of an incoming message picks its route: the ``action`` field of a JSON body by default."""
    connect_authorization: str = "AWS_IAM"
    """Who may open a connection (checked on ``$connect`` only, as API Gateway does): ``AWS_IAM`` (default)
    admits SigV4-signed callers with ``execute-api:Invoke`` on the API; ``NONE`` admits anyone and must be
    asked for."""
    access_log_retention_days: int = 14
    """Retention of the access log group and the execution log group (14 days by default)."""
    execution_logging_level: str = "ERROR"
    """Execution logging of every route: ``ERROR`` (default), ``INFO`` or ``OFF``. Message bodies are never
    logged (data tracing stays off)."""
    throttling_burst_limit: int = 200
    """Default route throttling: requests allowed in a burst (200 unless set), across all connections."""
    throttling_rate_limit: float = 100.0
    """Default route throttling: steady requests per second (100 unless set), across all connections."""
    log_kms_key_arn: str | None = None
    """Encrypt both log groups with this KMS key (its policy must let CloudWatch Logs use it for them);
    CloudWatch Logs' own encryption when unset."""
    create_account_logging_role: bool = False
    """Create an IAM role for API Gateway to write logs (AWS's AmazonAPIGatewayPushToCloudWatchLogs policy)
    and set it in the account's API Gateway settings (``aws_api_gateway_account``, one per account and
    region). Off by default: the setting is account-wide, so exactly one stack per account and region should
    own it, and accounts that ever enabled API Gateway logging already have it. Destroying the stack resets
    the setting (``reset_on_delete``, deprecated in provider 5.x only because 6.x always does it) rather than
    leave it naming the deleted role."""


class WebSocketApi(Construct):
    """Attributes: ``api_id``, ``api_endpoint``, ``execution_arn``, ``stage_name``, ``stage_invoke_url``
    (``wss://`` URL clients connect to), ``callback_url`` (``https://`` URL of the ``@connections``
    management API that backends post replies to), ``connections_arn`` (what
    ``execute-api:ManageConnections`` must be granted on to post to this stage's connections),
    ``access_log_group_name``."""

    def __init__(self, scope: Construct, id: str, props: WebSocketApiProps):
        super().__init__(scope, id)
        _check(props)
        self.api = named(
            Apigatewayv2Api(
                self,
                "api",
                name=props.name,
                description=props.description or None,
                protocol_type="WEBSOCKET",
                route_selection_expression=props.route_selection_expression,
            ),
            id,
        )
        self.api_id: str = self.api.id
        self.api_endpoint: str = self.api.api_endpoint
        self.execution_arn: str = self.api.execution_arn

        targets = {route.target.key: route.target for route in props.routes}
        self.integrations: dict[str, Apigatewayv2Integration] = {}
        self.permissions: dict[str, LambdaPermission] = {}
        for key, target in targets.items():
            self.integrations[key] = named(
                Apigatewayv2Integration(
                    self,
                    f"integration-{key}",
                    api_id=self.api.id,
                    description=f"Invoke {target.function_name}",
                    integration_type="AWS_PROXY",
                    integration_method="POST",
                    integration_uri=target.invoke_arn,
                ),
                id, key, "integration",
            )
            self.permissions[key] = named(
                LambdaPermission(
                    self,
                    f"permission-{key}",
                    statement_id="AllowWebSocketApiInvoke",
                    action="lambda:InvokeFunction",
                    function_name=target.function_name,
                    principal="apigateway.amazonaws.com",
                    source_arn=f"{self.api.execution_arn}/*",
                ),
                id, key, "permission",
            )
        self.routes: dict[str, Apigatewayv2Route] = {}
        for route in props.routes:
            self.routes[route.route_key] = named(
                Apigatewayv2Route(
                    self,
                    f"route-{route_id(route.route_key)}",
                    api_id=self.api.id,
                    route_key=route.route_key,
                    target=f"integrations/{self.integrations[route.target.key].id}",
                    authorization_type=props.connect_authorization if route.route_key == "$connect" else "NONE",
                ),
                id, "route", route_id(route.route_key),
            )

        self.access_log_group = LogGroup(self, f"{id}_access_log_group", LogGroupProps(
            name=f"/aws/apigateway/{props.name}/{props.stage_name}/access",
            retention_days=props.access_log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        ))
        depends_on: list = [self.access_log_group.resource, *self.routes.values()]
        if props.execution_logging_level != "OFF":
            execution_logs = LogGroup(self, f"{id}_execution_log_group", LogGroupProps(
                name=f"API-Gateway-Execution-Logs_{self.api.id}/{props.stage_name}",
                retention_days=props.access_log_retention_days,
                kms_key_arn=props.log_kms_key_arn,
            ))
            depends_on.append(execution_logs.resource)
        if props.create_account_logging_role:
            depends_on.append(self._account_logging_role(id, props))

        self.stage = named(
            Apigatewayv2Stage(
                self,
                "stage",
                api_id=self.api.id,
                name=props.stage_name,
                auto_deploy=True,
                access_log_settings=Apigatewayv2StageAccessLogSettings(
                    destination_arn=self.access_log_group.arn,
                    format=access_log_format(ACCESS_LOG_FIELDS),
                ),
                default_route_settings=Apigatewayv2StageDefaultRouteSettings(
                    throttling_burst_limit=props.throttling_burst_limit,
                    throttling_rate_limit=props.throttling_rate_limit,
                    logging_level=props.execution_logging_level,
                    data_trace_enabled=False,
                    detailed_metrics_enabled=False,
                ),
                depends_on=depends_on,
            ),
            id, "stage",
        )
        self.stage_name: str = self.stage.name
        self.stage_invoke_url: str = self.stage.invoke_url
        self.callback_url: str = (
            f"{Fn.replace(self.api.api_endpoint, 'wss://', 'https://')}/{self.stage.name}"
        )
        self.connections_arn: str = f"{self.api.execution_arn}/{self.stage.name}/POST/@connections/*"
        self.access_log_group_name: str = self.access_log_group.name

    def _account_logging_role(self, id: str, props: WebSocketApiProps) -> ApiGatewayAccount:
        role = named(
            IamRole(self, "cloudwatch-role", name=f"{props.name}-apigw-logs"[:64],
                    assume_role_policy=assume_role_policy("apigateway.amazonaws.com")),
            id, "cloudwatch_role",
        )
        attachment = named(
            IamRolePolicyAttachment(self, "cloudwatch-role-policy", role=role.name,
                                    policy_arn=PUSH_TO_CLOUDWATCH_POLICY),
            id, "cloudwatch_role_policy",
        )
        return named(
            ApiGatewayAccount(self, "account", cloudwatch_role_arn=role.arn, reset_on_delete=True,
                              depends_on=[attachment]),
            id, "account",
        )


def route_id(route_key: str) -> str:
    """Terraform-friendly name of a route: ``$connect`` -> ``connect``, ``sensor-data`` -> ``action_sensor_data``."""
    if route_key in SPECIAL_ROUTES:
        return route_key[1:]
    return tf_name("action", route_key)


def _check(props: WebSocketApiProps) -> None:
    if not props.routes:
        raise ValueError("a WebSocket API needs at least one route")
    keys = [route.route_key for route in props.routes]
    for key in keys:
        if not ROUTE_KEY.match(key):
            raise ValueError(f"route key {key!r} is not $connect, $disconnect, $default or an action name "
                             "(letters, digits, '_', '.', ':', '-'; 128 characters at most)")
    if len(set(keys)) != len(keys):
        raise ValueError(f"route keys must be unique: {keys}")
    ids = [route_id(key) for key in keys]
    if len(set(ids)) != len(ids):
        raise ValueError(f"route keys {keys} collide once made Terraform names ({ids})")
    targets: dict[str, LambdaTarget] = {}
    for route in props.routes:
        if targets.setdefault(route.target.key, route.target) != route.target:
            raise ValueError(f"two different functions share the target key {route.target.key!r}")
    if not STAGE_NAME.match(props.stage_name):
        raise ValueError(f"stage name {props.stage_name!r} must be 1-128 letters, digits, '_' or '-'")
    if not props.route_selection_expression.startswith("$request.") or "{" in props.route_selection_expression:
        raise ValueError("route_selection_expression must look like $request.body.action")
    if props.connect_authorization not in ("AWS_IAM", "NONE"):
        raise ValueError(f"connect_authorization must be AWS_IAM or NONE, not {props.connect_authorization!r}")
    if props.execution_logging_level not in LOGGING_LEVELS:
        raise ValueError(f"execution_logging_level must be one of {', '.join(LOGGING_LEVELS)}")
    if props.throttling_burst_limit < 0 or props.throttling_rate_limit < 0:
        raise ValueError("throttling limits cannot be negative")
