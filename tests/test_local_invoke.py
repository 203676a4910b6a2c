"""`lambdaform invoke`: the packaged zip runs locally, without Docker, in the function's own runtime."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lambdaform import local_invoke
from lambdaform.commands import invoke as invoke_command
from lambdaform.errors import InputError
from lambdaform.local_invoke import host_architecture, invoke_zip
from lambdaform.packaging import build_zip
from lambdaform.runtime_api import API_PREFIX, RuntimeAPI
from main import app
from support import ROOT

runner = CliRunner()
VELA_EXAMPLE = ROOT / "examples" / "vela-runtime.yaml"

pytestmark = pytest.mark.skipif(host_architecture() != "x86_64", reason="the examples are x86_64 functions")

HANDLER = '''\
import logging
import sys
import time

from shop.prices import total

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    print(f"pricing {len(event.get('items', []))} items")
    logger.info("request %s", context.aws_request_id)
    if event.get("fail"):
        raise LookupError(f"no price for {event['fail']}")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"total": total(event.get("items", [])), "python": list(sys.version_info[:2]),
            "function": context.function_name, "memory": context.memory_limit_in_mb}
'''


def write_function(folder: Path, runtime: str = "python3.11", architecture: str = "x86_64",
                   handler_text: str = HANDLER, timeout_seconds: int = 10) -> Path:
    """A service with one zip function whose handler imports a module from its own package."""
    source = folder / "handlers" / "pricing"
    (source / "shop").mkdir(parents=True)
    (source / "shop" / "__init__.py").write_text("")
    (source / "shop" / "prices.py").write_text("def total(items):\n    return sum(i['price'] * i['qty'] for i in items)\n")
    (source / "app.py").write_text(handler_text)
    service = folder / "service.yaml"
    service.write_text(f"""\
project: pricing
region: eu-west-1
environments: {{dev: {{}}}}
functions:
  quote:
    source: handlers/pricing
    handler: app.handler
    runtime: {runtime}
    architecture: {architecture}
    memory_mb: 256
    timeout_seconds: {timeout_seconds}
""")
    return service


def package(folder: Path, files: dict[str, str]) -> Path:
    source = folder / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    archive = folder / "function.zip"
    archive.write_bytes(build_zip(source).data)
    return archive


def processes_with(marker: str) -> list[str]:
    """Live processes whose environment holds ``marker`` (zombies have none left to read)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{entry.name}: {command}")
        except OSError:
            continue
    return found


def write_event(folder: Path, event: object) -> Path:
    path = folder / "event.json"
    path.write_text(json.dumps(event))
    return path


# ----------------------------------------------------------------------------------- the Runtime API
def test_runtime_api_long_polls_and_hands_out_lambda_headers() -> None:
    with RuntimeAPI() as api:
        conn = http.client.HTTPConnection(api.address, timeout=30)
        conn.request("GET", f"{API_PREFIX}/invocation/next")  # asked before anything is queued: it waits
        request_id = api.enqueue({"a": 1}, timeout_seconds=5, client_context='{"custom":{}}',
                                 cognito_identity='{"cognitoIdentityId":"x"}')
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {"a": 1}
        assert response.headers["Lambda-Runtime-Aws-Request-Id"] == request_id
        assert response.headers["Lambda-Runtime-Client-Context"] == '{"custom":{}}'
        assert response.headers["Lambda-Runtime-Cognito-Identity"] == '{"cognitoIdentityId":"x"}'
        assert response.headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
        assert response.headers["Lambda-Runtime-Invoked-Function-Arn"].startswith("arn:aws:lambda:")
        assert int(response.headers["Lambda-Runtime-Deadline-Ms"]) > 0

        def post(body: bytes) -> int:
            conn.request("POST", f"{API_PREFIX}/invocation/{request_id}/response", body)
            answer = conn.getresponse()
            answer.read()
            return answer.status

        assert post(b'{"ok":true}') == 202
        outcome = api.wait_for_result(request_id, timeout_seconds=10)
        assert outcome.kind == "response" and outcome.body == b'{"ok":true}'
        assert post(b"{}") == 400  # answered already
        conn.close()


# ----------------------------------------------------------------------------------- through the CLI
def test_vela_custom_runtime_answers_through_invoke(tmp_path: Path) -> None:
    event = write_event(tmp_path, {"queryStringParameters": {"name": "Ada"}, "rawQueryString": "name=Ada"})
    result = runner.invoke(app, ["invoke", "hello", str(VELA_EXAMPLE), "--event", str(event), "--quiet"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["statusCode"] == 200
    assert json.loads(payload["body"]) == {"message": "Hello, Ada!"}
    assert "initialized: program app.velac" in result.stderr  # the bootstrap's own log line


def test_zip_function_returns_its_payload_and_logs(tmp_path: Path) -> None:
    service = write_function(tmp_path, runtime="python3.11")
    result = invoke_command(service, "quote", write_event(tmp_path, {"items": [{"price": 3, "qty": 2}, {"price": 1, "qty": 4}]}))
    assert result.error is None, result.logs
    assert result.payload == {"total": 10, "python": [3, 11], "function": "pricing-dev-quote", "memory": "256"}
    assert "pricing 2 items" in result.logs  # print()
    assert "[INFO]\t" in result.logs and f"request {result.request_id}" in result.logs  # logging


def test_python312_runtime_runs_under_312(tmp_path: Path) -> None:
    service = write_function(tmp_path, runtime="python3.12")
    result = invoke_command(service, "quote")
    assert result.error is None, result.logs
    assert result.payload["python"] == [3, 12]
    assert result.python is not None and result.python.name.startswith("python3.12")


def test_failing_handler_gives_error_and_exit_1(tmp_path: Path) -> None:
    service = write_function(tmp_path)
    event = write_event(tmp_path, {"fail": "sku-42"})
    result = runner.invoke(app, ["invoke", "quote", str(service), "--event", str(event), "--quiet"])
    assert result.exit_code == 1, result.stderr
    error = json.loads(result.stdout)
    assert error["errorType"] == "LookupError"
    assert error["errorMessage"] == "no price for sku-42"
    assert "LookupError: no price for sku-42" in result.stderr
    assert "Traceback" in result.stderr  # the function's own traceback, as its logs show it


def test_a_dependency_missing_from_the_zip_fails_as_in_lambda(tmp_path: Path) -> None:
    """yaml is installed where lambdaform runs, but not in the package: the function must not see it."""
    archive = package(tmp_path, {"app.py": "import yaml\n\ndef handler(event, context):\n    return 1\n"})
    result = invoke_zip(archive, runtime="python3.11", handler="app.handler", timeout_seconds=5)
    assert result.error is not None and result.error.phase == "init"
    assert result.error.error_type == "Runtime.ImportModuleError"
    assert "No module named 'yaml'" in result.error.error_message


def test_layers_are_on_the_path(tmp_path: Path) -> None:
    layer_src = tmp_path / "layer" / "python" / "lib" / "python3.11" / "site-packages" / "layerlib"
    layer_src.mkdir(parents=True)
    (layer_src / "__init__.py").write_text("WHERE = 'site-packages layer'\n")
    (tmp_path / "layer" / "python" / "plain.py").write_text("WHERE = 'python/ layer'\n")
    layer = tmp_path / "layer.zip"
    layer.write_bytes(build_zip(tmp_path / "layer").data)
    archive = package(tmp_path, {"app.py": "import layerlib, plain\n\ndef handler(event, context):\n"
                                           "    return [layerlib.WHERE, plain.WHERE]\n"})
    result = invoke_zip(archive, runtime="python3.11", handler="app.handler", layers=[layer], timeout_seconds=5)
    assert result.error is None, result.logs
    assert result.payload == ["site-packages layer", "python/ layer"]


# ----------------------------------------------------------------------------------- refused, exit 2
def test_arm64_function_on_x86_64_is_refused(tmp_path: Path) -> None:
    service = write_function(tmp_path, architecture="arm64")
    result = runner.invoke(app, ["invoke", "quote", str(service)])
    assert result.exit_code == 2
    assert "built for arm64 and this machine is x86_64" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_python_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_invoke, "python_candidates", lambda version: [])
    service = write_function(tmp_path, runtime="python3.12")
    result = runner.invoke(app, ["invoke", "quote", str(service)])
    assert result.exit_code == 2
    assert "Python 3.12 is not installed here" in result.stderr
    assert "python3.12 on PATH" in result.stderr and "versions/3.12.*" in result.stderr


@pytest.mark.parametrize(("arguments", "message"), [
    (["nope"], "no function 'nope' (functions: quote)"),
    (["quote", "--env", "prod"], "environment 'prod' is not defined"),
])
def test_unknown_function_or_environment_exits_2(tmp_path: Path, arguments: list[str], message: str) -> None:
    service = write_function(tmp_path)
    result = runner.invoke(app, ["invoke", arguments[0], str(service), *arguments[1:]])
    assert result.exit_code == 2 and message in result.stderr


def test_image_function_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="image function; invoke runs zip functions"):
        invoke_command(ROOT / "service.yaml", "api")


def test_bad_event_file_exits_2(tmp_path: Path) -> None:
    service = write_function(tmp_path)
    event = tmp_path / "event.json"
    event.write_text("{not json")
    result = runner.invoke(app, ["invoke", "quote", str(service), "--event", str(event)])
    assert result.exit_code == 2 and "the event is not valid JSON" in result.stderr


# ----------------------------------------------------------------------------------- limits and cleanup
def test_timeout_is_enforced_and_no_process_is_left(tmp_path: Path) -> None:
    marker = f"LAMBDAFORM_TEST_{uuid.uuid4().hex}"
    archive = package(tmp_path, {"app.py": HANDLER, "shop/__init__.py": "",
                                 "shop/prices.py": "def total(items):\n    return 0\n"})
    result = invoke_zip(archive, runtime="python3.11", handler="app.handler", event={"sleep": 60},
                        timeout_seconds=1, environment={"TEST_MARKER": marker})
    assert result.error is not None
    assert result.error.error_type == "Sandbox.Timedout"
    assert result.error.error_message == "Task timed out after 1.00 seconds"
    assert "pricing 0 items" in result.logs  # it did start, and was stopped mid-handler
    assert processes_with(marker) == []


def test_custom_runtime_leaves_no_process_behind(tmp_path: Path) -> None:
    """The bootstrap is a shell loop that long-polls with curl; all of it must be gone afterwards."""
    marker = f"LAMBDAFORM_TEST_{uuid.uuid4().hex}"
    archive = tmp_path / "vela.zip"
    archive.write_bytes(build_zip(ROOT / "handlers" / "vela_runtime").data)
    result = invoke_zip(archive, runtime="provided.al2023", handler="app.velac", timeout_seconds=10,
                        event={"queryStringParameters": {"name": "Grace"}}, environment={"TEST_MARKER": marker})
    assert result.error is None, result.logs
    assert json.loads(result.payload["body"]) == {"message": "Hello, Grace!"}
    assert processes_with(marker) == []
