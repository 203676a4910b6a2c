"""Behaviour of the WebSocket sensor backend (handlers/websocket/sensor_ws).

DynamoDB and the API Gateway Management API run in-process under moto (``mock_aws``); moto records the
bytes each ``post_to_connection`` sends, and the tests read the frames back from its backend. What moto
cannot do is stubbed, and the test names say so:

- GoneException / ForbiddenException from ``post_to_connection``: ``botocore.stub.Stubber`` on the cached
  Management API client (``*_stubber_*`` tests).
- Bedrock ``InvokeAgent`` (moto has no bedrock-agent-runtime): a real boto3 client whose HTTP layer is
  replaced by a ``before-send`` hook answering with an encoded AWS event stream (``*_wire_stub_*`` tests),
  and a fake client passed by constructor injection (``*_fake_client_*`` tests).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import struct
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from sensor_ws import analysis, clients, clock, config, connect, disconnect, events, message, validation
from sensor_ws.analysis import BedrockAgentBackend, LocalAnalysisBackend, build_aggregate, session_id_for

REGION = "us-east-1"
CONNECTIONS = "ws-connections"
SENSOR_DATA = "ws-sensor-data"
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "dev"
ENDPOINT = f"https://{DOMAIN}/{STAGE}"
NOW_MS = 1_750_000_000_000
CONN = "conn-A1"


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch):
    """Fake credentials, the two table names, defaults for everything else; fresh config and clients."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "WEBSOCKET_ENDPOINT",
        "AGGREGATION_WINDOW_MS",
        "MAX_AGGREGATION_SIZE",
        "CONNECTION_TTL_SECONDS",
        "SENSOR_DATA_TTL_SECONDS",
        "MAX_MESSAGE_BYTES",
        "ANALYSIS_BACKEND",
        "BEDROCK_AGENT_ID",
        "BEDROCK_AGENT_ALIAS_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("CONNECTIONS_TABLE", CONNECTIONS)
    monkeypatch.setenv("SENSOR_DATA_TABLE", SENSOR_DATA)
    config.reset_config()
    clients.reset_clients()
    yield
    config.reset_config()
    clients.reset_clients()


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Pin ``clock.now_ms()``; tests move time by assigning ``fixed_clock.now``."""
    state = SimpleNamespace(now=NOW_MS)
    monkeypatch.setattr(clock, "now_ms", lambda: state.now)
    return state


@pytest.fixture(scope="module")
def moto_mock():
    """One moto mock for the module (starting one per test costs a fresh boto3 session each time)."""
    with mock_aws() as mock:
        yield mock


@pytest.fixture
def aws(moto_mock, fixed_clock):
    """Empty moto backends with both tables created; yields the two boto3 Table objects."""
    moto_mock.reset()
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    connections = dynamodb.create_table(
        TableName=CONNECTIONS,
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sensor_data = dynamodb.create_table(
        TableName=SENSOR_DATA,
        KeySchema=[
            {"AttributeName": "connectionId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield SimpleNamespace(connections=connections, sensor_data=sensor_data)


# ---------------------------------------------------------------------------------------------- helpers


def ws_event(body: Any = None, connection_id: str | None = CONN, route: str = "sensor-data", **extra: Any) -> dict:
    context: dict[str, Any] = {"routeKey": route, "domainName": DOMAIN, "stage": STAGE, "eventType": "MESSAGE"}
    if connection_id is not None:
        context["connectionId"] = connection_id
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False, **extra}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def lambda_context(request_id: str = "req-123") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id)


def reading_message(**data: Any) -> dict:
    body = {"sensorId": "temp-1", "type": "temperature", "value": 21.5, "unit": "C"}
    body.update(data)
    return {"action": "sensor-data", "data": {k: v for k, v in body.items() if v is not ...}}


def frames(connection_id: str = CONN) -> list[dict]:
    """Every JSON frame moto recorded for ``connection_id`` (moto concatenates the posted bytes)."""
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    if connection_id not in backend.connections:
        return []
    text = backend.connections[connection_id].data.decode("utf-8")
    decoder, position, out = json.JSONDecoder(), 0, []
    while position < len(text):
        frame, position = decoder.raw_decode(text, position)
        out.append(frame)
    return out


def stored_readings(aws, connection_id: str = CONN) -> list[dict]:
    return aws.sensor_data.query(
        KeyConditionExpression="connectionId = :c", ExpressionAttributeValues={":c": connection_id}
    )["Items"]


def put_raw_reading(aws, timestamp: int, value: float, sensor_id: str = "temp-1", connection_id: str = CONN) -> None:
    aws.sensor_data.put_item(
        Item={
            "connectionId": connection_id,
            "timestamp": timestamp,
            "sensorId": sensor_id,
            "type": "temperature",
            "value": Decimal(str(value)),
            "unit": "C",
            "ttl": timestamp // 1000 + 86400,
        }
    )


def log_lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------- config


def test_config_defaults_when_only_tables_are_set():
    cfg = config.load_config({"CONNECTIONS_TABLE": "a-table", "SENSOR_DATA_TABLE": "b-table"})
    assert (cfg.connections_table, cfg.sensor_data_table, cfg.websocket_endpoint) == ("a-table", "b-table", None)
    assert cfg.aggregation_window_ms == 2000
    assert cfg.max_aggregation_size == 50
    assert cfg.connection_ttl_seconds == 3600
    assert cfg.sensor_data_ttl_seconds == 86400
    assert cfg.max_message_bytes == 32768
    assert cfg.analysis_backend == "local"


def test_config_error_names_every_problem():
    with pytest.raises(config.ConfigError) as raised:
        config.load_config(
            {
                "SENSOR_DATA_TABLE": "x",
                "AGGREGATION_WINDOW_MS": "two seconds",
                "MAX_AGGREGATION_SIZE": "0",
                "ANALYSIS_BACKEND": "openai",
            }
        )
    text = str(raised.value)
    for fragment in (
        "CONNECTIONS_TABLE is required",
        "SENSOR_DATA_TABLE is not a valid DynamoDB table name",
        "AGGREGATION_WINDOW_MS must be an integer",
        "MAX_AGGREGATION_SIZE must be between 1 and 1000",
        "ANALYSIS_BACKEND must be one of local, bedrock",
    ):
        assert fragment in text


def test_config_bedrock_backend_requires_agent_ids():
    base = {"CONNECTIONS_TABLE": "a-table", "SENSOR_DATA_TABLE": "b-table", "ANALYSIS_BACKEND": "bedrock"}
    with pytest.raises(config.ConfigError, match="BEDROCK_AGENT_ID is required.*BEDROCK_AGENT_ALIAS_ID is required"):
        config.load_config(base)
    with pytest.raises(config.ConfigError, match="BEDROCK_AGENT_ID must be 1-10 letters or digits"):
        config.load_config({**base, "BEDROCK_AGENT_ID": "not/an/id", "BEDROCK_AGENT_ALIAS_ID": "TSTALIASID"})
    cfg = config.load_config({**base, "BEDROCK_AGENT_ID": "AGENT12345", "BEDROCK_AGENT_ALIAS_ID": "TSTALIASID"})
    assert (cfg.analysis_backend, cfg.bedrock_agent_id, cfg.bedrock_agent_alias_id) == (
        "bedrock",
        "AGENT12345",
        "TSTALIASID",
    )
    assert isinstance(analysis.backend_from_config(cfg), BedrockAgentBackend)
    local = config.load_config({**base, "ANALYSIS_BACKEND": "local"})
    assert isinstance(analysis.backend_from_config(local), LocalAnalysisBackend)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://x.execute-api.eu-west-1.amazonaws.com/prod/", "https://x.execute-api.eu-west-1.amazonaws.com/prod"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://example.com/prod", None),
        ("ftp://x/prod", None),
        ("not a url", None),
    ],
)
def test_config_websocket_endpoint_must_be_https_or_loopback(raw, expected):
    env = {"CONNECTIONS_TABLE": "a-table", "SENSOR_DATA_TABLE": "b-table", "WEBSOCKET_ENDPOINT": raw}
    if expected is None:
        with pytest.raises(config.ConfigError, match="WEBSOCKET_ENDPOINT must be an https URL"):
            config.load_config(env)
    else:
        assert config.load_config(env).websocket_endpoint == expected


def test_config_is_read_once_per_container(monkeypatch):
    assert config.get_config().max_aggregation_size == 50
    monkeypatch.setenv("MAX_AGGREGATION_SIZE", "7")
    assert config.get_config().max_aggregation_size == 50
    config.reset_config()
    assert config.get_config().max_aggregation_size == 7


def test_callback_endpoint_derived_from_event_unless_configured():
    event = ws_event(reading_message())
    cfg = config.load_config({"CONNECTIONS_TABLE": "a-table", "SENSOR_DATA_TABLE": "b-table"})
    assert events.callback_endpoint(event, cfg) == ENDPOINT
    configured = config.load_config(
        {
            "CONNECTIONS_TABLE": "a-table",
            "SENSOR_DATA_TABLE": "b-table",
            "WEBSOCKET_ENDPOINT": "https://ws.example.com/v1",
        }
    )
    assert events.callback_endpoint(event, configured) == "https://ws.example.com/v1"
    without_domain = ws_event(reading_message())
    del without_domain["requestContext"]["domainName"]
    with pytest.raises(events.EventError):
        events.callback_endpoint(without_domain, cfg)


def test_clients_are_cached_per_container_and_resettable():
    first = clients.dynamodb()
    assert clients.dynamodb() is first
    api = clients.management_api(ENDPOINT)
    assert clients.management_api(ENDPOINT) is api
    assert clients.management_api("https://other.execute-api.us-east-1.amazonaws.com/x") is not api
    assert api.meta.endpoint_url == ENDPOINT
    clients.reset_clients()
    assert clients.dynamodb() is not first
    assert clients.management_api(ENDPOINT) is not api


def test_handler_with_invalid_config_returns_generic_500_and_logs_the_problem(aws, monkeypatch, capsys):
    monkeypatch.setenv("MAX_MESSAGE_BYTES", "lots")
    result = message.handler(ws_event(reading_message()), lambda_context())
    assert result["statusCode"] == 500
    assert "MAX_MESSAGE_BYTES" not in result["body"]
    errors = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert any("MAX_MESSAGE_BYTES must be an integer" in line["message"] for line in errors)
    assert stored_readings(aws) == []


# -------------------------------------------------------------------------------------- connect / disconnect


def test_connect_records_connection_with_ttl(aws):
    result = connect.handler(ws_event(route="$connect"), lambda_context())
    assert result == {"statusCode": 200}
    item = aws.connections.get_item(Key={"connectionId": CONN})["Item"]
    assert item["connectedAt"] == NOW_MS
    assert item["ttl"] == NOW_MS // 1000 + 3600


def test_connect_honours_connection_ttl_seconds(aws, monkeypatch):
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "600")
    assert connect.handler(ws_event(route="$connect"), lambda_context())["statusCode"] == 200
    assert aws.connections.get_item(Key={"connectionId": CONN})["Item"]["ttl"] == NOW_MS // 1000 + 600


def test_connect_dynamodb_failure_returns_generic_500_and_structured_log(aws, capsys):
    aws.connections.delete()
    result = connect.handler(ws_event(route="$connect"), lambda_context("req-42"))
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"error": events.GENERIC_ERROR}
    (error,) = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert error["message"] == "could not record connection"
    assert error["connectionId"] == CONN
    assert error["request_id"] == "req-42"
    assert error["error"] == "ResourceNotFoundException"


@pytest.mark.parametrize("handler", [connect.handler, disconnect.handler, message.handler])
@pytest.mark.parametrize("event", [{}, {"requestContext": None}, {"requestContext": {"routeKey": "$connect"}}, None])
def test_missing_request_context_returns_500_without_raising(aws, handler, event):
    result = handler(event, None)
    assert result["statusCode"] == 500
    assert aws.connections.scan()["Items"] == []
    assert stored_readings(aws) == []


def test_disconnect_deletes_connection_and_is_idempotent(aws):
    assert connect.handler(ws_event(route="$connect"), lambda_context())["statusCode"] == 200
    assert "Item" in aws.connections.get_item(Key={"connectionId": CONN})
    assert disconnect.handler(ws_event(route="$disconnect"), lambda_context()) == {"statusCode": 200}
    assert "Item" not in aws.connections.get_item(Key={"connectionId": CONN})
    assert disconnect.handler(ws_event(route="$disconnect"), lambda_context()) == {"statusCode": 200}


def test_disconnect_dynamodb_failure_returns_generic_500(aws):
    aws.connections.delete()
    result = disconnect.handler(ws_event(route="$disconnect"), lambda_context())
    assert result["statusCode"] == 500
    assert "ResourceNotFound" not in result["body"]


# -------------------------------------------------------------------------------------------- message


def test_message_stores_reading_with_ttl_and_replies_with_description(aws):
    result = message.handler(ws_event(reading_message(value=21.5)), lambda_context())
    assert result == {"statusCode": 200}

    (item,) = stored_readings(aws)
    assert item["timestamp"] == NOW_MS
    assert item["receivedAt"] == NOW_MS
    assert item["ttl"] == NOW_MS // 1000 + 86400
    assert item["value"] == Decimal("21.5")
    assert (item["sensorId"], item["type"], item["unit"]) == ("temp-1", "temperature", "C")

    (frame,) = frames()
    assert frame["type"] == "ai-description"
    assert frame["data"] == "1 reading from 1 sensor; temp-1 temperature mean 21.5 C (min 21.5, max 21.5, last 21.5)"
    assert frame["aggregate"]["count"] == 1
    assert frame["aggregate"]["sensors"][0]["mean"] == 21.5


def test_message_honours_sensor_data_ttl_and_client_timestamp(aws, monkeypatch):
    monkeypatch.setenv("SENSOR_DATA_TTL_SECONDS", "120")
    client_ts = NOW_MS - 250
    message.handler(ws_event(reading_message(timestamp=client_ts, unit=...)), lambda_context())
    (item,) = stored_readings(aws)
    assert item["timestamp"] == client_ts
    assert item["ttl"] == NOW_MS // 1000 + 120
    assert "unit" not in item


def test_message_aggregates_only_this_connections_readings_inside_the_window(aws):
    # Inside the 2000 ms window (the boundary included) ...
    put_raw_reading(aws, NOW_MS - 2000, 20.0)
    put_raw_reading(aws, NOW_MS - 800, 22.0, sensor_id="temp-2")
    put_raw_reading(aws, NOW_MS - 400, 21.0)
    # ... outside it, or another connection's.
    put_raw_reading(aws, NOW_MS - 2001, 99.0)
    put_raw_reading(aws, NOW_MS - 60_000, -50.0)
    put_raw_reading(aws, NOW_MS - 100, 77.0, connection_id="someone-else")

    assert message.handler(ws_event(reading_message(value=25.0)), lambda_context())["statusCode"] == 200

    (frame,) = frames()
    aggregate = frame["aggregate"]
    assert aggregate["count"] == 4
    assert aggregate["truncated"] is False
    assert aggregate["sensorCount"] == 2
    assert (aggregate["fromTimestamp"], aggregate["toTimestamp"]) == (NOW_MS - 2000, NOW_MS)
    temp1, temp2 = aggregate["sensors"]
    assert temp1 == {
        "sensorId": "temp-1",
        "type": "temperature",
        "unit": "C",
        "count": 3,
        "min": 20.0,
        "max": 25.0,
        "mean": pytest.approx(22.0),
        "last": 25.0,
        "lastTimestamp": NOW_MS,
    }
    assert (temp2["sensorId"], temp2["count"], temp2["last"]) == ("temp-2", 1, 22.0)
    assert frame["data"].startswith("4 readings from 2 sensors; temp-1 temperature mean 22 C (min 20, max 25, last 25)")


def test_message_aggregation_respects_max_aggregation_size_newest_first(aws, monkeypatch):
    monkeypatch.setenv("MAX_AGGREGATION_SIZE", "5")
    for offset in range(1, 11):  # ten older readings, all inside the window
        put_raw_reading(aws, NOW_MS - offset * 100, float(offset))

    assert message.handler(ws_event(reading_message(value=0.0)), lambda_context())["statusCode"] == 200

    (frame,) = frames()
    aggregate = frame["aggregate"]
    assert aggregate["count"] == 5
    assert aggregate["truncated"] is True
    # The newest five: now (0.0) and now-100..now-400 (1.0..4.0).
    assert (aggregate["fromTimestamp"], aggregate["toTimestamp"]) == (NOW_MS - 400, NOW_MS)
    assert (aggregate["sensors"][0]["min"], aggregate["sensors"][0]["max"]) == (0.0, 4.0)
    assert "(latest only)" in frame["data"]
    assert len(stored_readings(aws)) == 11


def test_message_window_moves_with_the_clock(aws, fixed_clock):
    message.handler(ws_event(reading_message(value=1.0)), lambda_context())
    fixed_clock.now += 1500
    message.handler(ws_event(reading_message(value=2.0)), lambda_context())
    fixed_clock.now += 1500  # the first reading is now 3000 ms old
    message.handler(ws_event(reading_message(value=3.0)), lambda_context())
    counts = [frame["aggregate"]["count"] for frame in frames()]
    assert counts == [1, 2, 2]


def test_message_same_millisecond_readings_are_both_kept(aws):
    message.handler(ws_event(reading_message(sensorId="a", value=1)), lambda_context())
    message.handler(ws_event(reading_message(sensorId="b", value=2)), lambda_context())
    items = sorted(stored_readings(aws), key=lambda item: item["timestamp"])
    assert [(item["sensorId"], item["timestamp"]) for item in items] == [("a", NOW_MS), ("b", NOW_MS + 1)]
    assert frames()[-1]["aggregate"]["count"] == 2


def test_message_with_stale_client_timestamp_is_stored_but_not_described(aws):
    result = message.handler(ws_event(reading_message(timestamp=NOW_MS - 10_000)), lambda_context())
    assert result == {"statusCode": 200}
    assert len(stored_readings(aws)) == 1
    assert frames() == []


def test_message_accepts_base64_encoded_body(aws):
    body = base64.b64encode(json.dumps(reading_message()).encode()).decode()
    assert message.handler(ws_event(body, isBase64Encoded=True), lambda_context())["statusCode"] == 200
    assert len(stored_readings(aws)) == 1


BAD_BODIES = [
    pytest.param("", "message body is empty", id="empty"),
    pytest.param("{not json", "message is not valid JSON", id="not-json"),
    pytest.param("[1, 2]", "message must be a JSON object", id="json-array"),
    pytest.param('"text"', "message must be a JSON object", id="json-string"),
    pytest.param({"action": "other", "data": {}}, 'message action must be "sensor-data"', id="wrong-action"),
    pytest.param({"data": reading_message()["data"]}, 'message action must be "sensor-data"', id="no-action"),
    pytest.param({"action": "sensor-data"}, "message data must be a JSON object", id="no-data"),
    pytest.param({"action": "sensor-data", "data": [1]}, "message data must be a JSON object", id="data-array"),
    pytest.param({**reading_message(), "extra": 1}, "message has unknown fields", id="unknown-top-field"),
    pytest.param(reading_message(sensorId=...), "data is missing sensorId", id="missing-sensorId"),
    pytest.param(reading_message(type=..., value=...), "data is missing type, value", id="missing-type-value"),
    pytest.param(reading_message(sensorId=""), "data.sensorId must not be empty", id="empty-sensorId"),
    pytest.param(reading_message(sensorId="x" * 129), "data.sensorId must be at most 128", id="long-sensorId"),
    pytest.param(reading_message(sensorId=12), "data.sensorId must be a string", id="numeric-sensorId"),
    pytest.param(reading_message(type=None), "data.type must be a string", id="null-type"),
    pytest.param(reading_message(value="21.5"), "data.value must be a number", id="string-value"),
    pytest.param(reading_message(value=True), "data.value must be a number", id="bool-value"),
    pytest.param(reading_message(value=None), "data.value must be a number", id="null-value"),
    pytest.param(reading_message(value=1e300), "data.value has more precision or magnitude", id="huge-value"),
    pytest.param(reading_message(value=10**40 + 1), "data.value has more precision or magnitude", id="too-precise"),
    pytest.param(reading_message(unit=5), "data.unit must be a string", id="numeric-unit"),
    pytest.param(reading_message(timestamp=1.5e12), "data.timestamp must be an integer", id="float-timestamp"),
    pytest.param(reading_message(timestamp=-1), "data.timestamp must be positive", id="negative-timestamp"),
    pytest.param(reading_message(timestamp=NOW_MS + 3_600_000), "too far in the future", id="future-timestamp"),
    pytest.param(
        {"action": "sensor-data", "data": {**reading_message()["data"], "x": 1}},
        "data has unknown fields",
        id="unknown-data-field",
    ),
    pytest.param(
        '{"action": "sensor-data", "data": {"sensorId": "t", "type": "t", "value": NaN}}',
        "NaN or Infinity",
        id="nan",
    ),
    pytest.param(
        '{"action": "sensor-data", "data": {"sensorId": "t", "type": "t", "value": -Infinity}}',
        "NaN or Infinity",
        id="infinity",
    ),
    pytest.param(
        '{"action": "sensor-data", "data": {"sensorId": "t", "type": "t", "value": 1e999}}',
        "data.value must be a finite number",
        id="float-overflow",
    ),
    pytest.param('{"a": "\\ud800"}', "message has unknown fields", id="lone-surrogate-key"),
    pytest.param(
        '{"action": "sensor-data", "data": {"sensorId": "\\ud800", "type": "t", "value": 1}}',
        "data.sensorId is not valid Unicode text",
        id="lone-surrogate-value",
    ),
    pytest.param("[" * 50_000, "exceeds 32768 bytes", id="oversized-nesting"),
    pytest.param("[" * 30_000, "message is not valid JSON", id="deep-nesting"),
    pytest.param("1" * 5000, "message is not valid JSON", id="int-beyond-digit-limit"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
def test_bad_message_returns_400_and_sends_error_frame(aws, body, reason):
    result = message.handler(ws_event(body if body != "" else None), lambda_context())
    assert result["statusCode"] == 400
    assert reason in json.loads(result["body"])["error"]
    (frame,) = frames()
    assert frame["type"] == "error"
    assert reason in frame["error"]
    assert stored_readings(aws) == []


def test_oversized_message_is_rejected_by_byte_count(aws, monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_BYTES", "200")
    small = reading_message(sensorId="s" * 60)
    assert len(json.dumps(small).encode()) <= 200
    assert message.handler(ws_event(small), lambda_context())["statusCode"] == 200
    # 60 three-byte characters: under 200 characters but over 200 bytes.
    wide = reading_message(sensorId="€" * 60)
    assert len(json.dumps(wide, ensure_ascii=False)) <= 200 < len(json.dumps(wide, ensure_ascii=False).encode())
    result = message.handler(ws_event(json.dumps(wide, ensure_ascii=False)), lambda_context())
    assert result["statusCode"] == 400
    assert frames()[-1] == {"type": "error", "error": "message exceeds 200 bytes"}


def test_bad_base64_body_is_rejected(aws):
    result = message.handler(ws_event("%%%not-base64", isBase64Encoded=True), lambda_context())
    assert result["statusCode"] == 400
    assert frames() == [{"type": "error", "error": "message body is not valid base64"}]
    invalid_utf8 = base64.b64encode(b"\xff\xfe{}").decode()
    assert message.handler(ws_event(invalid_utf8, isBase64Encoded=True), lambda_context())["statusCode"] == 400
    assert frames()[-1] == {"type": "error", "error": "message body is not valid UTF-8 text"}


def test_error_frames_never_echo_client_input(aws):
    body = {"action": "sensor-data", "data": {"sensorId": "t", "type": "t", "value": 1, "<script>secret": 1}}
    result = message.handler(ws_event(body), lambda_context())
    assert result["statusCode"] == 400
    assert "secret" not in result["body"]
    assert "secret" not in json.dumps(frames())


def test_message_dynamodb_failure_returns_generic_500_and_error_frame(aws, capsys):
    aws.sensor_data.delete()
    result = message.handler(ws_event(reading_message()), lambda_context())
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"error": events.GENERIC_ERROR}
    assert frames() == [{"type": "error", "error": message.INTERNAL_ERROR_FRAME}]
    errors = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert errors and errors[0]["error"] == "ResourceNotFoundException"


def test_message_logs_are_json_with_ids_and_reading_values_only_at_debug(aws, capsys):
    message.handler(ws_event(reading_message(value=987654.321)), lambda_context("req-9"))
    info = log_lines(capsys.readouterr().out)
    assert info, "the handler should log"
    assert all(line["connectionId"] == CONN and line["request_id"] == "req-9" for line in info)
    assert {line["level"] for line in info} == {"INFO"}
    assert "reading stored" in [line["message"] for line in info]
    assert "987654" not in json.dumps(info)

    logger = logging.getLogger("sensor_ws")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        message.handler(ws_event(reading_message(value=987654.321)), lambda_context())
    finally:
        logger.setLevel(previous)
    debug = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "DEBUG"]
    assert any(line.get("value") == "987654.321" for line in debug)


# ----------------------------------------------------------------------- post_to_connection failures (Stubber)


@pytest.fixture
def management_api_stubber(aws):
    """Stubber on the Management API client the handler will use (moto cannot raise GoneException)."""
    stubber = Stubber(clients.management_api(ENDPOINT))
    with stubber:
        yield stubber


def test_gone_connection_is_removed_and_410_returned_stubber_based(aws, management_api_stubber):
    assert connect.handler(ws_event(route="$connect"), lambda_context())["statusCode"] == 200
    management_api_stubber.add_client_error(
        "post_to_connection",
        service_error_code="GoneException",
        http_status_code=410,
        expected_params={"ConnectionId": CONN, "Data": AnyDescriptionFrame()},
    )
    result = message.handler(ws_event(reading_message()), lambda_context())
    assert result["statusCode"] == 410
    assert "Item" not in aws.connections.get_item(Key={"connectionId": CONN})
    assert len(stored_readings(aws)) == 1  # the reading itself was kept
    management_api_stubber.assert_no_pending_responses()


def test_gone_connection_on_error_frame_still_answers_400_stubber_based(aws, management_api_stubber):
    assert connect.handler(ws_event(route="$connect"), lambda_context())["statusCode"] == 200
    management_api_stubber.add_client_error(
        "post_to_connection", service_error_code="GoneException", http_status_code=410
    )
    result = message.handler(ws_event("not json"), lambda_context())
    assert result["statusCode"] == 400
    assert "Item" not in aws.connections.get_item(Key={"connectionId": CONN})


def test_other_post_failure_keeps_connection_and_returns_500_stubber_based(aws, management_api_stubber, capsys):
    assert connect.handler(ws_event(route="$connect"), lambda_context())["statusCode"] == 200
    management_api_stubber.add_client_error(
        "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
    )
    result = message.handler(ws_event(reading_message()), lambda_context())
    assert result["statusCode"] == 500
    assert "Forbidden" not in result["body"]
    assert "Item" in aws.connections.get_item(Key={"connectionId": CONN})
    errors = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert errors[0]["errorCode"] == "ForbiddenException"


class AnyDescriptionFrame:
    """Stubber expected_params matcher: any bytes payload that is one JSON ai-description frame."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes) and json.loads(other)["type"] == "ai-description"


# ------------------------------------------------------------------------------------------ analysis


def test_local_backend_text_is_deterministic():
    items = [
        {"timestamp": 3, "sensorId": "temp-1", "type": "temperature", "value": Decimal("22"), "unit": "C"},
        {"timestamp": 2, "sensorId": "hum-1", "type": "humidity", "value": Decimal("40.5"), "unit": "%"},
        {"timestamp": 1, "sensorId": "temp-1", "type": "temperature", "value": Decimal("21"), "unit": "C"},
    ]
    aggregate = build_aggregate("c", items, window_ms=2000, limit=50)
    assert LocalAnalysisBackend().analyze(aggregate) == (
        "3 readings from 2 sensors; hum-1 humidity mean 40.5 % (min 40.5, max 40.5, last 40.5); "
        "temp-1 temperature mean 21.5 C (min 21, max 22, last 22)"
    )
    assert LocalAnalysisBackend().analyze(build_aggregate("c", [], window_ms=2000, limit=50)) == ""


def test_aggregate_separates_types_of_one_sensor_and_is_json_serialisable():
    items = [
        {"timestamp": 5, "sensorId": "env-1", "type": "humidity", "value": Decimal("55")},
        {"timestamp": 4, "sensorId": "env-1", "type": "temperature", "value": Decimal("20.25"), "unit": "C"},
    ]
    aggregate = build_aggregate("c", items, window_ms=1000, limit=50)
    assert aggregate["sensorCount"] == 1
    assert [(s["type"], s["count"], s["unit"]) for s in aggregate["sensors"]] == [
        ("humidity", 1, None),
        ("temperature", 1, "C"),
    ]
    assert json.loads(json.dumps(aggregate)) == aggregate


@pytest.mark.parametrize("connection_id", ["L0SM9cOFvHcCIhw=", "a+b/c==", "ab", "x", "a.b", "Z" * 150])
def test_session_id_is_valid_for_bedrock(connection_id):
    session_id = session_id_for(connection_id)
    assert re.fullmatch(r"[0-9a-zA-Z._:-]{2,100}", session_id)


def test_session_id_keeps_distinct_connections_distinct():
    ids = ["a=", "a.3d", "a+", "a/", "a.", "ab", "a_"]
    assert len({session_id_for(i) for i in ids}) == len(ids)
    assert session_id_for("L0SM9cOFvHcCIhw=") == "L0SM9cOFvHcCIhw.3d"


class FakeAgentRuntime:
    """Stands in for a bedrock-agent-runtime client; records calls, returns canned stream events."""

    def __init__(self, events_: list[dict]):
        self.events = events_
        self.calls: list[dict] = []

    def invoke_agent(self, **kwargs: Any) -> dict:
        self.calls.append(kwargs)
        return {"completion": iter(self.events), "sessionId": kwargs["sessionId"]}


def test_bedrock_backend_fake_client_joins_chunks_and_sends_session(monkeypatch):
    # "°" is two bytes; splitting it across chunks must not garble it.
    degree = "°".encode()
    fake = FakeAgentRuntime(
        [
            {"trace": {"trace": {}}},
            {"chunk": {"bytes": b"Stable at 21.5" + degree[:1]}},
            {"chunk": {"bytes": degree[1:] + b"C. "}},
            {"chunk": {}},
        ]
    )
    aggregate = build_aggregate(
        "L0SM9cOFvHcCIhw=",
        [{"timestamp": 1, "sensorId": "temp-1", "type": "temperature", "value": Decimal("21.5"), "unit": "C"}],
        window_ms=2000,
        limit=50,
    )
    text = BedrockAgentBackend("AGENT12345", "TSTALIASID", client=fake).analyze(aggregate)
    assert text == "Stable at 21.5°C."
    (call,) = fake.calls
    assert call["agentId"] == "AGENT12345"
    assert call["agentAliasId"] == "TSTALIASID"
    assert call["sessionId"] == "L0SM9cOFvHcCIhw.3d"
    assert '"sensorId": "temp-1"' in call["inputText"]
    assert "L0SM9cOFvHcCIhw" not in call["inputText"]


def test_bedrock_backend_fake_client_with_no_chunks_returns_empty_text():
    fake = FakeAgentRuntime([{"trace": {"trace": {}}}])
    aggregate = build_aggregate("conn", [], window_ms=2000, limit=50)
    assert BedrockAgentBackend("AGENT12345", "TSTALIASID", client=fake).analyze(aggregate) == ""


# Bedrock on the wire: a real boto3 client parses an AWS event stream that a before-send hook returns.


def _event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded_headers = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        # name length, name, type 7 (string), value length, value
        encoded_headers += struct.pack("!B", len(raw_name)) + raw_name
        encoded_headers += struct.pack("!BH", 7, len(raw_value)) + raw_value
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded_headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + encoded_headers + payload
    return body + struct.pack("!I", binascii.crc32(body) & 0xFFFFFFFF)


def _chunk_event(data: bytes) -> bytes:
    return _event_stream_message(
        {":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"},
        json.dumps({"bytes": base64.b64encode(data).decode()}).encode(),
    )


class _RawStream:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, *args: Any, **kwargs: Any):
        yield self._data

    def close(self) -> None:
        pass


def wire_stub_bedrock(client: Any, chunks: list[bytes]) -> list[Any]:
    """Answer the client's InvokeAgent requests with an event stream of ``chunks``; return the requests."""
    requests: list[Any] = []

    def respond(request: Any, **_: Any) -> AWSResponse:
        requests.append(request)
        stream = b"".join(_chunk_event(chunk) for chunk in chunks)
        return AWSResponse(
            request.url,
            200,
            {"content-type": "application/vnd.amazon.eventstream", "x-amz-bedrock-agent-session-id": "s"},
            _RawStream(stream),
        )

    client.meta.events.register("before-send.bedrock-agent-runtime.InvokeAgent", respond)
    return requests


def test_bedrock_backend_wire_stub_parses_real_event_stream():
    client = boto3.client("bedrock-agent-runtime", region_name=REGION)
    requests = wire_stub_bedrock(client, [b"Temperature ", b"is steady."])
    aggregate = build_aggregate(
        "conn-1",
        [{"timestamp": 1, "sensorId": "temp-1", "type": "temperature", "value": Decimal("21.5"), "unit": "C"}],
        window_ms=2000,
        limit=50,
    )
    assert BedrockAgentBackend("AGENT12345", "TSTALIASID", client=client).analyze(aggregate) == "Temperature is steady."
    (request,) = requests
    assert request.url.endswith("/agents/AGENT12345/agentAliases/TSTALIASID/sessions/conn-1/text")
    assert "bedrock-agent-runtime.us-east-1.amazonaws.com" in request.url
    sent = json.loads(request.body)
    assert '"count": 1' in sent["inputText"]


def test_message_with_bedrock_backend_replies_with_agent_text_wire_stub(aws, monkeypatch):
    monkeypatch.setenv("ANALYSIS_BACKEND", "bedrock")
    monkeypatch.setenv("BEDROCK_AGENT_ID", "AGENT12345")
    monkeypatch.setenv("BEDROCK_AGENT_ALIAS_ID", "TSTALIASID")
    requests = wire_stub_bedrock(clients.bedrock_agent_runtime(), [b"All ", b"nominal."])
    assert message.handler(ws_event(reading_message()), lambda_context())["statusCode"] == 200
    (frame,) = frames()
    assert (frame["type"], frame["data"], frame["aggregate"]["count"]) == ("ai-description", "All nominal.", 1)
    assert f"/sessions/{CONN}/text" in requests[0].url


def test_message_with_failing_bedrock_backend_returns_500_and_error_frame_stubber_based(aws, monkeypatch):
    monkeypatch.setenv("ANALYSIS_BACKEND", "bedrock")
    monkeypatch.setenv("BEDROCK_AGENT_ID", "AGENT12345")
    monkeypatch.setenv("BEDROCK_AGENT_ALIAS_ID", "TSTALIASID")
    with Stubber(clients.bedrock_agent_runtime()) as stubber:
        stubber.add_client_error(
            "invoke_agent", service_error_code="AccessDeniedException", service_message="no", http_status_code=403
        )
        result = message.handler(ws_event(reading_message()), lambda_context())
    assert result["statusCode"] == 500
    assert "AccessDenied" not in result["body"]
    assert frames() == [{"type": "error", "error": message.ANALYSIS_ERROR_FRAME}]
    assert len(stored_readings(aws)) == 1


# ---------------------------------------------------------------------------------------- properties

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=140),
    st.lists(st.integers(), max_size=2),
)
_near_valid = st.fixed_dictionaries(
    {"action": st.sampled_from(["sensor-data", "sensor-data", "other"]), "data": st.dictionaries(
        st.sampled_from(["sensorId", "type", "value", "unit", "timestamp", "extra"]), _field_values, max_size=6
    )}
)
_bodies = st.one_of(
    st.text(max_size=200),
    _json_values.map(json.dumps),
    _near_valid.map(json.dumps),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies)
def test_property_message_handler_always_answers_200_or_400(aws, body):
    result = message.handler(ws_event(body), lambda_context())
    assert isinstance(result, dict)
    assert result["statusCode"] in {200, 400}
    if result["statusCode"] == 400:
        assert frames()[-1]["type"] == "error"


@settings(max_examples=100, deadline=None)
@given(
    sensor_id=st.text(min_size=1, max_size=128).filter(lambda s: s.strip()),
    value=st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(min_value=-1e100, max_value=1e100).filter(lambda v: v == 0 or abs(v) >= 1e-100),
    ),
)
def test_property_valid_readings_parse_exactly(sensor_id, value):
    body = json.dumps({"action": "sensor-data", "data": {"sensorId": sensor_id, "type": "t", "value": value}})
    reading = validation.parse_message({"body": body}, 32768, NOW_MS)
    assert reading.sensor_id == sensor_id
    assert float(reading.value) == float(value)
    assert reading.timestamp_ms == NOW_MS
