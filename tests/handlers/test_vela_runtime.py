"""handlers/vela_runtime: the Vela interpreter, and the bootstrap against lambdaform's local Lambda Runtime API."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdaform.runtime_api import RuntimeAPI

PACKAGE = Path(__file__).resolve().parents[2] / "handlers" / "vela_runtime"
BOOTSTRAP = PACKAGE / "bootstrap"
VELA = PACKAGE / "runtime" / "vela"
APP = PACKAGE / "app.velac"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl")


# ----------------------------------------------------------------------------------- helpers
def function_url_event(query: dict[str, str] | None = None) -> dict[str, Any]:
    """A Lambda Function URL event (payload format 2.0) for GET /."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws", "x-forwarded-proto": "https"},
        "requestContext": {
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": "9f1c2a3b",
            "timeEpoch": 1710270238000,
        },
        "isBase64Encoded": False,
    }
    if query is not None:  # Function URLs omit the key when there is no query string
        event["queryStringParameters"] = query
    return event


def hello_response(name: str) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"Hello, {name}!"}),
    }


def decode_response(raw: bytes) -> dict[str, Any]:
    response = json.loads(raw)
    response["body"] = json.dumps(json.loads(response["body"]))  # normalise the inner JSON's spacing
    return response


def run_vela(program: Path, event: bytes | str) -> subprocess.CompletedProcess[bytes]:
    data = event.encode() if isinstance(event, str) else event
    return subprocess.run([str(VELA), str(program)], input=data, capture_output=True, timeout=10)


def last_error(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode().strip().splitlines()[-1]


def write_program(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------- Runtime API
@pytest.fixture
def runtime_api() -> Iterator[RuntimeAPI]:
    """lambdaform's local Runtime API; run_bootstrap closes its queue, so /next answers 500 once the
    queued events are served (as Lambda does when the environment shuts down) and the bootstrap exits:
    the test then has every post it is going to get."""
    with RuntimeAPI() as api:
        yield api


def run_bootstrap(
    api: RuntimeAPI, task_root: Path, handler: str, tmp_path: Path, timeout: float = 15
) -> subprocess.CompletedProcess[str]:
    """Run bootstrap until it exits (the API makes it exit once the queue is drained)."""
    api.close_queue()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        "TMPDIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [str(BOOTSTRAP)], env=env, cwd=task_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"bootstrap did not exit within {timeout}s; stderr:\n{stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture
def task_root_with(tmp_path: Path):
    """A function package holding the given program; the runtime comes from the real package
    (as a layer would provide it), so these tests exercise the real bootstrap and interpreter."""

    def make(program_name: str, text: str) -> Path:
        root = tmp_path / "task"
        root.mkdir(exist_ok=True)
        (root / program_name).write_text(text)
        return root

    return make


# ----------------------------------------------------------------------------------- the package
@pytest.mark.parametrize("path", [BOOTSTRAP, VELA], ids=["bootstrap", "runtime/vela"])
def test_executables_are_executable_bash_scripts(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o755 == 0o755, f"{path.name} has mode {oct(mode)}; Lambda needs it executable"
    assert path.read_text().startswith("#!/bin/bash\n")
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


def test_app_program_is_valid_bytecode() -> None:
    result = subprocess.run([str(VELA), "--check", str(APP)], capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert APP.read_text().splitlines()[0] == "VELAC 1"


# ----------------------------------------------------------------------------------- the interpreter
@pytest.mark.parametrize(
    ("query", "name"),
    [({"name": "Ada"}, "Ada"), (None, "World"), ({"name": ""}, "World"), ({"lang": "es"}, "World")],
    ids=["name", "no-query-string", "empty-name", "other-parameter"],
)
def test_app_greets_function_url_callers(query: dict[str, str] | None, name: str) -> None:
    result = run_vela(APP, json.dumps(function_url_event(query)))
    assert result.returncode == 0, result.stderr
    assert decode_response(result.stdout) == hello_response(name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30),
    ascii_only=st.booleans(),
)
def test_app_round_trips_any_name(name: str, ascii_only: bool) -> None:
    """Quotes, backslashes, control characters, \\u escapes and raw UTF-8 all survive decoding
    and the two levels of JSON encoding in the response."""
    event = json.dumps(function_url_event({"name": name}), ensure_ascii=ascii_only).encode()
    result = run_vela(APP, event)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert json.loads(response["body"]) == {"message": f"Hello, {name or 'World'}!"}


def test_get_reads_nested_paths_and_scalar_types(tmp_path: Path) -> None:
    program = write_program(
        tmp_path,
        "types.velac",
        """VELAC 1
READ_EVENT
OBJECT
GET items.1.price
FIELD price
GET flags.active
FIELD active
GET note
FIELD note
GET absent.key
FIELD absent
GET text
FIELD "quoted \\"key\\""
PUSH "n="
GET items.0.qty
CONCAT
FIELD label
EMIT
""",
    )
    event = {
        "items": [{"qty": 3}, {"price": -12.5e2}],
        "flags": {"active": False},
        "note": None,
        "text": "tab\there \u00e9 \U0001f600",
    }
    result = run_vela(program, '  \n' + json.dumps(event, indent=2) + '\n ')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "price": -1250.0,
        "active": False,
        "note": None,
        "absent": None,
        'quoted "key"': "tab\there \u00e9 \U0001f600",
        "label": "n=3",
    }


@pytest.mark.parametrize(
    "event",
    [
        "not json",
        "",
        '{"a": 1} trailing',
        '{"a": 1,}',
        '[1, 2',
        '{"a": "unterminated}',
        '{"a": "bad \\q escape"}',
        '{"a": "\\ud83d alone"}',
        '{"a": "nul \\u0000"}',
        '{"a": 01}',
        '{"a": tru}',
        '{"a": "raw\nnewline"}',
        "[" * 70 + "]" * 70,
    ],
    ids=[
        "not-json", "empty", "trailing-data", "trailing-comma", "unclosed-array", "unterminated-string",
        "bad-escape", "lone-surrogate", "nul", "leading-zero", "bad-literal", "raw-control-char", "too-deep",
    ],
)
def test_invalid_events_fail_with_event_parse_error(event: str) -> None:
    result = run_vela(APP, event)
    assert result.returncode == 1
    assert result.stdout == b""
    assert last_error(result).startswith("vela: error: Vela.EventParseError: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("READ_EVENT\nEMIT\n", "expected header 'VELAC 1'"),
        ("VELAC 2\nEMIT\n", "expected header 'VELAC 1'"),
        ("VELAC 1\n", "no instructions"),
        ("VELAC 1\nJUMP 3\n", "unknown instruction 'JUMP'"),
        ("VELAC 1\nPUSH hello\n", "PUSH needs one JSON string literal"),
        ('VELAC 1\nPUSH "a" "b"\n', "PUSH needs one JSON string literal"),
        ("VELAC 1\nPUSH_NUM 1x\n", "PUSH_NUM needs a JSON number"),
        ("VELAC 1\nGET a..b\n", "GET needs a dotted path"),
        ("VELAC 1\nEMIT now\n", "EMIT takes no operand"),
    ],
    ids=["no-header", "wrong-version", "empty", "unknown-op", "bare-literal", "two-literals", "bad-number", "bad-path", "extra-operand"],
)
def test_invalid_bytecode_is_rejected_before_running(tmp_path: Path, text: str, message: str) -> None:
    program = write_program(tmp_path, "bad.velac", text)
    check = subprocess.run([str(VELA), "--check", str(program)], capture_output=True, timeout=10)
    run = run_vela(program, "{}")
    for result in (check, run):
        assert result.returncode == 2
        assert last_error(result).startswith("vela: error: Vela.BytecodeError: ")
        assert message in last_error(result)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('VELAC 1\nFAIL "refusing: \\"x\\""\n', 'Vela.ProgramError: refusing: "x"'),
        ("VELAC 1\nREAD_EVENT\nPUSH \"a\"\n", "Vela.ProgramError: program ended without EMIT"),
        ("VELAC 1\nCONCAT\n", "Vela.StackError: line 2: CONCAT on an empty stack"),
        ("VELAC 1\nREAD_EVENT\nGET queryStringParameters\nEMIT\n", "Vela.TypeError"),
        ('VELAC 1\nPUSH "x"\nPUSH "v"\nFIELD k\n', "Vela.TypeError: line 4: FIELD needs an OBJECT"),
        ("VELAC 1\nGET a\n", "Vela.ProgramError: line 2: GET before READ_EVENT"),
    ],
    ids=["fail", "no-emit", "stack-underflow", "get-object", "field-without-object", "get-before-read"],
)
def test_runtime_failures_exit_1_with_a_typed_error(tmp_path: Path, text: str, error: str) -> None:
    program = write_program(tmp_path, "p.velac", text)
    result = run_vela(program, json.dumps(function_url_event({"name": "Ada"})))
    assert result.returncode == 1
    assert result.stdout == b""
    assert last_error(result).startswith(f"vela: error: {error}")


# ----------------------------------------------------------------------------------- the bootstrap
def test_bootstrap_serves_each_invocation(runtime_api: RuntimeAPI, tmp_path: Path) -> None:
    runtime_api.enqueue(request_id="req-1", event=function_url_event({"name": "Ada"}))
    runtime_api.enqueue(request_id="req-2", event=function_url_event(None))
    runtime_api.enqueue(request_id="req-3", event=function_url_event({"name": 'Grace "Amazing" \\ Hopper ✓'}))

    result = run_bootstrap(runtime_api, PACKAGE, "app.velac", tmp_path)

    assert runtime_api.order == [("response", "req-1"), ("response", "req-2"), ("response", "req-3")]
    assert decode_response(runtime_api.responses["req-1"]) == hello_response("Ada")
    assert decode_response(runtime_api.responses["req-2"]) == hello_response("World")
    assert decode_response(runtime_api.responses["req-3"]) == hello_response('Grace "Amazing" \\ Hopper ✓')
    assert runtime_api.errors == {} and runtime_api.init_errors == []
    # It asked for a fourth invocation, got the shutdown 500, and exited.
    assert runtime_api.next_calls == 4
    assert result.returncode == 1
    logs = [json.loads(line) for line in result.stderr.splitlines()]
    assert logs[-1]["level"] == "ERROR" and "answered 500" in logs[-1]["message"]
    assert not list(tmp_path.glob("vela-runtime.*")), "bootstrap left its work directory behind"


def test_bootstrap_reports_a_failed_invocation_and_keeps_serving(
    runtime_api: RuntimeAPI, tmp_path: Path
) -> None:
    runtime_api.enqueue(request_id="ok-1", event=function_url_event({"name": "Ada"}))
    runtime_api.enqueue(request_id="bad-json", event=b"{this is not json")
    runtime_api.enqueue(request_id="bad-type", event=function_url_event({"name": "x"}) | {"queryStringParameters": {"name": {"nested": 1}}})
    runtime_api.enqueue(request_id="ok-2", event=function_url_event({"name": "Linus"}))

    result = run_bootstrap(runtime_api, PACKAGE, "app.velac", tmp_path)

    assert runtime_api.order == [("response", "ok-1"), ("error", "bad-json"), ("error", "bad-type"), ("response", "ok-2")]
    assert decode_response(runtime_api.responses["ok-2"]) == hello_response("Linus")

    body, header = runtime_api.errors["bad-json"]
    assert header == "Unhandled"
    assert body["errorType"] == "Vela.EventParseError"
    assert body["errorMessage"].startswith("event is not valid JSON")
    body, header = runtime_api.errors["bad-type"]
    assert header == "Unhandled"
    assert body["errorType"] == "Vela.TypeError"
    assert "queryStringParameters.name" in body["errorMessage"]
    # The interpreter's diagnostics reach the function's log.
    assert "vela: error: Vela.EventParseError" in result.stderr


def test_bootstrap_reports_program_failures_with_their_message(
    runtime_api: RuntimeAPI, task_root_with, tmp_path: Path
) -> None:
    root = task_root_with("guard.velac", 'VELAC 1\nREAD_EVENT\nFAIL "payment service said: \\"no\\"\\n"\n')
    runtime_api.enqueue(request_id="r1", event={"amount": 1})
    runtime_api.enqueue(request_id="r2", event={"amount": 2})

    run_bootstrap(runtime_api, root, "guard.velac", tmp_path)

    assert runtime_api.responses == {}
    assert set(runtime_api.errors) == {"r1", "r2"}
    for body, header in runtime_api.errors.values():
        assert header == "Unhandled"
        assert body == {"errorMessage": 'payment service said: "no" ', "errorType": "Vela.ProgramError", "stackTrace": []}


@pytest.mark.parametrize(
    ("handler", "program", "error_type", "message"),
    [
        ("missing.velac", None, "Runtime.HandlerNotFound", "program 'missing.velac' not found"),
        ("", None, "Runtime.HandlerNotFound", "_HANDLER is empty"),
        ("../app.velac", None, "Runtime.HandlerNotFound", "must be a path inside LAMBDA_TASK_ROOT"),
        ("broken.velac", "VELAC 1\nREAD_EVENT\nTELEPORT\n", "Runtime.InvalidProgram", "line 3: unknown instruction 'TELEPORT'"),
    ],
    ids=["missing-program", "empty-handler", "path-escape", "invalid-bytecode"],
)
def test_bootstrap_reports_init_errors_and_exits(
    runtime_api: RuntimeAPI,
    task_root_with,
    tmp_path: Path,
    handler: str,
    program: str | None,
    error_type: str,
    message: str,
) -> None:
    root = task_root_with("other.velac", APP.read_text())
    if program is not None:
        (root / handler).write_text(program)
    runtime_api.enqueue(request_id="never", event=function_url_event({"name": "Ada"}))

    result = run_bootstrap(runtime_api, root, handler, tmp_path)

    assert result.returncode == 1
    assert runtime_api.next_calls == 0, "bootstrap must not take invocations after a failed init"
    assert len(runtime_api.init_errors) == 1
    body, header = runtime_api.init_errors[0]
    assert header == error_type
    assert body["errorType"] == error_type
    assert message in body["errorMessage"]
