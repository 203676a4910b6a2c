"""The worker Lambda: ``sage_worker.handler.handler``.

Event::

    {"execution_id": "run-42",
     "yaml_config": "<YAML text>",
     "input_files": [{"source_execution_id": "run-41", "filename": "data.csv"}, ...]}

Environment:

* ``SAGE_S3_BUCKET`` (required): bucket holding ``<prefix><execution_id>/<file>``.
* ``SAGE_LOCK_TABLE`` (required): DynamoDB lock table (hash key ``execution_id``).
* ``SAGE_S3_PREFIX`` (optional, default ``executions/``).
* ``SAGE_LOCK_TTL_SECONDS`` (optional, default 3600).
* ``SAGE_PROCESSOR`` (optional, ``module:function``, default
  ``sage_worker.processor:process_csv_files``).

Answers (``{"statusCode", "body": JSON}``): 200 with the processor's result and the uploaded files;
400 invalid event; 404 an input file is missing; 409 the execution is locked; 500 processing failed
(the traceback goes to ``error.log`` in storage and to the log stream, never into the body).
The lock is released whatever happens. The handler never raises (the kit's last line of defence answers
anything unexpected with a 500), so an asynchronous invocation is not retried by Lambda for a
deterministic failure. Log lines carry the invocation's ``request_id`` and, once the event is valid, its
``execution_id``.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdaform_kit import clients
from lambdaform_kit.defence import last_line_of_defence
from lambdaform_kit.logs import append_fields, get_logger

from .lock import DEFAULT_TTL_SECONDS, DistributedLock
from .storage import DEFAULT_S3_PREFIX, S3Storage, StorageAdapter, UnsafeNameError, validate_name

logger = get_logger(__name__)

DEFAULT_PROCESSOR = "sage_worker.processor:process_csv_files"
CONFIG_FILE = "config.yaml"
ERROR_FILE = "error.log"
UPLOAD_PREFIXES = ("output", "log")

Processor = Callable[[Path, str], dict]


class InvalidEvent(ValueError):
    """The event does not have the documented shape; the message is safe to return to the caller."""


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or names a processor that cannot be loaded."""


@dataclass(frozen=True)
class InputFile:
    source_execution_id: str
    filename: str


@dataclass(frozen=True)
class WorkRequest:
    execution_id: str
    yaml_config: str
    input_files: tuple[InputFile, ...]


@dataclass(frozen=True)
class Dependencies:
    storage: StorageAdapter
    lock: DistributedLock
    processor: Processor


def parse_event(event: Any) -> WorkRequest:
    """Validate the event; raise :class:`InvalidEvent` naming the first problem."""
    if not isinstance(event, Mapping):
        raise InvalidEvent("event must be a JSON object")
    missing = [key for key in ("execution_id", "yaml_config", "input_files") if key not in event]
    if missing:
        raise InvalidEvent(f"missing field(s): {', '.join(missing)}")
    try:
        execution_id = validate_name(event["execution_id"], "execution_id")
    except UnsafeNameError as error:
        raise InvalidEvent(str(error)) from None
    if not isinstance(event["yaml_config"], str):
        raise InvalidEvent("yaml_config must be a string")
    if not isinstance(event["input_files"], list):
        raise InvalidEvent("input_files must be a list")
    inputs: list[InputFile] = []
    seen: set[str] = set()
    for index, item in enumerate(event["input_files"]):
        where = f"input_files[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidEvent(f"{where} must be an object")
        try:
            source = validate_name(item.get("source_execution_id"), f"{where}.source_execution_id")
            filename = validate_name(item.get("filename"), f"{where}.filename")
        except UnsafeNameError as error:
            raise InvalidEvent(str(error)) from None
        if filename == CONFIG_FILE:
            raise InvalidEvent(f"{where}.filename must not be {CONFIG_FILE!r} (reserved for yaml_config)")
        if filename in seen:
            raise InvalidEvent(f"{where}.filename {filename!r} appears twice")
        seen.add(filename)
        inputs.append(InputFile(source, filename))
    return WorkRequest(execution_id, event["yaml_config"], tuple(inputs))


def load_processor(spec: str) -> Processor:
    """Resolve ``"package.module:function"`` to a callable."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(f"SAGE_PROCESSOR {spec!r} must look like 'module:function'")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"SAGE_PROCESSOR {spec!r} cannot be loaded: {error}") from error
    if not callable(target):
        raise ConfigurationError(f"SAGE_PROCESSOR {spec!r} is not callable")
    return target


@functools.lru_cache(maxsize=1)
def dependencies() -> Dependencies:
    """Build storage, lock and processor from the environment, once per container."""
    bucket = os.environ.get("SAGE_S3_BUCKET")
    table = os.environ.get("SAGE_LOCK_TABLE")
    missing = [name for name, value in (("SAGE_S3_BUCKET", bucket), ("SAGE_LOCK_TABLE", table)) if not value]
    if missing:
        raise ConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
    try:
        ttl = int(os.environ.get("SAGE_LOCK_TTL_SECONDS", DEFAULT_TTL_SECONDS))
    except ValueError:
        raise ConfigurationError("SAGE_LOCK_TTL_SECONDS must be an integer") from None
    return Dependencies(
        storage=S3Storage(
            bucket, prefix=os.environ.get("SAGE_S3_PREFIX", DEFAULT_S3_PREFIX), client=clients.client("s3")
        ),
        lock=DistributedLock(table, ttl_seconds=ttl, client=clients.client("dynamodb")),
        processor=load_processor(os.environ.get("SAGE_PROCESSOR", DEFAULT_PROCESSOR)),
    )


def _response(status_code: int, **body: Any) -> dict[str, Any]:
    return {"statusCode": status_code, "body": json.dumps(body, default=str)}


def _upload_outputs(storage: StorageAdapter, execution_id: str, execution_dir: Path) -> list[str]:
    uploaded: list[str] = []
    for path in sorted(execution_dir.iterdir()):
        if path.is_file() and path.name.startswith(UPLOAD_PREFIXES):
            storage.write_file(execution_id, path.name, path.read_bytes())
            uploaded.append(path.name)
    return uploaded


def _record_error(storage: StorageAdapter, execution_id: str, error: BaseException) -> None:
    text = f"Error: {type(error).__name__}: {error}\n\n{traceback.format_exc()}"
    try:
        storage.write_file(execution_id, ERROR_FILE, text.encode("utf-8"))
    except Exception:
        logger.exception("could not write error.log", extra={"execution_id": execution_id})


class InputMissing(FileNotFoundError):
    """An input file named by the event does not exist in storage."""


def _fetch_inputs(storage: StorageAdapter, request: WorkRequest, execution_dir: Path) -> None:
    for item in request.input_files:
        try:
            content = storage.read_file(item.source_execution_id, item.filename)
        except FileNotFoundError as error:
            raise InputMissing(f"input file {item.source_execution_id}/{item.filename} not found") from error
        (execution_dir / item.filename).write_bytes(content)
    (execution_dir / CONFIG_FILE).write_text(request.yaml_config, encoding="utf-8")


def run(request: WorkRequest, deps: Dependencies) -> dict[str, Any]:
    """Lock, fetch inputs, process, upload; release the lock whatever happens."""
    execution_id = request.execution_id
    log_fields = {"execution_id": execution_id}
    acquired, owner = deps.lock.acquire(execution_id)
    if not acquired or owner is None:
        logger.info("execution locked", extra=log_fields)
        return _response(
            409, status="locked", execution_id=execution_id, error="execution already in progress"
        )
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="sage-") as tmp:
            execution_dir = Path(tmp) / execution_id
            execution_dir.mkdir()
            _fetch_inputs(deps.storage, request, execution_dir)
            result = deps.processor(execution_dir, request.yaml_config)
            uploaded = _upload_outputs(deps.storage, execution_id, execution_dir)
        body = {"status": "success", "execution_id": execution_id, "result": result, "uploaded": uploaded}
        response = {"statusCode": 200, "body": json.dumps(body)}
        duration_ms = round((time.monotonic() - started) * 1000)
        logger.info(
            "execution succeeded", extra={**log_fields, "uploaded": uploaded, "duration_ms": duration_ms}
        )
        return response
    except InputMissing as error:
        logger.warning("input file missing", extra={**log_fields, "reason": str(error)})
        _record_error(deps.storage, execution_id, error)
        return _response(404, status="error", execution_id=execution_id, error=str(error))
    except Exception as error:
        logger.exception("execution failed", extra=log_fields)
        _record_error(deps.storage, execution_id, error)
        return _response(
            500, status="error", execution_id=execution_id,
            error=f"processing failed; details are in {ERROR_FILE} of the execution",
        )
    finally:
        try:
            released = deps.lock.release(execution_id, owner)
        except Exception:
            released = False
            logger.exception("lock release raised", extra=log_fields)
        if not released:
            logger.warning("lock was not released (expired and taken over?)", extra=log_fields)


def _internal_error(_error: Exception, event: Any) -> dict[str, Any]:
    """The answer to an unexpected failure (e.g. DynamoDB unreachable while acquiring the lock)."""
    try:
        execution_id = validate_name(event.get("execution_id"), "execution_id") if isinstance(event, Mapping) else None
    except UnsafeNameError:
        execution_id = None
    return _response(500, status="error", execution_id=execution_id, error="internal error")


@last_line_of_defence(_internal_error, logger=logger, message="unexpected failure")
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point: validate, then :func:`run`. Never raises."""
    try:
        request = parse_event(event)
    except InvalidEvent as error:
        logger.info("invalid event", extra={"reason": str(error)})
        return _response(400, status="invalid", error=str(error))
    append_fields(execution_id=request.execution_id)
    try:
        deps = dependencies()
    except ConfigurationError:
        logger.exception("worker misconfigured")
        return _response(500, status="error", execution_id=request.execution_id, error="worker misconfigured")
    return run(request, deps)
