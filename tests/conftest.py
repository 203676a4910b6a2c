"""Shared pytest set-up: make the repo root and every handler folder importable.

Each folder in handlers/ is the root of one Lambda package, and holds one uniquely named
Python package (handlers/api/nl2sql_api, handlers/websocket/sensor_ws, ...), so all of them
can share one test process without module-name clashes. handlers/_kit holds lambdaform_kit, the
shared helpers that synth copies into each package; it is on the path too, as it is in a package.
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
    """A moto server on 127.0.0.1 (free port), started and stopped the way `main.py emulator` does it."""
    from lambdaform.emulator import running

    log = log_dir / "moto.log"
    answered = False
    with open(log, "wb") as sink:
        try:
            with running(free_port(), log=sink) as (url, _proc):
                answered = True
                yield url
        except Exception:
            if answered:
                raise
            raise RuntimeError(f"moto_server did not start:\n{log.read_text()[-2000:]}") from None


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
