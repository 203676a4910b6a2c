"""The ``websocket:`` section: an API Gateway WebSocket API in front of the service's functions.

::

    websocket:
      routes:                       # route key -> function key
        $connect: connect
        $disconnect: disconnect
        sensor-data: message        # {"action": "sensor-data", ...}
      authorization: NONE           # AWS_IAM unless written
      callback_functions: [message] # may post to connections (default: every route function)
      bedrock_agent:                # optional: bedrock:InvokeAgent on this alias only
        agent_id: AGENTID123
        agent_alias_id: ALIASID123

What the section adds to the stack (see :mod:`lambdaform.constructs.websocket_api` for the API itself):

* ``execute-api:ManageConnections`` for each callback function, on this API's
  ``<execution arn>/<stage>/POST/@connections/*`` and nothing else;
* with ``bedrock_agent``: ``bedrock:InvokeAgent`` for each callback function on the alias ARN
  ``arn:<partition>:bedrock:<region>:<account>:agent-alias/<agent id>/<alias id>``; the account is the
  one Terraform deploys into (the stack's ``data.aws_caller_identity``, so the file names no account id),
  the region the service's unless given;
* the API's access and execution log groups encrypted with the environment's service key (unless
  ``encryption_key: aws-managed``);
* outputs ``websocket_url`` (``wss://``), ``websocket_callback_url`` (``https://``, the handlers'
  ``WEBSOCKET_ENDPOINT``) and ``websocket_api_id``.

Tables are declared with ``tables:`` and granted with each function's ``access:``, as everywhere else.
The handlers derive the callback URL from each event (``requestContext.domainName``/``stage``), so no
function's environment needs to refer to the API.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from lambdaform.errors import Problem
from lambdaform.fields import Name, Region, RetentionDays, Strict
from lambdaform.kinds.base import CheckContext, Composer, Kind
from lambdaform.literals import escape_literal
from lambdaform.names import physical

KEY = "websocket"

ROUTE_KEY = re.compile(r"^(\$connect|\$disconnect|\$default|[A-Za-z0-9][A-Za-z0-9_.:-]{0,127})$")
"""A route key: one of the special routes, or an action name such as ``sensor-data`` (the same rule as
:data:`lambdaform.constructs.websocket_api.ROUTE_KEY`, kept here so validating a file never loads the cdktf binding)."""
ROUTE_SELECTION = re.compile(r"^\$request\.body\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
REQUIRED_ROUTES = ("$connect", "$disconnect")
BEDROCK_ID = r"^[0-9A-Za-z]{1,10}$"


class BedrockAgent(Strict):
    """A Bedrock agent alias the callback functions may invoke (``bedrock:InvokeAgent`` on it only)."""

    agent_id: str = Field(pattern=BEDROCK_ID, description="The agent's id (10 letters or digits).")
    agent_alias_id: str = Field(pattern=BEDROCK_ID, description="The alias's id (10 letters or digits).")
    region: Region | None = Field(default=None, description="The agent's region; the service's region unless set.")


class WebSocketSection(Strict):
    """An API Gateway WebSocket API: routes to functions, one stage per environment with JSON access logs
    and throttling, connections opened only by SigV4-signed callers unless ``authorization: NONE``."""

    description: str = Field(default="", max_length=1024)
    route_selection_expression: str = Field(
        default="$request.body.action",
        description="Which field of a JSON message picks its route; the 'action' field by default.",
    )
    routes: dict[str, Name] = Field(
        description="Route key -> function key. $connect and $disconnect are required; add action names "
        "(e.g. sensor-data) and optionally $default for messages no other route matches."
    )
    stage: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$", description="Stage name; the environment name unless set."
    )
    authorization: Literal["AWS_IAM", "NONE"] = Field(
        default="AWS_IAM",
        description="Who may connect ($connect): AWS_IAM (SigV4-signed callers) by default; NONE lets anyone "
        "connect and must be explicit.",
    )
    access_log_retention_days: RetentionDays = Field(default=14, description="Retention of the stage's logs; 14 days.")
    execution_logging_level: Literal["OFF", "ERROR", "INFO"] = Field(
        default="ERROR", description="Execution logging of every route (message bodies are never logged)."
    )
    throttling_burst_limit: int = Field(
        default=200, ge=0, le=5000, description="Messages allowed in a burst, across all connections."
    )
    throttling_rate_limit: float = Field(
        default=100.0, ge=0, le=10000, description="Steady messages per second, across all connections."
    )
    callback_functions: list[Name] | None = Field(
        default=None,
        description="Functions allowed to post to connections (execute-api:ManageConnections on this API's "
        "@connections only). Default: every function a route invokes.",
    )
    bedrock_agent: BedrockAgent | None = None
    create_account_logging_role: bool = Field(
        default=False,
        description="Create the role API Gateway logs with and set it in the account's API Gateway settings. "
        "The setting is account-wide: turn this on in exactly one stack per account and region, and only if "
        "'aws apigateway get-account' shows no cloudwatchRoleArn.",
    )

    @field_validator("route_selection_expression")
    @classmethod
    def _selection(cls, value: str) -> str:
        if not ROUTE_SELECTION.match(value):
            raise ValueError(f"'{value}' must select a field of the JSON message, like $request.body.action")
        return value

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not ROUTE_KEY.match(key):
                raise ValueError(f"route key '{key}' must be $connect, $disconnect, $default or an action name "
                                 "(letters, digits, '_', '.', ':' and '-', starting with a letter or digit)")
        missing = [key for key in REQUIRED_ROUTES if key not in value]
        if missing:
            raise ValueError(f"must include {' and '.join(missing)} (declared: {', '.join(value) or 'none'})")
        return value

    @field_validator("callback_functions")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists a function twice")
        return value

    def route_functions(self) -> list[str]:
        """Function keys the routes invoke, each once, in route order."""
        return list(dict.fromkeys(self.routes.values()))

    def callback_function_keys(self) -> list[str]:
        return list(self.callback_functions) if self.callback_functions is not None else self.route_functions()


# --- checks ---------------------------------------------------------------------------------------


def cross_checks(service) -> list[Problem]:
    """Routes and callback functions name declared functions; the handlers' Bedrock settings agree with
    ``bedrock_agent``."""
    section: WebSocketSection = service.websocket
    declared = ", ".join(service.functions) or "none"
    problems: list[Problem] = []
    for route_key, key in section.routes.items():
        if key not in service.functions:
            problems.append(Problem(f"websocket.routes.{route_key}",
                                    f"function '{key}' is not declared under functions (declared: {declared})"))
    for index, key in enumerate(section.callback_functions or []):
        if key not in service.functions:
            problems.append(Problem(f"websocket.callback_functions.{index}",
                                    f"function '{key}' is not declared under functions (declared: {declared})"))
    problems += _bedrock_checks(section, service)
    return problems


def _bedrock_checks(section: WebSocketSection, service) -> list[Problem]:
    """The sensor handlers read ANALYSIS_BACKEND / BEDROCK_AGENT_ID / BEDROCK_AGENT_ALIAS_ID: a function that
    will call Bedrock needs the grant, and the ids it calls must be the ones granted."""
    problems = []
    callbacks = set(section.callback_function_keys())
    agent = section.bedrock_agent
    for key in section.route_functions():
        fn = service.functions.get(key)
        if fn is None:
            continue
        where = f"functions.{key}.environment"
        if fn.environment.get("ANALYSIS_BACKEND", "").strip().lower() == "bedrock":
            if agent is None:
                problems.append(Problem(f"{where}.ANALYSIS_BACKEND", "is bedrock, but websocket.bedrock_agent is not "
                                        "declared, so the function would not be allowed to invoke the agent"))
            elif key not in callbacks:
                problems.append(Problem(f"{where}.ANALYSIS_BACKEND", f"is bedrock, but '{key}' is not one of "
                                        "websocket.callback_functions, the functions granted bedrock:InvokeAgent"))
        if agent is None:
            continue
        for var, granted in (("BEDROCK_AGENT_ID", agent.agent_id), ("BEDROCK_AGENT_ALIAS_ID", agent.agent_alias_id)):
            value = fn.environment.get(var)
            if value is not None and value.strip() != granted:
                problems.append(Problem(f"{where}.{var}", f"is '{value}', but websocket.bedrock_agent grants "
                                        f"access to '{granted}' only"))
    return problems


# --- stack wiring -----------------------------------------------------------------------------------


def compose(stack: Composer) -> None:
    """Add the WebSocket API, its grants and outputs to a :class:`~lambdaform.stacks.ServiceStack`."""
    from lambdaform.constructs._iam import statement
    from lambdaform.constructs.websocket_api import LambdaTarget, WebSocketApi, WebSocketApiProps, WebSocketRoute

    section: WebSocketSection = stack.service.websocket
    env: str = stack.env
    routes = tuple(
        WebSocketRoute(route_key, LambdaTarget(
            key=key,
            function_name=stack.functions[key].function_name,
            invoke_arn=stack.functions[key].invoke_arn,
        ))
        for route_key, key in section.routes.items()
    )
    api = WebSocketApi(stack, "websocket", WebSocketApiProps(
        name=physical(stack.service.project, env, "ws"),
        description=escape_literal(section.description),
        routes=routes,
        stage_name=section.stage or env,
        route_selection_expression=section.route_selection_expression,
        connect_authorization=section.authorization,
        access_log_retention_days=section.access_log_retention_days,
        execution_logging_level=section.execution_logging_level,
        throttling_burst_limit=section.throttling_burst_limit,
        throttling_rate_limit=section.throttling_rate_limit,
        log_kms_key_arn=stack.key.key_arn if stack.key is not None else None,
        create_account_logging_role=section.create_account_logging_role,
    ))
    callbacks = section.callback_function_keys()
    for key in callbacks:
        stack.grant(key, "websocket-connections", [
            statement(["execute-api:ManageConnections"], [api.connections_arn], sid="PostToConnections"),
        ])
    if section.bedrock_agent is not None:
        agent = section.bedrock_agent
        caller, partition = stack.account()
        alias_arn = (f"arn:{partition.partition}:bedrock:{agent.region or stack.service.region}:"
                     f"{caller.account_id}:agent-alias/{agent.agent_id}/{agent.agent_alias_id}")
        for key in callbacks:
            stack.grant(key, "bedrock-agent", [statement(["bedrock:InvokeAgent"], [alias_arn], sid="InvokeAgent")])
        stack.output("websocket_bedrock_agent_alias_arn", alias_arn,
                     "Bedrock agent alias the WebSocket callback functions may invoke")
    stack.output("websocket_url", api.stage_invoke_url,
                 "WebSocket URL clients connect to (wss://<api>.execute-api.<region>.amazonaws.com/<stage>)")
    stack.output("websocket_callback_url", api.callback_url,
                 "@connections management endpoint (https://) that backends post replies to; the handlers' "
                 "WEBSOCKET_ENDPOINT")
    stack.output("websocket_api_id", api.api_id, "API Gateway WebSocket API id")


class WebSocket(Kind):
    key = KEY
    model = WebSocketSection
    shape = "section"
    description = "An API Gateway WebSocket API whose routes invoke functions of this file."

    def checks(self, ctx: CheckContext) -> list[Problem]:
        return cross_checks(ctx.service)

    def compose(self, stack: Composer) -> None:
        compose(stack)


KIND = WebSocket()
