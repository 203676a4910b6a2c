"""Run a packaged Lambda zip locally, without Docker, the way Lambda runs it.

:func:`invoke_zip` extracts the zip into a task root (Lambda's ``/var/task``) and its layers into an
opt folder (``/opt``), starts a local :class:`~lambdaform.runtime_api.RuntimeAPI`, and runs the function's
own runtime against it:

* ``python3.X``: a fresh interpreter of exactly that minor version (``python3.X`` on ``PATH``, or pyenv's
  ``$PYENV_ROOT/versions/3.X.*``), isolated (``-I -S``: no ``PYTHONPATH``, no site-packages, no user site),
  running ``awslambdaric`` (the Lambda runtime interface client) with ``sys.path`` as Lambda sets it: the
  task root, the layers' ``python/lib/python3.X/site-packages`` and ``python/``, then awslambdaric, then the
  standard library. awslambdaric is installed once per Python version into
  ``~/.cache/lambdaform/ric/`` (``$XDG_CACHE_HOME`` is honoured), never into the package, so only what
  the zip (and its layers) carry can be imported: a dependency missing from the zip fails here as it
  would in Lambda.
* ``provided.*``: the zip's executable ``bootstrap`` (or a layer's), with the same variables.

The function gets Lambda's variables (``AWS_LAMBDA_RUNTIME_API``, ``LAMBDA_TASK_ROOT``, ``_HANDLER``,
``AWS_LAMBDA_FUNCTION_NAME``/``_MEMORY_SIZE``/``_VERSION``, ``AWS_REGION``...), dummy AWS credentials
unless real ones are passed, and its own environment. Its timeout is enforced (``Task timed out after
N.NN seconds``); memory is reported to the function but not limited. The runtime's process group is
always ended (SIGTERM, a bounded wait, then SIGKILL) before :func:`invoke_zip` returns.

A function built for another architecture than this machine's, or a Python version that is not installed,
is refused with :class:`LocalInvokeError` (exit code 2): nothing else is run in its place.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdaform.errors import InputError, ToolError
from lambdaform.runtime_api import Outcome, RuntimeAPI

AWSLAMBDARIC = "awslambdaric==4.2.2"
"""The runtime interface client installed for each Python version (wheels for cp310-cp313)."""
INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's limit for a runtime to start and ask for its first event."""
STOP_GRACE_SECONDS = 3.0
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "lambdaform-local-invoke",
    "AWS_SECRET_ACCESS_KEY": "lambdaform-local-invoke",
    "AWS_SESSION_TOKEN": "lambdaform-local-invoke",
}
# sys.path exactly as given, then the interpreter's standard library; then awslambdaric's entry point.
_LAUNCHER = (
    "import json, runpy, sys\n"
    "sys.path[:] = json.loads(sys.argv[1]) + [p for p in sys.path if p]\n"
    "sys.argv = ['awslambdaric', sys.argv[2]]\n"
    "runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)\n"
)


class LocalInvokeError(InputError):
    """The function cannot be run faithfully on this machine (architecture, Python version, runtime)."""

    category = "Invoke"


class RuntimeInstallError(ToolError):
    """pip could not install the runtime interface client."""

    category = "Invoke"


@dataclass(frozen=True)
class FunctionError:
    """What Lambda returns for a failed invocation (``errorType``, ``errorMessage``, ``stackTrace``)."""

    error_type: str
    error_message: str
    stack_trace: list[str] = field(default_factory=list)
    phase: str = "invoke"
    """``init`` when the runtime failed before it took the event (import error, bad handler...)."""

    def as_dict(self) -> dict[str, Any]:
        return {"errorType": self.error_type, "errorMessage": self.error_message, "stackTrace": self.stack_trace}


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one local invocation: the payload (decoded JSON, or text when not JSON) or the
    error, the runtime's output (stdout and stderr, in order) and the duration."""

    request_id: str
    payload: Any = None
    payload_bytes: bytes = b""
    error: FunctionError | None = None
    logs: str = ""
    duration_ms: float = 0.0
    python: Path | None = None
    """The interpreter that ran a python function."""

    @property
    def ok(self) -> bool:
        return self.error is None


# ----------------------------------------------------------------------------------- the machine
def host_architecture() -> str:
    """This machine's architecture in Lambda's terms (``x86_64`` or ``arm64``)."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _check_architecture(architecture: str) -> None:
    host = host_architecture()
    if architecture != host:
        raise LocalInvokeError(
            f"the function is built for {architecture} and this machine is {host}; invoke runs the zip natively "
            f"(no emulation), so run it on an {architecture} machine or set architecture: {host} for a local check"
        )


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def python_candidates(version: str) -> list[Path]:
    """Where a Python ``version`` (``3.12``) may be, in order: ``python3.12`` in each ``PATH`` folder,
    then pyenv's ``versions/3.12.*`` (newest patch first)."""
    found: list[Path] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / f"python{version}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(candidate)
    versions = _pyenv_root() / "versions"
    pyenv = [p / "bin" / f"python{version}" for p in versions.glob(f"{version}.*")
             if p.name.removeprefix(f"{version}.").isdigit()]
    pyenv.sort(key=lambda p: int(p.parent.parent.name.rsplit(".", 1)[1]), reverse=True)
    return found + [p for p in pyenv if p.is_file()]


def _probe(candidate: Path) -> tuple[str, str, Path] | None:
    """(``3.12``, machine, real executable) of an interpreter, or None if it does not run."""
    code = "import platform, sys; print('%d.%d' % sys.version_info[:2]); print(platform.machine()); print(sys.executable)"
    try:
        result = subprocess.run([str(candidate), "-I", "-S", "-c", code], capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 3:
        return None
    return lines[0], lines[1], Path(lines[2])


def find_python(version: str) -> Path:
    """The executable of a Python ``version`` (``3.12``) on this machine, or :class:`LocalInvokeError`."""
    tried = []
    for candidate in python_candidates(version):
        probed = _probe(candidate)
        if probed is not None and probed[0] == version:
            return probed[2]
        tried.append(str(candidate))
    looked = f"python{version} on PATH and {_pyenv_root() / 'versions' / f'{version}.*'}"
    detail = f" (tried, but none ran as {version}: {', '.join(tried)})" if tried else ""
    raise LocalInvokeError(
        f"the function's runtime is python{version}, and Python {version} is not installed here: looked for "
        f"{looked}{detail}. Install it (e.g. `pyenv install {version}`); invoke never runs another version"
    )


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lambdaform" / "ric"


def ensure_ric(python: Path, version: str) -> Path:
    """A folder holding awslambdaric (and its dependencies) for Python ``version``, installed once with
    that interpreter's pip (``pip install --target``); builds from source with gcc if no wheel fits."""
    requirement = AWSLAMBDARIC
    root = _cache_root()
    target = root / f"{version}-{host_architecture()}-{requirement.replace('==', '-')}"
    if (target / ".complete").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time; the others then find it done
        if (target / ".complete").is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                       "--target", str(staging), requirement]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_TARGET", "VIRTUAL_ENV"))}
            result = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                raise RuntimeInstallError(
                    f"could not install {requirement} for Python {version} ({' '.join(command)}):\n"
                    f"{(result.stdout + result.stderr).strip()[-2000:]}"
                )
            (staging / ".complete").write_text(requirement + "\n")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------------- the zip
def extract_zip(archive: Path, target: Path) -> None:
    """Extract like Lambda: file modes kept (``bootstrap`` stays executable), symlinks kept if they stay
    inside ``target``, nothing written outside it."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{archive}: not a readable zip: {exc}") from None
    with zf:
        for info in zf.infolist():
            path = (root / info.filename).resolve()
            if path != root and root not in path.parents:
                raise InputError(f"{archive}: entry {info.filename!r} points outside the package")
            mode = info.external_attr >> 16
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode()
                if root not in (path.parent / link).resolve().parents:
                    raise InputError(f"{archive}: symlink {info.filename!r} points outside the package")
                path.unlink(missing_ok=True)
                os.symlink(link, path)
                continue
            with zf.open(info) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(path, stat.S_IMODE(mode) or 0o644)


# ----------------------------------------------------------------------------------- running it
def _python_version(runtime: str) -> str | None:
    return runtime.removeprefix("python") if runtime.startswith("python") else None


def check_runnable(runtime: str, handler: str | None, architecture: str) -> Path | None:
    """Refuse (:class:`LocalInvokeError`) a function this machine cannot run as Lambda would; return the
    Python interpreter a python function will run under (None for ``provided.*``)."""
    version = _python_version(runtime)
    if version is None and not runtime.startswith("provided"):
        raise LocalInvokeError(f"invoke runs python3.x and provided.* functions; runtime {runtime} is not supported")
    if version is not None and not handler:
        raise LocalInvokeError(f"a {runtime} function needs a handler (module.function)")
    _check_architecture(architecture)
    return find_python(version) if version is not None else None


def _event_bytes(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    return json.dumps({} if event is None else event).encode()


def _base_environment(*, runtime: str, handler: str, task: Path, opt: Path, work: Path, api: RuntimeAPI,
                      function_name: str, memory_mb: int, region: str, runtime_dir: Path | None,
                      credentials: Mapping[str, str] | None) -> dict[str, str]:
    host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env = {
        "PATH": os.pathsep.join([str(opt / "bin"), host_path]),
        "LD_LIBRARY_PATH": os.pathsep.join([str(task / "lib"), str(opt / "lib")]),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "TMPDIR": str(work / "tmp"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(task),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "lambdaform-local",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **(DUMMY_CREDENTIALS if credentials is None else dict(credentials)),
    }
    if runtime_dir is not None:
        env["LAMBDA_RUNTIME_DIR"] = str(runtime_dir)
    if runtime.startswith("python"):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    return env


def _stop(process: subprocess.Popen) -> None:
    """End the runtime and everything it started (its own process group): SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
            if sig == signal.SIGTERM:  # the leader is gone; make sure nothing it started lingers
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        except subprocess.TimeoutExpired:
            continue


def _error_of(outcome: Outcome, *, timeout_seconds: float, init_timeout_seconds: float, delivered: bool,
              exit_status: int | None) -> FunctionError | None:
    if outcome.kind == "response":
        return None
    if outcome.kind in ("error", "init_error") and outcome.error is not None:
        body = outcome.error.body
        trace = body.get("stackTrace")
        return FunctionError(
            error_type=str(body.get("errorType") or outcome.error.error_type or "Runtime.Unknown"),
            error_message=str(body.get("errorMessage", "")),
            stack_trace=[str(line) for line in trace] if isinstance(trace, list) else [],
            phase="init" if outcome.kind == "init_error" else "invoke",
        )
    phase = "invoke" if delivered else "init"
    if outcome.kind == "exited":
        return FunctionError("Runtime.ExitError", f"Runtime exited with error: exit status {exit_status}"
                             " before answering the invocation", phase=phase)
    limit = timeout_seconds if delivered else init_timeout_seconds
    what = "Task" if delivered else "Init"
    return FunctionError("Sandbox.Timedout", f"{what} timed out after {limit:.2f} seconds", phase=phase)


def _lines(text: str) -> str:
    """awslambdaric ends the lines of one multi-line log record with ``\\r`` (one CloudWatch event);
    show them as the lines they are."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def invoke_zip(
    zip_path: Path | str,
    *,
    runtime: str,
    handler: str | None,
    architecture: str = "x86_64",
    event: Any = None,
    layers: Sequence[Path | str] = (),
    environment: Mapping[str, str] | None = None,
    timeout_seconds: float = 30,
    memory_mb: int = 512,
    function_name: str = "lambdaform-local",
    region: str = "us-east-1",
    credentials: Mapping[str, str] | None = None,
    init_timeout_seconds: float = INIT_TIMEOUT_SECONDS,
) -> InvokeResult:
    """Invoke the function in ``zip_path`` once with ``event`` (JSON-able, or raw bytes) and return what
    Lambda would: its payload or its error, plus the runtime's logs. ``layers`` are layer zips, extracted
    in order into one opt folder (later layers win, as in Lambda). ``credentials`` replace the dummy AWS
    credentials the function gets by default."""
    zip_path = Path(zip_path)
    python = check_runnable(runtime, handler, architecture)
    if not zip_path.is_file():
        raise InputError(f"{zip_path}: no such package")
    version = _python_version(runtime)
    ric = ensure_ric(python, version) if python is not None and version is not None else None

    with tempfile.TemporaryDirectory(prefix="lambdaform-invoke-") as tmp:
        work = Path(tmp)
        task, opt = work / "task", work / "opt"
        (work / "tmp").mkdir()
        opt.mkdir()
        extract_zip(zip_path, task)
        for layer in layers:
            extract_zip(Path(layer), opt)
        if python is not None:
            site = opt / "python" / "lib" / f"python{version}" / "site-packages"
            paths = [str(task), str(site), str(opt / "python"), str(ric)]
            command = [str(python), "-I", "-S", "-c", _LAUNCHER, json.dumps(paths), str(handler)]
        else:
            bootstrap = next((p for p in (task / "bootstrap", opt / "bootstrap") if p.is_file()), None)
            if bootstrap is None:
                raise LocalInvokeError(f"{zip_path}: a {runtime} function needs an executable 'bootstrap' in the "
                                       "package or a layer")
            command = [str(bootstrap)]

        with RuntimeAPI() as api:
            env = _base_environment(runtime=runtime, handler=handler or "", task=task, opt=opt, work=work, api=api,
                                    function_name=function_name, memory_mb=memory_mb, region=region,
                                    runtime_dir=ric, credentials=credentials)
            env.update(environment or {})
            request_id = api.enqueue(
                _event_bytes(event), timeout_seconds=timeout_seconds,
                function_arn=f"arn:aws:lambda:{region}:000000000000:function:{function_name}",
            )
            logs: list[bytes] = []
            try:
                process = subprocess.Popen(command, cwd=task, env=env, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                raise LocalInvokeError(f"cannot start the runtime {command[0]}: {exc}") from None
            reader = threading.Thread(target=lambda: logs.extend(iter(lambda: process.stdout.read1(65536), b"")),
                                      name="invoke-logs", daemon=True)
            watcher = threading.Thread(target=lambda: api.runtime_exited(process.wait()), name="invoke-wait",
                                       daemon=True)
            reader.start()
            watcher.start()
            started = time.monotonic()
            try:
                delivered = api.wait_for_delivery(request_id, init_timeout_seconds)
                outcome = api.wait_for_result(request_id, timeout_seconds if delivered else 0)
            finally:
                _stop(process)
                watcher.join(timeout=10)
                reader.join(timeout=10)
                process.stdout.close()
        duration = outcome.duration_seconds if outcome.duration_seconds is not None else time.monotonic() - started
        error = _error_of(outcome, timeout_seconds=timeout_seconds, init_timeout_seconds=init_timeout_seconds,
                          delivered=delivered, exit_status=api.exit_status)
        payload: Any = None
        if outcome.kind == "response":
            try:
                payload = json.loads(outcome.body)
            except ValueError:
                payload = outcome.body.decode("utf-8", "replace")
        return InvokeResult(
            request_id=request_id, payload=payload, payload_bytes=outcome.body if error is None else b"",
            error=error, logs=_lines(b"".join(logs).decode("utf-8", "replace")), duration_ms=duration * 1000, python=python,
        )
