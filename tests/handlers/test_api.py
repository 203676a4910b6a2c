"""handlers/api: the NL2SQL FastAPI app, in-process and through its Lambda (Mangum) entry point."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mangum import Mangum
from nl2sql_api.answerer import PLACEHOLDER_SQL, Answer, Answerer, EchoAnswerer
from nl2sql_api.app import DEFAULT_SERVICE_NAME, DEFAULT_SERVICE_VERSION, create_app

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import time
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

API_ROOT = Path(__file__).resolve().parents[2] / "handlers" / "api"


# ----------------------------------------------------------------------------------- helpers
@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda Python runtime's context object that the app may read."""

    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name: str = "nl2sql-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nl2sql-api"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def function_url_event(
    method: str, path: str, body: str | bytes | None = None, *, base64_body: bool = False
) -> dict[str, Any]:
    """A Lambda Function URL event (payload format 2.0), as AWS sends it."""
    headers = {
        "host": "abcdefg.lambda-url.us-east-1.on.aws",
        "user-agent": "curl/8.5.0",
        "accept": "*/*",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-amzn-trace-id": "Root=1-65f0a1b2-0123456789abcdef01234567",
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefg",
            "domainName": "abcdefg.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefg",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "a1b2c3d4-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2024:19:03:58 +0000",
            "timeEpoch": 1710270238000,
        },
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        headers["content-type"] = "application/json"
        raw = body.encode() if isinstance(body, str) else body
        event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    return event


class RecordingAnswerer:
    """An Answerer that records its calls (stands in for a real NL2SQL engine)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def answer(self, question: str, max_rows: int) -> Answer:
        self.calls.append((question, max_rows))
        return Answer(sql="SELECT count(*) FROM customers LIMIT 1", answer="42 customers")


class ExplodingAnswerer:
    def answer(self, question: str, max_rows: int) -> Answer:
        raise RuntimeError("db password=hunter2 leaked in a stack trace")


def log_lines(captured: str) -> list[dict[str, Any]]:
    """The app's JSON log lines from captured stdout (every line must be JSON)."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app())


# ----------------------------------------------------------------------------------- health
def test_health_reports_service_and_version_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_NAME", "nl2sql-agent")
    monkeypatch.setenv("SERVICE_VERSION", "1.4.2")
    response = TestClient(create_app()).get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "nl2sql-agent", "version": "1.4.2"}


def test_health_defaults_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.delenv("SERVICE_VERSION", raising=False)
    response = TestClient(create_app()).get("/health")
    assert response.json() == {"status": "ok", "service": DEFAULT_SERVICE_NAME, "version": DEFAULT_SERVICE_VERSION}


# ----------------------------------------------------------------------------------- /ask
def test_ask_answers_with_the_placeholder_engine(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "  How many customers are there?  "})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "question": "How many customers are there?",
        "sql": PLACEHOLDER_SQL,
        "answer": EchoAnswerer().answer("How many customers are there?", 100).answer,
    }
    assert body["sql"] == "-- placeholder: no database configured"
    assert "How many customers are there?" in body["answer"]


def test_echo_answerer_is_a_deterministic_placeholder() -> None:
    echo = EchoAnswerer()
    assert isinstance(echo, Answerer)
    assert echo.answer("q?", 7) == echo.answer("q?", 7)
    assert echo.answer("q?", 7).sql == PLACEHOLDER_SQL
    assert "placeholder" in (EchoAnswerer.__doc__ or "").lower()


def test_ask_uses_the_injected_answerer_with_stripped_question_and_max_rows() -> None:
    engine = RecordingAnswerer()
    response = TestClient(create_app(answerer=engine)).post(
        "/ask", json={"question": "\tHow many customers?\n", "max_rows": 5}
    )
    assert response.status_code == 200
    assert response.json() == {
        "question": "How many customers?",
        "sql": "SELECT count(*) FROM customers LIMIT 1",
        "answer": "42 customers",
    }
    assert engine.calls == [("How many customers?", 5)]


def test_ask_max_rows_defaults_to_100() -> None:
    engine = RecordingAnswerer()
    TestClient(create_app(answerer=engine)).post("/ask", json={"question": "q"})
    assert engine.calls == [("q", 100)]


@pytest.mark.parametrize(
    "body",
    [
        {"question": "x" * 2000},
        {"question": "q", "max_rows": 1},
        {"question": "q", "max_rows": 1000},
    ],
    ids=["question-2000-chars", "max-rows-1", "max-rows-1000"],
)
def test_ask_accepts_boundary_values(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/ask", json=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({}, "missing", ["body", "question"]),
        ({"question": ""}, "string_too_short", ["body", "question"]),
        ({"question": " \t\n "}, "string_too_short", ["body", "question"]),
        ({"question": "x" * 2001}, "string_too_long", ["body", "question"]),
        ({"question": 123}, "string_type", ["body", "question"]),
        ({"question": "q", "max_rows": 0}, "greater_than_equal", ["body", "max_rows"]),
        ({"question": "q", "max_rows": 1001}, "less_than_equal", ["body", "max_rows"]),
        ({"question": "q", "max_rows": "5"}, "int_type", ["body", "max_rows"]),
        ({"question": "q", "max_rows": True}, "int_type", ["body", "max_rows"]),
        ({"question": "q", "max_rows": 2.5}, "int_type", ["body", "max_rows"]),
        ({"question": "q", "sql": "DROP TABLE users"}, "extra_forbidden", ["body", "sql"]),
        (["question"], "model_attributes_type", ["body"]),
    ],
    ids=[
        "missing-question",
        "empty-question",
        "blank-question",
        "question-too-long",
        "question-not-a-string",
        "max-rows-zero",
        "max-rows-too-large",
        "max-rows-string",
        "max-rows-bool",
        "max-rows-float",
        "extra-field",
        "body-not-an-object",
    ],
)
def test_ask_rejects_invalid_bodies_with_422(
    client: TestClient, body: Any, error_type: str, loc: list[str]
) -> None:
    response = client.post("/ask", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [(d["type"], d["loc"]) for d in detail] == [(error_type, loc)]


def test_ask_rejects_malformed_json(client: TestClient) -> None:
    response = client.post("/ask", content=b'{"question": "unterminated', headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_unknown_route_is_404_and_wrong_method_is_405(client: TestClient) -> None:
    missing = client.get("/v1/tables")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert client.get("/ask").status_code == 405


# ----------------------------------------------------------------------------------- errors and logs
def test_unhandled_error_is_a_json_500_without_trace(capsys: pytest.CaptureFixture[str]) -> None:
    client = TestClient(create_app(answerer=ExplodingAnswerer()))  # raise_server_exceptions=True
    response = client.post("/ask", json={"question": "q"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "internal error"}
    assert "hunter2" not in response.text and "Traceback" not in response.text

    logs = log_lines(capsys.readouterr().out)
    error = next(line for line in logs if line.get("event") == "unhandled_exception")
    assert error["level"] == "ERROR"
    assert error["error"] == "RuntimeError"
    assert "Traceback" in error["traceback"]  # the trace goes to the log, not the client
    access = next(line for line in logs if line.get("event") == "request")
    assert access["status"] == 500


def test_each_request_is_logged_as_json(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get("/health")
    client.post("/ask", json={})

    logs = [line for line in log_lines(capsys.readouterr().out) if line.get("event") == "request"]
    assert [(line["method"], line["path"], line["status"]) for line in logs] == [
        ("GET", "/health", 200),
        ("POST", "/ask", 422),
    ]
    for line in logs:
        assert line["level"] == "INFO"
        assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
        assert line["request_id"] is None  # not running in Lambda


# ----------------------------------------------------------------------------------- through Lambda
@pytest.fixture
def lambda_handler() -> Mangum:
    """The image's entry point, imported by the module path of its CMD."""
    module = importlib.import_module("nl2sql_api.lambda_handler")
    assert isinstance(module.handler, Mangum)
    return module.handler


def test_function_url_get_health(lambda_handler: Mangum, capsys: pytest.CaptureFixture[str]) -> None:
    context = FakeLambdaContext()
    result = lambda_handler(function_url_event("GET", "/health"), context)

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "application/json"
    assert result["isBase64Encoded"] is False
    body = json.loads(result["body"])
    settings = lambda_handler.app.state.settings
    assert body == {"status": "ok", "service": settings.service_name, "version": settings.service_version}

    access = [line for line in log_lines(capsys.readouterr().out) if line.get("event") == "request"]
    assert access[-1]["request_id"] == context.aws_request_id
    assert access[-1]["path"] == "/health"


@pytest.mark.parametrize("base64_body", [False, True], ids=["plain-body", "base64-body"])
def test_function_url_post_ask(lambda_handler: Mangum, base64_body: bool) -> None:
    payload = json.dumps({"question": "¿Cuántos clientes hay?", "max_rows": 10}, ensure_ascii=False)
    event = function_url_event("POST", "/ask", payload, base64_body=base64_body)

    result = lambda_handler(event, FakeLambdaContext())

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "application/json"
    body = json.loads(result["body"])
    assert body["question"] == "¿Cuántos clientes hay?"
    assert body["sql"] == PLACEHOLDER_SQL
    assert "¿Cuántos clientes hay?" in body["answer"]


def test_function_url_invalid_body_and_unknown_route(lambda_handler: Mangum) -> None:
    invalid = lambda_handler(function_url_event("POST", "/ask", '{"question": ""}'), FakeLambdaContext())
    assert invalid["statusCode"] == 422
    assert json.loads(invalid["body"])["detail"][0]["type"] == "string_too_short"

    missing = lambda_handler(function_url_event("GET", "/nope"), FakeLambdaContext())
    assert missing["statusCode"] == 404


def test_function_url_unhandled_error_is_500(caplog: pytest.LogCaptureFixture) -> None:
    handler = Mangum(create_app(answerer=ExplodingAnswerer()), lifespan="off")
    with caplog.at_level(logging.DEBUG, logger="mangum"):
        result = handler(function_url_event("POST", "/ask", '{"question": "q"}'), FakeLambdaContext())
    assert result["statusCode"] == 500
    assert result["headers"]["content-type"] == "application/json"
    assert json.loads(result["body"]) == {"error": "internal error"}
    # The app answered the error itself: Mangum saw no exception (and logged no raw traceback).
    assert not [r for r in caplog.records if r.name.startswith("mangum") and r.levelno >= logging.ERROR]


# ----------------------------------------------------------------------------------- packaging
def test_requirements_pin_the_tested_versions() -> None:
    pins = {}
    for line in (API_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    assert {"fastapi", "mangum", "pydantic"} <= pins.keys()
    for name, version in pins.items():
        assert version, f"{name} is not pinned"
        assert importlib.metadata.version(name) == version, f"{name}: image pins {version}"


def test_build_context_holds_one_package() -> None:
    packages = [p.name for p in API_ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert packages == ["nl2sql_api"]
    assert (API_ROOT / "nl2sql_api" / "lambda_handler.py").is_file()
