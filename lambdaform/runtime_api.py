"""A local Lambda Runtime API: the HTTP interface a Lambda runtime polls for events and answers on.

It serves the four endpoints of the 2018-06-01 API on 127.0.0.1 (a free port), the way Lambda does:

* ``GET  /2018-06-01/runtime/invocation/next``: long-polls until an event is queued, then answers it with
  the headers ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn``, ``-Trace-Id``
  and, when given, ``-Client-Context`` and ``-Cognito-Identity``. Once the queue is closed and empty, or the
  server is shutting down, it answers 500, which tells a runtime that the environment is going away.
* ``POST /2018-06-01/runtime/invocation/<id>/response``: the invocation's result.
* ``POST /2018-06-01/runtime/invocation/<id>/error``: an invocation error (error JSON in the body, its type
  in ``Lambda-Runtime-Function-Error-Type``).
* ``POST /2018-06-01/runtime/init/error``: the runtime could not initialize.

Use it as a context manager; ``enqueue`` an event and ``wait_for_result`` (bounded, on a condition
variable: no polling) to get what the runtime posted::

    with RuntimeAPI() as api:
        request_id = api.enqueue({"name": "Ada"}, timeout_seconds=3)
        ...start a runtime with AWS_LAMBDA_RUNTIME_API=api.address...
        outcome = api.wait_for_result(request_id, timeout_seconds=3)

Everything the runtime posted is also kept (``responses``, ``errors``, ``init_errors``, ``order``,
``next_calls``) for tests that drive a runtime through many events.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple

API_PREFIX = "/2018-06-01/runtime"
DEFAULT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:lambdaform-local"
FAR_DEADLINE_MS = 4102444800000  # 2100-01-01: for events queued without a timeout


@dataclass(frozen=True)
class Invocation:
    """One queued event and the headers ``/next`` hands out with it."""

    request_id: str
    event: bytes
    timeout_seconds: float | None = None
    """The deadline is this long after the runtime takes the event (none: a far-future deadline)."""
    function_arn: str = DEFAULT_FUNCTION_ARN
    trace_id: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None


class PostedError(NamedTuple):
    """An error the runtime posted: its JSON body and the ``Lambda-Runtime-Function-Error-Type`` header."""

    body: dict[str, Any]
    error_type: str | None


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended, as seen from the API.

    ``kind`` is ``response`` or ``error`` (the runtime answered), ``init_error`` (the runtime reported
    that it could not start; ``error`` holds what it said), ``exited`` (the runtime process ended without
    answering), or ``timeout`` (no answer in time)."""

    kind: Literal["response", "error", "init_error", "exited", "timeout"]
    request_id: str
    body: bytes = b""
    error: PostedError | None = None
    duration_seconds: float | None = None
    """From the moment the runtime took the event to its answer (None if it never took it)."""


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def _parse_error(body: bytes, header: str | None) -> PostedError:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"errorMessage": body.decode("utf-8", "replace"), "errorType": header or "Runtime.Unknown"}
    return PostedError(parsed, header)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime that is killed drops its keep-alive connection: expected, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class RuntimeAPI:
    """A threaded Runtime API server on ``127.0.0.1``; ``address`` is the ``host:port`` for
    ``AWS_LAMBDA_RUNTIME_API``. Start and stop it with ``with`` (or ``start()`` / ``shutdown()``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._cond = threading.Condition()
        self._queue: deque[Invocation] = deque()
        self._delivered: dict[str, float] = {}  # request id -> monotonic time the runtime took it
        self._finished: dict[str, Outcome] = {}
        self._queue_closed = False
        self._stopping = False
        self._exit_status: int | None = None
        self.next_calls = 0
        self.order: list[tuple[str, str]] = []
        """``(kind, request id)`` of every post in arrival order; kind is response, error or init/error."""
        self.responses: dict[str, bytes] = {}
        self.errors: dict[str, PostedError] = {}
        self.init_errors: list[PostedError] = []
        self._server = _Server((host, port), _handler_class(self))
        bound_host, bound_port = self._server.server_address[:2]
        self.address = f"{bound_host}:{bound_port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> RuntimeAPI:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"runtime-api-{self.address}", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Answer waiting ``/next`` calls with 500, stop serving and close the socket."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RuntimeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- the caller's side ---------------------------------------------------------------------------
    def enqueue(
        self,
        event: Any,
        *,
        request_id: str | None = None,
        timeout_seconds: float | None = None,
        function_arn: str = DEFAULT_FUNCTION_ARN,
        trace_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
    ) -> str:
        """Queue an event (bytes are sent as they are, anything else as JSON); return its request id."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        invocation = Invocation(
            request_id=request_id or str(uuid.uuid4()), event=body, timeout_seconds=timeout_seconds,
            function_arn=function_arn, trace_id=trace_id or _trace_id(),
            client_context=client_context, cognito_identity=cognito_identity,
        )
        with self._cond:
            self._queue.append(invocation)
            self._cond.notify_all()
        return invocation.request_id

    def close_queue(self) -> None:
        """No more events: once the queue is empty, ``/next`` answers 500 (the environment is shutting
        down), which makes a well-behaved runtime exit."""
        with self._cond:
            self._queue_closed = True
            self._cond.notify_all()

    def runtime_exited(self, status: int) -> None:
        """Tell the API that the runtime process ended, so waiters stop waiting for it."""
        with self._cond:
            self._exit_status = status
            self._cond.notify_all()

    @property
    def exit_status(self) -> int | None:
        with self._cond:
            return self._exit_status

    def _gone(self) -> bool:
        return bool(self.init_errors) or self._exit_status is not None

    def wait_for_delivery(self, request_id: str, timeout_seconds: float) -> bool:
        """Wait until the runtime took the event; False if it did not in time, failed to initialize or
        exited first."""
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._delivered or self._gone(), timeout_seconds)
            return request_id in self._delivered

    def wait_for_result(self, request_id: str, timeout_seconds: float) -> Outcome:
        """Wait (at most ``timeout_seconds``) for the runtime's answer to one event."""
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._finished or self._gone(), timeout_seconds)
            if request_id in self._finished:
                return self._finished[request_id]
            delivered = self._delivered.get(request_id)
            duration = None if delivered is None else time.monotonic() - delivered
            if self.init_errors:
                return Outcome("init_error", request_id, error=self.init_errors[0], duration_seconds=duration)
            if self._exit_status is not None:
                return Outcome("exited", request_id, duration_seconds=duration)
            return Outcome("timeout", request_id, duration_seconds=duration)

    # -- the runtime's side (called by the request handler) ------------------------------------------
    def _next(self) -> Invocation | None:
        with self._cond:
            self.next_calls += 1
            self._cond.wait_for(lambda: self._queue or self._queue_closed or self._stopping or self.init_errors)
            if self._stopping or self.init_errors or not self._queue:
                return None
            invocation = self._queue.popleft()
            self._delivered[invocation.request_id] = time.monotonic()
            self._cond.notify_all()
            return invocation

    def _post(self, kind: str, request_id: str, body: bytes, error_type: str | None) -> bool:
        """Record an answer; False when the request id was never handed out or was already answered."""
        with self._cond:
            if kind == "init/error":
                self.init_errors.append(_parse_error(body, error_type))
                self.order.append((kind, ""))
                self._cond.notify_all()
                return True
            if request_id not in self._delivered or request_id in self._finished:
                return False
            duration = time.monotonic() - self._delivered[request_id]
            if kind == "response":
                self.responses[request_id] = body
                outcome = Outcome("response", request_id, body=body, duration_seconds=duration)
            else:
                posted = _parse_error(body, error_type)
                self.errors[request_id] = posted
                outcome = Outcome("error", request_id, body=body, error=posted, duration_seconds=duration)
            self._finished[request_id] = outcome
            self.order.append((kind, request_id))
            self._cond.notify_all()
            return True


def _handler_class(api: RuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as runtimes expect

        def log_message(self, format: str, *args: Any) -> None:  # the runtime's logs are what matter
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self) -> None:
            if self.path != f"{API_PREFIX}/invocation/next":
                self._reply(404, b'{"errorMessage":"unknown path","errorType":"InvalidRequest"}')
                return
            invocation = api._next()
            if invocation is None:
                self._reply(500, b'{"errorMessage":"the environment is shutting down","errorType":"Runtime.Shutdown"}')
                return
            if invocation.timeout_seconds is None:
                deadline = FAR_DEADLINE_MS
            else:
                deadline = int(time.time() * 1000 + invocation.timeout_seconds * 1000)
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            }
            if invocation.client_context is not None:
                headers["Lambda-Runtime-Client-Context"] = invocation.client_context
            if invocation.cognito_identity is not None:
                headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
            self._reply(200, invocation.event, headers)

        def do_POST(self) -> None:
            body = self._body()
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
            parts = self.path.removeprefix(API_PREFIX + "/").split("/")
            if parts == ["init", "error"]:
                kind, request_id = "init/error", ""
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                kind, request_id = parts[2], parts[1]
            else:
                self._reply(404, b'{"errorMessage":"unknown path","errorType":"InvalidRequest"}')
                return
            if not api._post(kind, request_id, body, error_type):
                self._reply(400, b'{"errorMessage":"unknown or already answered request id",'
                                 b'"errorType":"InvalidRequestID"}')
                return
            self._reply(202, b'{"status":"OK"}')

    return Handler
