"""A local AWS emulator for development and CI without an AWS account: moto's server on 127.0.0.1,
with AWS managed IAM policies loaded and Lambda in its docker-less mode (functions are stored, not run).

moto never outlives the command that started it, whatever signal arrives and whenever:

* it runs in a process group of its own, and :func:`running` always stops that group in a ``finally``
  (SIGTERM, a bounded wait, then SIGKILL) with SIGINT/SIGTERM held while it does;
* SIGTERM to ``main.py emulator`` runs the same cleanup as Ctrl-C (both end as ``KeyboardInterrupt``, exit 130);
* SIGINT/SIGTERM are held between starting moto and knowing its PID, so no signal can fall in that gap;
* on Linux moto asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), so even a
  SIGKILL of the parent takes moto down.

Readiness is an HTTP request to ``/moto-api/`` polled until a deadline (60 s), never a fixed sleep.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lambdaform.console import Output
from lambdaform.errors import PlatformError

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
_HELD = {signal.SIGINT, signal.SIGTERM}
_PR_SET_PDEATHSIG = 1


def moto_binary() -> str:
    local = Path(sys.executable).with_name("moto_server")
    found = str(local) if local.is_file() else shutil.which("moto_server")
    if not found:
        raise PlatformError("moto_server is not installed: pip install 'moto[server]' (a lambdaform dev dependency)")
    return found


def configure(url: str, timeout_seconds: float = READY_TIMEOUT_SECONDS,
              proc: subprocess.Popen | None = None) -> None:
    """Wait until the server answers (at most ``timeout_seconds``), then switch Lambda to docker-less mode.
    With ``proc``, a server process that exits while we wait is reported at once."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if proc is not None and proc.poll() is not None:
            raise PlatformError(f"the emulator exited with status {proc.returncode} before it answered "
                                f"at {url} (is the port free?)")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise PlatformError(f"the emulator at {url} did not answer within {timeout_seconds:.0f}s") from None
            _pause(proc, 0.1)
    body = json.dumps({"lambda": {"use_docker": False}}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST"), timeout=10).read()


def _pause(proc: subprocess.Popen | None, seconds: float) -> None:
    """The poll interval: returns early when ``proc`` exits."""
    if proc is None:
        time.sleep(seconds)
        return
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _child_setup(parent: int) -> Callable[[], None]:
    """What moto's process runs between fork and exec: die with the parent, take signals again."""
    prctl = None
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the forked child
        except (OSError, AttributeError):
            prctl = None

    def setup() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)

    return setup


def _stop(proc: subprocess.Popen) -> None:
    """Stop moto's process group: SIGTERM, a bounded wait, then SIGKILL. Signals are held meanwhile (and in
    a process with other threads, where those may take them, an interrupt is kept until the end), so a
    second Ctrl-C cannot cut the cleanup short."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    interrupted: KeyboardInterrupt | None = None
    try:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    _pause(proc, 0.1)
                except KeyboardInterrupt as exc:
                    interrupted = exc
            if proc.poll() is not None:
                break
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if interrupted is not None:
        raise interrupted


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` in the block, so it runs the same cleanup as Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)  # a pending Ctrl-C must not skip the restore
        try:
            signal.signal(signal.SIGTERM, previous)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def running(port: int, log: IO | int = subprocess.DEVNULL, started: Callable[[subprocess.Popen], None] = lambda _p: None,
            ) -> Iterator[tuple[str, subprocess.Popen]]:
    """moto on 127.0.0.1:``port``, configured and answering; stopped (its whole group) when the block ends.
    ``started(proc)`` is called as soon as moto's PID is known, before it answers."""
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    command = [moto_binary(), "-H", "127.0.0.1", "-p", str(port)]
    setup = _child_setup(os.getpid())
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)  # no signal between fork and knowing the PID
    try:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=setup)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # held signals are acted on here, inside the try
        started(proc)
        configure(url, proc=proc)
        yield url, proc
    finally:
        _stop(proc)


def serve(port: int, output: Output) -> None:
    """Run moto until Ctrl-C or SIGTERM (``KeyboardInterrupt``), or until it exits by itself (an error)."""
    with sigterm_as_interrupt():
        with running(port, started=lambda proc: output.note(f"emulator: starting moto (pid {proc.pid}) "
                                                             f"on 127.0.0.1:{port}")) as (url, proc):
            print(f"emulator ready: {url}\n  python main.py deploy service.yaml --env dev --endpoint {url} --yes\n"
                  "Ctrl-C stops it (its state is in memory only).", flush=True)
            proc.wait()
            raise PlatformError(f"the emulator exited with status {proc.returncode} (is port {port} free?)")
