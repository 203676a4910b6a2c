"""The WebSocket blueprint: API Gateway WebSocket API, routes to the sensor handlers, stage logs, scoped
grants - synthesized from examples/websocket-sensors.yaml (dev and prod), asserted on the JSON; the
construct on its own for the defaults the example does not use; invalid files through the loader.

Apply / re-plan / destroy of the example on moto is tests/test_emulator.py's (it runs every example).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lambdaform.loader import ServiceFileError, load_service
from support import EXAMPLES, HANDLERS, only, policy_of, resources, stack_json, synth_file

EXAMPLE = EXAMPLES / "websocket-sensors.yaml"
DEV, PROD = "sensor-ws-dev", "sensor-ws-prod"
API = "aws_apigatewayv2_api.websocket"
EXECUTION_ARN = "${" + API + ".execution_arn}"
STAGE_NAME = "${aws_apigatewayv2_stage.websocket_stage.name}"
CONNECTIONS_ARN = f"{EXECUTION_ARN}/{STAGE_NAME}/POST/@connections/*"
HANDLERS_BY_FUNCTION = {
    "connect": "sensor_ws.connect.handler",
    "disconnect": "sensor_ws.disconnect.handler",
    "message": "sensor_ws.message.handler",
}
ROUTES = {"$connect": "connect", "$disconnect": "disconnect", "sensor-data": "message"}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("websocket") / "out"
    synth_file(EXAMPLE, folder)
    return folder


@pytest.fixture(scope="module")
def dev(out) -> dict[str, Any]:
    return stack_json(out, DEV)


@pytest.fixture(scope="module")
def prod(out) -> dict[str, Any]:
    return stack_json(out, PROD)


def reference(value: str) -> tuple[str, str, str]:
    """``${aws_x.name.attr}`` -> (``aws_x``, ``name``, ``attr``)."""
    match = re.fullmatch(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_]+)\.([a-z_]+)\}", value)
    assert match, f"not a plain reference: {value}"
    return match.group(1), match.group(2), match.group(3)


def function_named(doc: dict, key: str) -> dict:
    return resources(doc, "aws_lambda_function")[f"{key}_function"]


def function_log_group(doc: dict, key: str) -> dict:
    return resources(doc, "aws_cloudwatch_log_group")[f"{key}_log_group"]


def statements_with(doc: dict, action: str) -> list[tuple[str, dict]]:
    """(role reference, statement) of every inline-policy statement that allows ``action``."""
    found = []
    for policy in resources(doc, "aws_iam_role_policy").values():
        for stmt in policy_of(policy)["Statement"]:
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            if action in actions:
                found.append((policy["role"], stmt))
    return found


def role_of(doc: dict, key: str) -> set[str]:
    """The ways a policy may refer to function ``key``'s role."""
    return {f"${{aws_iam_role.{key}_role.name}}", f"${{aws_iam_role.{key}_role.id}}"}


# --- the API, its routes and integrations ----------------------------------------------------------------


def test_api_is_a_websocket_api_routed_by_the_action_field(dev):
    api = only(dev, "aws_apigatewayv2_api")
    assert api["protocol_type"] == "WEBSOCKET"
    assert api["route_selection_expression"] == "$request.body.action"
    assert api["name"] == "sensor-ws-dev-ws"


def test_each_route_invokes_its_own_function_through_a_lambda_proxy_integration(dev):
    routes = resources(dev, "aws_apigatewayv2_route")
    assert sorted(r["route_key"] for r in routes.values()) == sorted(ROUTES)
    integrations = resources(dev, "aws_apigatewayv2_integration")
    for route in routes.values():
        assert route["api_id"] == f"${{{API}.id}}"
        target = re.fullmatch(r"integrations/\$\{aws_apigatewayv2_integration\.([a-z_]+)\.id\}", route["target"])
        assert target, route["target"]
        integration = integrations[target.group(1)]
        key = ROUTES[route["route_key"]]
        assert integration["integration_type"] == "AWS_PROXY"
        assert integration["integration_method"] == "POST"
        assert integration["integration_uri"] == f"${{aws_lambda_function.{key}_function.invoke_arn}}"
        fn = function_named(dev, key)
        assert fn["function_name"] == f"sensor-ws-dev-{key}"
        assert fn["handler"] == HANDLERS_BY_FUNCTION[key]
        assert fn["runtime"] == "python3.12"


def test_connect_authorization_is_written_explicitly_in_the_example(dev):
    routes = {r["route_key"]: r for r in resources(dev, "aws_apigatewayv2_route").values()}
    assert routes["$connect"]["authorization_type"] == "NONE"
    assert {r["authorization_type"] for r in routes.values()} == {"NONE"}


def test_every_function_may_be_invoked_by_this_api_only(dev):
    permissions = resources(dev, "aws_lambda_permission")
    assert len(permissions) == len(HANDLERS_BY_FUNCTION)
    invoked = set()
    for permission in permissions.values():
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["source_arn"] == f"{EXECUTION_ARN}/*"
        kind, name, attr = reference(permission["function_name"])
        assert (kind, attr) == ("aws_lambda_function", "function_name")
        invoked.add(name.removesuffix("_function"))
    assert invoked == set(HANDLERS_BY_FUNCTION)


# --- the stage ---------------------------------------------------------------------------------------------


def test_stage_auto_deploys_with_json_access_logs_in_its_own_log_group(dev):
    stage = only(dev, "aws_apigatewayv2_stage")
    assert stage["name"] == "dev" and stage["auto_deploy"] is True
    kind, name, attr = reference(stage["access_log_settings"]["destination_arn"])
    assert (kind, attr) == ("aws_cloudwatch_log_group", "arn")
    group = resources(dev, "aws_cloudwatch_log_group")[name]
    assert group["name"] == "/aws/apigateway/sensor-ws-dev-ws/dev/access"
    assert group["retention_in_days"] == 14
    assert f"aws_cloudwatch_log_group.{name}" in stage["depends_on"]
    line = json.loads(stage["access_log_settings"]["format"])
    assert line["requestId"] == "$context.requestId"
    assert line["connectionId"] == "$context.connectionId" and line["routeKey"] == "$context.routeKey"
    assert "${" not in stage["access_log_settings"]["format"]


def test_stage_throttles_routes_and_logs_errors_without_message_bodies(dev, prod):
    settings = only(dev, "aws_apigatewayv2_stage")["default_route_settings"]
    assert settings["throttling_burst_limit"] == 200 and settings["throttling_rate_limit"] == 100
    assert settings["logging_level"] == "ERROR" and settings["data_trace_enabled"] is False
    prod_settings = only(prod, "aws_apigatewayv2_stage")["default_route_settings"]
    assert (prod_settings["throttling_burst_limit"], prod_settings["throttling_rate_limit"]) == (1000, 500)


def test_execution_log_group_is_managed_with_a_retention(dev, prod):
    groups = {g["name"]: g for g in resources(dev, "aws_cloudwatch_log_group").values()}
    execution = groups["API-Gateway-Execution-Logs_${" + API + ".id}/dev"]
    assert execution["retention_in_days"] == 14
    access = groups["/aws/apigateway/sensor-ws-dev-ws/dev/access"]
    for group in (access, execution):  # the environment's service key, like the functions' logs
        assert group["kms_key_id"] == function_log_group(dev, "message")["kms_key_id"]
        assert reference(group["kms_key_id"])[0] == "aws_kms_key"
    prod_groups = {g["name"]: g for g in resources(prod, "aws_cloudwatch_log_group").values()}
    assert prod_groups["/aws/apigateway/sensor-ws-prod-ws/prod/access"]["retention_in_days"] == 30


def test_account_logging_role_is_left_alone_unless_asked_for(dev):
    assert not resources(dev, "aws_api_gateway_account")


# --- grants ----------------------------------------------------------------------------------------------


def test_only_the_callback_function_may_post_to_this_stages_connections(dev, prod):
    for doc in (dev, prod):
        grants = statements_with(doc, "execute-api:ManageConnections")
        assert len(grants) == 1, grants
        role, stmt = grants[0]
        assert role in role_of(doc, "message")
        assert stmt["Resource"] == CONNECTIONS_ARN
        assert stmt["Effect"] == "Allow"


def test_bedrock_agent_alias_is_the_only_bedrock_resource_in_prod(dev, prod):
    assert statements_with(dev, "bedrock:InvokeAgent") == []
    grants = statements_with(prod, "bedrock:InvokeAgent")
    assert len(grants) == 1
    role, stmt = grants[0]
    assert role in role_of(prod, "message")
    account = re.fullmatch(r"arn:\$\{data\.aws_partition\.(\w+)\.partition\}:bedrock:us-east-1:"
                           r"\$\{data\.aws_caller_identity\.(\w+)\.account_id\}:agent-alias/AGENTID123/ALIASID123",
                           stmt["Resource"])
    assert account, stmt["Resource"]
    assert account.group(2) in prod["data"]["aws_caller_identity"]
    assert prod["output"]["websocket_bedrock_agent_alias_arn"]["value"] == stmt["Resource"]


def test_no_grant_of_this_blueprint_uses_a_wildcard_resource(dev, prod):
    for doc in (dev, prod):
        for action in ("execute-api:ManageConnections", "bedrock:InvokeAgent", "dynamodb:PutItem",
                       "dynamodb:DeleteItem", "dynamodb:Query"):
            for _, stmt in statements_with(doc, action):
                listed = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
                assert "*" not in listed and all(not r.startswith("arn:aws:") or ":*:" not in r for r in listed)


def test_table_access_follows_what_each_handler_does(dev):
    def table_actions(key: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for role, stmt in statements_with(dev, "dynamodb:PutItem") + statements_with(dev, "dynamodb:Query"):
            if role in role_of(dev, key):
                table = re.search(r"aws_dynamodb_table\.(\w+)_table", json.dumps(stmt["Resource"])).group(1)
                out.setdefault(table, set()).update(stmt["Action"])
        return out

    assert set(table_actions("connect")) == {"connections"}
    assert "dynamodb:Query" not in table_actions("connect")["connections"]
    assert set(table_actions("disconnect")) == {"connections"}
    message = table_actions("message")
    assert set(message) == {"connections", "sensor_data"}
    assert {"dynamodb:PutItem", "dynamodb:Query"} <= message["sensor_data"]


# --- tables, environment, outputs --------------------------------------------------------------------------


def test_both_tables_expire_items_and_keep_backups_encrypted(dev):
    tables = {t["name"]: t for t in resources(dev, "aws_dynamodb_table").values()}
    connections, readings = tables["sensor-ws-dev-connections"], tables["sensor-ws-dev-sensor-data"]
    assert connections["hash_key"] == "connectionId" and "range_key" not in connections
    assert (readings["hash_key"], readings["range_key"]) == ("connectionId", "timestamp")
    assert {"name": "timestamp", "type": "N"} in readings["attribute"]
    for table in (connections, readings):
        assert table["ttl"] == {"attribute_name": "ttl", "enabled": True}
        assert table["point_in_time_recovery"] == {"enabled": True}
        assert table["server_side_encryption"]["enabled"] is True
        assert table["billing_mode"] == "PAY_PER_REQUEST"


def test_handlers_get_table_names_and_the_analysis_backend_per_environment(dev, prod):
    for key in HANDLERS_BY_FUNCTION:
        variables = function_named(dev, key)["environment"]["variables"]
        assert variables["CONNECTIONS_TABLE"] == "${aws_dynamodb_table.connections_table.name}"
        assert variables["SENSOR_DATA_TABLE"] == "${aws_dynamodb_table.sensor_data_table.name}"
        assert "WEBSOCKET_ENDPOINT" not in variables  # derived from each event: no function -> API cycle
    dev_message = function_named(dev, "message")["environment"]["variables"]
    assert dev_message["ANALYSIS_BACKEND"] == "local"
    assert (dev_message["AGGREGATION_WINDOW_MS"], dev_message["MAX_AGGREGATION_SIZE"]) == ("2000", "50")
    prod_message = function_named(prod, "message")["environment"]["variables"]
    assert prod_message["ANALYSIS_BACKEND"] == "bedrock"
    assert (prod_message["BEDROCK_AGENT_ID"], prod_message["BEDROCK_AGENT_ALIAS_ID"]) == ("AGENTID123", "ALIASID123")


def test_outputs_give_the_client_url_and_the_callback_url(dev):
    outputs = dev["output"]
    assert outputs["websocket_url"]["value"] == "${aws_apigatewayv2_stage.websocket_stage.invoke_url}"
    callback = outputs["websocket_callback_url"]["value"]
    assert callback == ('${replace(' + API + '.api_endpoint, "wss://", "https://")}/' + STAGE_NAME)
    assert outputs["websocket_api_id"]["value"] == f"${{{API}.id}}"
    for name in ("websocket_url", "websocket_callback_url", "websocket_api_id"):
        assert len(outputs[name]["description"]) > 20, name
    assert "wss://" in outputs["websocket_url"]["description"]
    assert "@connections" in outputs["websocket_callback_url"]["description"]


# --- the construct's own defaults -------------------------------------------------------------------------


def _construct_stack(**overrides) -> dict:
    from cdktf import App, TerraformStack, Testing
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    from lambdaform.constructs.websocket_api import LambdaTarget, WebSocketApi, WebSocketApiProps, WebSocketRoute

    app = App(stack_traces=False)
    stack = TerraformStack(app, "t")
    AwsProvider(stack, "aws", region="eu-west-1")
    target = LambdaTarget("fn", "t-fn", "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/x/invocations")
    props = dict(name="t-ws", stage_name="v1",
                 routes=(WebSocketRoute("$connect", target), WebSocketRoute("$default", target)))
    props.update(overrides)
    WebSocketApi(stack, "ws", WebSocketApiProps(**props))
    return json.loads(Testing.synth(stack))


def test_construct_defaults_require_signed_connections_and_share_one_integration_per_function():
    doc = _construct_stack()
    routes = {r["route_key"]: r for r in resources(doc, "aws_apigatewayv2_route").values()}
    assert routes["$connect"]["authorization_type"] == "AWS_IAM"
    assert routes["$default"]["authorization_type"] == "NONE"  # API Gateway authorizes $connect only
    assert len(resources(doc, "aws_apigatewayv2_integration")) == 1
    assert len(resources(doc, "aws_lambda_permission")) == 1
    assert only(doc, "aws_apigatewayv2_stage")["default_route_settings"]["logging_level"] == "ERROR"


def test_construct_without_execution_logging_creates_no_execution_log_group():
    doc = _construct_stack(execution_logging_level="OFF")
    names = [g["name"] for g in resources(doc, "aws_cloudwatch_log_group").values()]
    assert names == ["/aws/apigateway/t-ws/v1/access"]


def test_construct_can_own_the_accounts_logging_role_before_the_stage():
    doc = _construct_stack(create_account_logging_role=True)
    account = only(doc, "aws_api_gateway_account")
    kind, name, attr = reference(account["cloudwatch_role_arn"])
    role = resources(doc, "aws_iam_role")[name]
    trust = policy_of(role, "assume_role_policy")["Statement"][0]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    attachment = only(doc, "aws_iam_role_policy_attachment")
    assert attachment["policy_arn"].endswith(":policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    assert "aws_api_gateway_account.ws_account" in only(doc, "aws_apigatewayv2_stage")["depends_on"]


@pytest.mark.parametrize("overrides, message", [
    ({"routes": ()}, "at least one route"),
    ({"stage_name": "no spaces"}, "stage name"),
    ({"connect_authorization": "JWT"}, "AWS_IAM or NONE"),
    ({"route_selection_expression": "${request.body.action}"}, "route_selection_expression"),
])
def test_construct_refuses_bad_props_early(overrides, message):
    with pytest.raises(ValueError, match=message):
        _construct_stack(**overrides)


# --- invalid service files ----------------------------------------------------------------------------------


def _variant(tmp_path: Path, change) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    for fn in document["functions"].values():
        fn["source"] = str(HANDLERS / "websocket")
    change(document)
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(document), sort_keys=False))
    return path


def _problems(tmp_path: Path, change) -> dict[str, str]:
    with pytest.raises(ServiceFileError) as caught:
        load_service(_variant(tmp_path, change))
    return {p.path: p.reason for p in caught.value.problems}


def test_route_to_an_undeclared_function_names_the_route(tmp_path):
    problems = _problems(tmp_path, lambda d: d["websocket"]["routes"].update({"sensor-data": "analyse"}))
    assert set(problems) == {"websocket.routes.sensor-data"}
    assert "'analyse' is not declared" in problems["websocket.routes.sensor-data"]
    assert "connect, disconnect, message" in problems["websocket.routes.sensor-data"]


def test_missing_connect_route_is_refused(tmp_path):
    problems = _problems(tmp_path, lambda d: d["websocket"]["routes"].pop("$connect"))
    assert problems == {"websocket.routes": "must include $connect (declared: $disconnect, sensor-data)"}


def test_malformed_route_key_and_selection_expression_are_refused(tmp_path):
    def change(d):
        d["websocket"]["routes"]["$message"] = "message"
        d["websocket"]["route_selection_expression"] = "${request.body.action}"

    problems = _problems(tmp_path, change)
    assert "route key '$message'" in problems["websocket.routes"]
    assert "$request.body.action" in problems["websocket.route_selection_expression"]


def test_undeclared_callback_function_is_refused(tmp_path):
    problems = _problems(tmp_path, lambda d: d["websocket"].update({"callback_functions": ["message", "ghost"]}))
    assert "'ghost' is not declared" in problems["websocket.callback_functions.1"]


def test_bedrock_backend_without_a_granted_agent_is_refused(tmp_path):
    problems = _problems(tmp_path, lambda d: d["environments"]["prod"]["websocket"].pop("bedrock_agent"))
    assert "websocket.bedrock_agent is not declared" in problems["functions.message.environment.ANALYSIS_BACKEND"]


def test_agent_id_that_differs_from_the_granted_one_is_refused(tmp_path):
    problems = _problems(tmp_path, lambda d: d["environments"]["prod"]["functions"]["message"]["environment"]
                         .update({"BEDROCK_AGENT_ALIAS_ID": "OTHERALIAS"}))
    assert problems == {"functions.message.environment.BEDROCK_AGENT_ALIAS_ID":
                        "is 'OTHERALIAS', but websocket.bedrock_agent grants access to 'ALIASID123' only"}


def test_cli_validate_exits_2_with_the_field_path(tmp_path):
    from main import app

    path = _variant(tmp_path, lambda d: d["websocket"]["routes"].pop("$disconnect"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "websocket.routes: must include $disconnect" in result.stderr
    assert "Traceback" not in result.stderr


def test_section_defaults_are_the_secure_ones():
    from lambdaform.kinds.websocket import WebSocketSection

    section = WebSocketSection(routes={"$connect": "open", "$disconnect": "close", "go": "work", "$default": "work"})
    assert section.authorization == "AWS_IAM"
    assert section.route_selection_expression == "$request.body.action"
    assert (section.access_log_retention_days, section.execution_logging_level) == (14, "ERROR")
    assert section.create_account_logging_role is False
    assert section.callback_function_keys() == ["open", "close", "work"]
