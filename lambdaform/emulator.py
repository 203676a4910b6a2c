"""A local AWS emulator for development and CI without an AWS account: moto's server on 127.0.0.1,
with AWS managed IAM policies loaded and Lambda in its docker-less mode (functions are stored, not run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lambdaform.console import Output
from lambdaform.errors import PlatformError


def moto_binary() -> str:
    local = Path(sys.executable).with_name("moto_server")
    found = str(local) if local.is_file() else shutil.which("moto_server")
    if not found:
        raise PlatformError("moto_server is not installed: pip install 'moto[server]' (a lambdaform dev dependency)")
    return found


def configure(url: str, timeout_seconds: float = 30) -> None:
    """Wait until the server answers, then switch Lambda to docker-less mode."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise PlatformError(f"the emulator at {url} did not answer within {timeout_seconds:.0f}s") from None
            time.sleep(0.2)
    body = json.dumps({"lambda": {"use_docker": False}}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST"), timeout=5).read()


def serve(port: int, output: Output) -> None:
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = subprocess.Popen([moto_binary(), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        configure(url)
        print(f"emulator ready: {url}\n  python main.py deploy service.yaml --env dev --endpoint {url} --yes\n"
              "Ctrl-C stops it (its state is in memory only).", flush=True)
        proc.wait()
        raise PlatformError(f"the emulator exited with status {proc.returncode} (is port {port} free?)")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
