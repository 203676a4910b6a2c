"""The ``http`` trigger and the ``http:`` section: one HTTP API per environment shared by every route.

Synthesized JSON first (API, stage, access logs, integrations, routes and their auth, JWT authorizers,
per-route invoke permissions, outputs), then the route rules, the schema text, the deploy result's URL
line, and ``terraform validate`` / checkov on the synthesized stack (``slow``).
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from lambdaform.loader import ServiceFileError, load_service
from lambdaform.triggers.http import parse_route
from support import only, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: shop
environments:
  dev: {}
  prod:
    http: {throttling_burst_limit: 50, throttling_rate_limit: 20.5, access_log_retention_days: 30}
http:
  cors: {allow_origins: ["https://app.example.com"], allow_methods: [GET, POST, DELETE], max_age_seconds: 600}
functions:
  orders:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - http: {route: "POST /orders"}
      - http: {route: "GET /orders/{id}", auth: NONE}
      - http: {route: "ANY /orders/{id}/items/{proxy+}", auth: JWT, issuer: "https://idp.example.com/pool",
               audiences: [web, mobile], scopes: [orders.write]}
  reports:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - http: {route: "GET /", auth: JWT, issuer: "https://idp.example.com/pool", audiences: [mobile, web]}
      - http: {route: "GET /reports", auth: JWT, issuer: "https://idp.example.com/pool", audiences: [partner]}
      - http: {route: "$default"}
"""

API = "${aws_apigatewayv2_api.http_api.id}"
EXECUTION_ARN = "${aws_apigatewayv2_api.http_api.execution_arn}"
KEY_ARN = "${aws_kms_key.service_key.arn}"
ORDERS_NAME = "${aws_lambda_function.orders_function.function_name}"
REPORTS_NAME = "${aws_lambda_function.reports_function.function_name}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("http-trigger")
    service = write_service(folder / "svc", SERVICE)
    out = folder / "out"
    synth_file(service, out)
    return {"dev": stack_json(out, "shop-dev"), "prod": stack_json(out, "shop-prod"), "out": out}


@pytest.fixture(scope="module")
def dev(synthesized) -> dict:
    return synthesized["dev"]


def _routes(doc: dict) -> dict[str, dict]:
    return {route["route_key"]: route for route in resources(doc, "aws_apigatewayv2_route").values()}


def test_one_http_api_per_environment_with_cors(dev):
    api = only(dev, "aws_apigatewayv2_api")
    assert api["name"] == "shop-dev-http" and api["protocol_type"] == "HTTP"
    assert api["cors_configuration"] == {
        "allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "POST", "DELETE"],
        "allow_headers": ["authorization", "content-type"], "allow_credentials": False, "max_age": 600,
    }
    assert "tags" not in api, "the provider's default_tags tag the API"


def test_default_stage_deploys_itself_with_json_access_logs_and_throttling(synthesized, dev):
    stage = only(dev, "aws_apigatewayv2_stage")
    assert stage["name"] == "$default" and stage["auto_deploy"] is True and stage["api_id"] == API
    assert stage["access_log_settings"]["destination_arn"] == "${aws_cloudwatch_log_group.http_api_access_log_group.arn}"
    line = json.loads(stage["access_log_settings"]["format"])
    assert line["requestId"] == "$context.requestId" and line["routeKey"] == "$context.routeKey"
    assert line["status"] == "$context.status" and line["integrationError"] == "$context.integrationErrorMessage"
    assert stage["default_route_settings"] == {"throttling_burst_limit": 200, "throttling_rate_limit": 100,
                                               "detailed_metrics_enabled": False}
    group = resources(dev, "aws_cloudwatch_log_group")["http_api_access_log_group"]
    assert group == {**group, "name": "/aws/apigateway/shop-dev-http/access", "retention_in_days": 14,
                     "kms_key_id": KEY_ARN}
    assert "tags" not in stage and "tags" not in group

    prod = only(synthesized["prod"], "aws_apigatewayv2_stage")["default_route_settings"]
    assert prod["throttling_burst_limit"] == 50 and prod["throttling_rate_limit"] == 20.5
    assert resources(synthesized["prod"], "aws_cloudwatch_log_group")["http_api_access_log_group"][
        "retention_in_days"] == 30


def test_one_proxy_integration_per_function_invoking_its_target_arn(dev):
    integrations = resources(dev, "aws_apigatewayv2_integration")
    assert sorted(integrations) == ["http_api_orders_integration", "http_api_reports_integration"]
    for key, integration in integrations.items():
        fn = key.split("_")[2]
        assert integration["integration_type"] == "AWS_PROXY" and integration["integration_method"] == "POST"
        assert integration["payload_format_version"] == "2.0"
        assert integration["integration_uri"] == f"${{aws_lambda_function.{fn}_function.arn}}"


def test_routes_are_iam_unless_written_and_target_their_function(dev):
    routes = _routes(dev)
    assert sorted(routes) == sorted(["POST /orders", "GET /orders/{id}", "ANY /orders/{id}/items/{proxy+}", "GET /",
                                     "GET /reports", "$default"])
    orders = "integrations/${aws_apigatewayv2_integration.http_api_orders_integration.id}"
    reports = "integrations/${aws_apigatewayv2_integration.http_api_reports_integration.id}"
    assert routes["POST /orders"]["authorization_type"] == "AWS_IAM"
    assert routes["$default"]["authorization_type"] == "AWS_IAM"
    assert routes["GET /orders/{id}"]["authorization_type"] == "NONE"
    assert {routes[key]["target"] for key in ("POST /orders", "GET /orders/{id}")} == {orders}
    assert {routes[key]["target"] for key in ("GET /", "GET /reports", "$default")} == {reports}
    for route in routes.values():
        assert route["api_id"] == API
        if route["authorization_type"] != "JWT":
            assert "authorizer_id" not in route and "authorization_scopes" not in route


def test_one_jwt_authorizer_per_distinct_issuer_and_audiences(dev):
    authorizers = resources(dev, "aws_apigatewayv2_authorizer")
    assert len(authorizers) == 2, "[web, mobile] and [mobile, web] share one; [partner] needs its own"
    by_audience = {tuple(a["jwt_configuration"]["audience"]): (key, a) for key, a in authorizers.items()}
    assert set(by_audience) == {("mobile", "web"), ("partner",)}
    for _key, authorizer in by_audience.values():
        assert authorizer["authorizer_type"] == "JWT"
        assert authorizer["identity_sources"] == ["$request.header.Authorization"]
        assert authorizer["jwt_configuration"]["issuer"] == "https://idp.example.com/pool"
        assert authorizer["name"].startswith("jwt-idp.example.com-")
    routes = _routes(dev)
    shared = f"${{aws_apigatewayv2_authorizer.{by_audience[('mobile', 'web')][0]}.id}}"
    partner = f"${{aws_apigatewayv2_authorizer.{by_audience[('partner',)][0]}.id}}"
    proxy = routes["ANY /orders/{id}/items/{proxy+}"]
    assert proxy["authorization_type"] == "JWT" and proxy["authorizer_id"] == shared
    assert proxy["authorization_scopes"] == ["orders.write"]
    assert routes["GET /"]["authorizer_id"] == shared and "authorization_scopes" not in routes["GET /"]
    assert routes["GET /reports"]["authorizer_id"] == partner


def test_authorizer_names_do_not_depend_on_route_order(tmp_path, dev):
    """Adding or moving a route never renames (replaces) an authorizer other routes use."""
    lines = SERVICE.splitlines(keepends=True)
    first, second = (i for i, line in enumerate(lines) if "GET /reports" in line or "GET /\"" in line)
    lines[first], lines[second] = lines[second], lines[first]
    out = tmp_path / "out"
    synth_file(write_service(tmp_path / "svc", "".join(lines)), out, envs=["dev"])
    assert sorted(resources(stack_json(out, "shop-dev"), "aws_apigatewayv2_authorizer")) == sorted(
        resources(dev, "aws_apigatewayv2_authorizer"))


def test_one_permission_per_route_naming_that_route_only(dev):
    permissions = {p["source_arn"]: p for p in resources(dev, "aws_lambda_permission").values()}
    assert permissions.keys() == {
        f"{EXECUTION_ARN}/*/POST/orders",
        f"{EXECUTION_ARN}/*/GET/orders/*",
        f"{EXECUTION_ARN}/*/*/orders/*/items/*",
        f"{EXECUTION_ARN}/*/GET/",
        f"{EXECUTION_ARN}/*/GET/reports",
        f"{EXECUTION_ARN}/*/*",
    }
    for arn, permission in permissions.items():
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert "qualifier" not in permission, "functions are invoked unqualified (fn.qualifier is None)"
        expected = ORDERS_NAME if "/orders" in arn else REPORTS_NAME
        assert permission["function_name"] == expected
    ids = [(p["function_name"], p["statement_id"]) for p in permissions.values()]
    assert len(set(ids)) == len(ids), "statement ids are unique per function"


def test_outputs_the_invoke_url(dev):
    url = dev["output"]["http_api_url"]
    assert url["value"] == "${aws_apigatewayv2_api.http_api.api_endpoint}"
    assert "Invoke URL" in url["description"]
    assert dev["output"]["http_api_id"]["value"] == API


def test_no_service_key_means_logs_with_cloudwatch_encryption(tmp_path):
    text = SERVICE.replace("project: shop\n", "project: shop\nencryption_key: aws-managed\n")
    out = tmp_path / "out"
    synth_file(write_service(tmp_path / "svc", text), out, envs=["dev"])
    group = resources(stack_json(out, "shop-dev"), "aws_cloudwatch_log_group")["http_api_access_log_group"]
    assert "kms_key_id" not in group


def test_without_http_triggers_there_is_no_api(tmp_path):
    out = tmp_path / "out"
    synth_file(write_service(tmp_path / "svc", """\
project: plain
environments: {dev: {}}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
"""), out)
    doc = stack_json(out, "plain-dev")
    assert not resources(doc, "aws_apigatewayv2_api") and "http_api_url" not in doc["output"]


# --- route rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "source_path"), [
    ("GET /", "/*/GET/"),
    ("POST /orders", "/*/POST/orders"),
    ("DELETE /orders/{id}", "/*/DELETE/orders/*"),
    ("ANY /files/{proxy+}", "/*/*/files/*"),
    ("HEAD /v1.2/a-b_c~d:e@f", "/*/HEAD/v1.2/a-b_c~d:e@f"),
    ("$default", "/*/*"),
])
def test_route_source_paths(text, source_path):
    route = parse_route(text)
    assert route.text == text and route.source_path == source_path


@pytest.mark.parametrize(("text", "reason"), [
    ("POST orders", "must start with '/'"),
    ("FETCH /x", "method 'FETCH' is not one of"),
    ("get /x", "methods are upper case"),
    ("GET", "is not a route"),
    ("GET /a b", "is not a route"),
    ("GET /a/", "empty segment"),
    ("GET /a//b", "empty segment"),
    ("GET /{proxy+}/x", "must be the last segment"),
    ("GET /{id}/{id}", "appears twice"),
    ("GET /a/{id", "must be a whole parameter"),
    ("GET /a?b=1", "may hold letters"),
    ("GET /a/*", "may hold letters"),
    ("default", "is not a route"),
])
def test_bad_routes_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace("*", r"\*")):
        parse_route(text)


def _service(tmp_path, triggers: dict[str, list[str]], extra: str = "") -> str:
    text = "project: shop\nenvironments: {dev: {}}\n" + extra + "functions:\n"
    for fn, routes in triggers.items():
        text += (f"  {fn}:\n    runtime: provided.al2023\n    source: handlers/vela_runtime\n    handler: app.velac\n"
                 "    triggers:\n" + "".join(f"      - http: {route}\n" for route in routes))
    return write_service(tmp_path / "svc", text)


def _problems(tmp_path, triggers: dict[str, list[str]], extra: str = "") -> str:
    with pytest.raises(ServiceFileError) as caught:
        load_service(_service(tmp_path, triggers, extra))
    return "\n".join(str(p) for p in caught.value.problems)


def test_same_function_may_give_one_method_its_own_auth_under_any(tmp_path):
    service = load_service(_service(tmp_path, {"api": ['{route: "ANY /orders"}', '{route: "GET /orders", auth: NONE}']}))
    assert [item.options.route for item in service.environments["dev"].functions["api"].triggers] == ["ANY /orders", "GET /orders"]


def test_literal_segment_beside_a_parameter_is_another_route(tmp_path):
    load_service(_service(tmp_path, {"one": ['{route: "GET /orders/{id}"}'], "two": ['{route: "GET /orders/new"}']}))


def test_any_overlap_is_refused_whichever_comes_first(tmp_path):
    message = _problems(tmp_path, {"writer": ['{route: "GET /orders"}'], "reader": ['{route: "ANY /orders"}']})
    assert message.startswith("functions.reader.triggers.0.http.route: route 'ANY /orders' overlaps "
                              "functions.writer.triggers.0.http ('GET /orders')")
    assert "send 'GET /orders' to function 'writer'" in message


def test_default_route_claimed_twice_names_both(tmp_path):
    message = _problems(tmp_path, {"one": ['{route: "$default"}'], "two": ['{route: "$default", auth: NONE}']})
    assert "functions.two.triggers.0.http.route: route '$default' is already claimed by functions.one.triggers.0.http" in message


def test_more_than_ten_authorizers_are_refused(tmp_path):
    routes = [f'{{route: "GET /r{i}", auth: JWT, issuer: "https://idp{i}.example.com", audiences: [x]}}'
              for i in range(11)]
    message = _problems(tmp_path, {"api": routes})
    assert message.startswith("functions.api.triggers.10.http.issuer: an HTTP API has at most 10 JWT authorizers")


def test_cors_credentials_need_listed_origins(tmp_path):
    message = _problems(tmp_path, {"api": ['{route: "GET /x"}']},
                        extra="http: {cors: {allow_origins: ['*'], allow_credentials: true}}\n")
    assert message.startswith("http.cors: ") and "allow_credentials needs the origins listed" in message


def test_schema_documents_the_iam_default():
    from lambdaform.commands import schema

    text = json.dumps(schema())
    assert "IAM by default: SigV4-signed callers with execute-api:Invoke, so a route is never public by omission" in text
    assert "Settings of the HTTP API that the functions' http triggers share" in text


# --- deploy result --------------------------------------------------------------------------------


def _result():
    from lambdaform.deploy import DeployResult, FunctionRow

    return DeployResult(env="dev", stacks=["shop-dev"], functions=[FunctionRow(key="orders", name="shop-dev-orders")],
                        outputs={"http_api_url": "https://abc123.execute-api.us-east-1.amazonaws.com",
                                 "http_api_id": "abc123"})


def test_deploy_result_shows_the_http_api_url_on_a_terminal():
    from lambdaform.console import Output

    sink = io.StringIO()
    Output(out=Console(file=sink, force_terminal=True, width=200)).deploy_result(_result())
    assert "http api: https://abc123.execute-api.us-east-1.amazonaws.com" in sink.getvalue()


def test_deploy_result_off_a_terminal_is_one_line_per_output(capsys):
    from lambdaform.console import Output

    Output(out=Console(file=io.StringIO(), force_terminal=False)).deploy_result(_result())
    lines = capsys.readouterr().out.splitlines()
    assert "output http_api_url: https://abc123.execute-api.us-east-1.amazonaws.com" in lines
    assert not any(line.startswith("http api:") for line in lines), "plain output stays name: value lines"


# --- terraform validate / checkov -----------------------------------------------------------------


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    for stack in ("shop-dev", "shop-prod"):
        terraform_validate(tf, synthesized["out"] / "stacks" / stack, tmp_path / f"{stack}-data")


@pytest.mark.slow
def test_passes_checkov(synthesized):
    """No failed check beyond the documented skips (CKV_AWS_309 covers only the route written auth: NONE)."""
    from test_checkov import checkov

    assert checkov(synthesized["out"] / "stacks" / "shop-dev") == []
