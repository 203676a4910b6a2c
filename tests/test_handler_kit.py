"""The handler kit (handlers/_kit/lambdaform_kit): its log layout, client cache and last line of defence, and
how synth adds it to exactly the packages whose code imports it."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from lambdaform_kit import clients
from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import append_fields, bind, get_logger
from typer.testing import CliRunner

from lambdaform.packaging import PackagingError, build_zip, kit_root
from main import app
from support import ROOT, synth_file, write_service

KIT = ROOT / "handlers" / "_kit" / "lambdaform_kit"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONTEXT = SimpleNamespace(aws_request_id="req-7", function_name="shop-dev-api")
_names = itertools.count()


@pytest.fixture
def fresh_logger(monkeypatch):
    """A logger of a package never configured before (the kit configures a package once per process)."""
    monkeypatch.delenv("LOG_LEVEL", raising=False)

    def make(level: str | None = None) -> logging.Logger:
        if level is not None:
            monkeypatch.setenv("LOG_LEVEL", level)
        return get_logger(f"kit_test_{next(_names)}.module")

    return make


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------- logs


def test_log_line_layout_extras_at_top_level(fresh_logger, capsys):
    logger = fresh_logger()
    logger.info("stored %s", "x", extra={"execution_id": "run-1", "rows": 3})
    (line,) = lines(capsys.readouterr().out)
    assert list(line) == ["time", "level", "logger", "message", "execution_id", "rows"]
    assert TIME.match(line["time"]), line["time"]
    assert (line["level"], line["logger"], line["message"]) == ("INFO", logger.name, "stored x")
    assert (line["execution_id"], line["rows"]) == ("run-1", 3)


@pytest.mark.parametrize(("level", "shown"), [
    ("WARNING", ["WARNING", "ERROR"]),
    ("debug", ["DEBUG", "INFO", "WARNING", "ERROR"]),
    (None, ["INFO", "WARNING", "ERROR"]),
    ("LOUD", ["INFO", "WARNING", "ERROR"]),  # not a level name: the default
])
def test_log_level_env_filters(fresh_logger, capsys, level, shown):
    logger = fresh_logger(level)
    for name in ("debug", "info", "warning", "error"):
        getattr(logger, name)(name)
    assert [line["level"] for line in lines(capsys.readouterr().out)] == shown


def test_bound_context_and_exception_fields(fresh_logger, capsys):
    logger = fresh_logger()
    with bind(CONTEXT, tenant="acme"):
        append_fields(connectionId="c-1")
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("failed", extra={"tenant": "override"})
    logger.info("after")
    failed, after = lines(capsys.readouterr().out)
    assert failed["request_id"] == "req-7" and failed["function_name"] == "shop-dev-api"
    assert failed["connectionId"] == "c-1" and failed["tenant"] == "override"
    assert failed["error"] == "KeyError"
    assert failed["traceback"].startswith("Traceback") and "missing" in failed["traceback"]
    assert "request_id" not in after and "connectionId" not in after, "bound fields end with the block"


# ---------------------------------------------------------------------------------------------- clients


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    clients.reset()
    yield monkeypatch
    clients.reset()


def test_client_cache_one_per_service_region_and_endpoint(aws_env):
    s3 = clients.client("s3")
    assert clients.client("s3") is s3
    assert clients.client("dynamodb") is not s3
    west = clients.client("s3", region="eu-west-1")
    assert west is not s3 and west.meta.region_name == "eu-west-1"
    assert clients.client("s3", region="eu-west-1") is west

    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    emulated = clients.client("s3")
    assert emulated is not s3 and emulated.meta.endpoint_url == "http://127.0.0.1:5000"
    assert clients.resource("dynamodb").meta.client.meta.endpoint_url == "http://127.0.0.1:5000"

    clients.reset()
    assert clients.client("s3") is not emulated


# ---------------------------------------------------------------------------------------------- defence


def test_defence_answers_the_error_result_and_logs_the_request_id(fresh_logger, capsys):
    logger = fresh_logger()

    @last_line_of_defence(lambda error, event: {"statusCode": 500, "body": "internal error"}, logger=logger)
    def handler(event, context):
        append_fields(order=event["order"])
        raise RuntimeError("secret detail")

    assert handler({"order": "o-1"}, CONTEXT) == {"statusCode": 500, "body": "internal error"}
    (line,) = lines(capsys.readouterr().out)
    assert line["level"] == "ERROR" and line["message"] == "unexpected error"
    assert (line["request_id"], line["order"], line["error"]) == ("req-7", "o-1", "RuntimeError")
    assert "secret detail" in line["traceback"]


def test_defence_reraise_logs_once_and_raises(fresh_logger, capsys):
    logger = fresh_logger()

    @last_line_of_defence(reraise, logger=logger)
    def worker(event, context):
        raise ValueError("retry me")

    @last_line_of_defence(reraise, logger=logger)
    def logs_itself(event, context):
        try:
            raise ValueError("already said")
        except ValueError:
            logger.exception("could not report; raising")
            raise

    with pytest.raises(ValueError, match="retry me"):
        worker({}, CONTEXT)
    with pytest.raises(ValueError, match="already said"):
        logs_itself({}, None)
    assert [line["message"] for line in lines(capsys.readouterr().out)] == [
        "unexpected error", "could not report; raising"]


# ---------------------------------------------------------------------------------------------- packaging


def zip_entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_kit_root_is_the_repository_kit():
    assert kit_root() / "lambdaform_kit" == KIT


def test_worker_zip_carries_the_repository_kit_and_its_handler_runs(tmp_path):
    out = tmp_path / "out"
    result = synth_file(ROOT / "examples" / "sage-worker.yaml", out, envs=["dev"])
    (asset,) = (out / "stacks").glob("*/assets/worker.zip")
    data = asset.read_bytes()
    entries = zip_entries(data)
    kit_files = sorted(p.name for p in KIT.glob("*.py"))
    assert sorted(n.removeprefix("lambdaform_kit/") for n in entries if n.startswith("lambdaform_kit/")) == kit_files
    for name in kit_files:
        assert entries[f"lambdaform_kit/{name}"] == (KIT / name).read_bytes()
    assert build_zip(ROOT / "handlers" / "worker").data == data, "same bytes as a second build"
    assert result.packages["dev/worker"]

    # The unpacked zip alone (no repository on the path) runs its handler: the kit came with it.
    root = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(data)).extractall(root)
    code = "import sage_worker.handler as h, json; print(json.dumps(h.handler([], None)))"
    env = {**os.environ, "PYTHONPATH": str(root), "AWS_DEFAULT_REGION": "us-east-1"}
    run = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    log, answer = run.stdout.strip().splitlines()
    assert json.loads(answer)["statusCode"] == 400
    assert json.loads(log)["message"] == "invalid event"


def test_a_source_without_the_import_gets_no_kit(tmp_path):
    vela = build_zip(ROOT / "handlers" / "vela_runtime")
    assert not [n for n in vela.files if n.startswith("lambdaform_kit")]
    assert vela.data == build_zip(ROOT / "handlers" / "vela_runtime", extra=[]).data
    (tmp_path / "app.py").write_text("import logging\n\ndef handler(event, context):\n    return {}\n")
    assert build_zip(tmp_path).files == ("app.py",)


def test_a_source_with_its_own_kit_copy_is_refused(tmp_path):
    example = (ROOT / "examples" / "vela-runtime.yaml").read_text().replace("../handlers/", "handlers/")
    path = write_service(tmp_path / "svc", example)
    copy = path.parent / "handlers" / "vela_runtime" / "lambdaform_kit"
    copy.mkdir()
    (copy / "logs.py").write_text("# a stale copy\n")
    with pytest.raises(PackagingError, match="own lambdaform_kit/"):
        build_zip(copy.parent)
    result = CliRunner().invoke(app, ["synth", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "lambdaform_kit/" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_image_function_gets_the_kit_as_a_named_build_context(tmp_path):
    out = tmp_path / "out"
    synth_file(ROOT / "service.yaml", out, envs=["dev"])
    docker = out / "docker" / "api"
    assert sorted(p.name for p in (docker / "lambdaform_kit").iterdir()) == sorted(p.name for p in KIT.glob("*.py"))
    assert (docker / "lambdaform_kit" / "logs.py").read_bytes() == (KIT / "logs.py").read_bytes()
    text = (docker / "Dockerfile.lambda").read_text()
    assert "COPY --from=kit . ${LAMBDA_TASK_ROOT}/lambdaform_kit/" in text
    assert f"--build-context kit={os.path.relpath(docker / 'lambdaform_kit', ROOT)}" in text
