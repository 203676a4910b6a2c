"""handlers/hello (the default blueprint): the Function URL handler, in-process and as the packaged zip."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hello_app import handler as hello
from main import app
from support import ROOT


def url_event(method: str = "GET", name: str | None = None) -> dict:
    return {"rawPath": "/", "requestContext": {"http": {"method": method}},
            "queryStringParameters": {"name": name} if name is not None else None}


def body(result: dict) -> dict:
    assert result["headers"] == {"content-type": "application/json"}
    return json.loads(result["body"])


def test_greets_by_name_and_by_default(monkeypatch):
    assert hello.handler(url_event(name="Ada"), None) == {
        "statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"message": "Hello, Ada!"}'}
    monkeypatch.setenv("DEFAULT_NAME", "team")
    assert body(hello.handler(url_event(), None)) == {"message": "Hello, team!"}


@pytest.mark.parametrize("name", ["   ", "x" * 65, "<script>", "a;b"])
def test_a_bad_name_is_a_400_with_the_reason(name):
    result = hello.handler(url_event(name=name), None)
    assert result["statusCode"] == 400
    assert "name must be 1-64 letters" in body(result)["error"]


def test_other_methods_are_405_and_a_bug_is_a_500_not_a_crash(monkeypatch, capsys):
    assert hello.handler(url_event("POST"), None)["statusCode"] == 405

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(hello, "_answer", lambda status, payload, real=hello._answer: (
        broken() if status == 200 else real(status, payload)))
    result = hello.handler(url_event(name="Ada"), None)
    assert result["statusCode"] == 500 and body(result) == {"error": "internal error"}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(entry.get("error") == "RuntimeError" for entry in logged)


def test_the_packaged_zip_answers_through_the_runtime_interface_client(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(url_event(name="Grace")))
    result = CliRunner().invoke(app, ["invoke", "hello", str(ROOT / "examples" / "hello.yaml"), "--event", str(event),
                                      "--env", "dev", "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"]) == {"message": "Hello, Grace!"}
