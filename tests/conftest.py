"""Shared pytest set-up: make the repo root and every handler folder importable.

Each folder in handlers/ is the root of one Lambda package, and holds one uniquely named
Python package (handlers/api/nl2sql_api, handlers/websocket/sensor_ws, ...), so all of them
can share one test process without module-name clashes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for handler_root in sorted((ROOT / "handlers").iterdir()):
    if handler_root.is_dir() and str(handler_root) not in sys.path:
        sys.path.insert(0, str(handler_root))


# --- shared fixtures ---------------------------------------------------------------------------------

import contextlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def tf(tmp_path_factory):
    """A terraform runner with a private CLI config (provider mirror, shared plugin cache)."""
    from lambdaform.tfcli import terraform

    return terraform(tmp_path_factory.mktemp("terraform-cli"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_moto(log_dir: Path):
    """A moto server on 127.0.0.1 (free port) with managed IAM policies and docker-less Lambda."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    log = log_dir / "moto.log"
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with open(log, "wb") as sink:
        proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=sink,
                                stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        request = urllib.request.Request(f"{url}/moto-api/config", data=b'{"lambda": {"use_docker": false}}',
                                         method="POST")
        urllib.request.urlopen(request, timeout=5).read()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """One moto server for the session (tests clean up what they create)."""
    with running_moto(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="module")
def module_moto(tmp_path_factory):
    """A moto server of the test module's own, for tests that leave resources behind."""
    with running_moto(tmp_path_factory.mktemp("moto-module")) as url:
        yield url
