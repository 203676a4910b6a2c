"""Execution file storage: one interface, a local-directory backend and an S3 backend.

Files live under ``<execution_id>/<file_name>``. Both parts are validated before any path or key is
built, so a caller-supplied name can never address anything outside its execution:

* safe charset: ASCII letters, digits, ``.``, ``_`` and ``-``, first character a letter or digit;
* length 1..255 characters;
* so no ``/`` or ``\\`` (no sub-paths, no absolute paths), no ``..``, no NUL, no leading dot.

A rejected name raises :class:`UnsafeNameError` (a ``ValueError``). The local backend additionally
checks that the resolved path (symlinks followed) stays under its root.
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

MAX_NAME_LENGTH = 255
SAFE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEFAULT_S3_PREFIX = "executions/"
DEFAULT_LOCAL_PATH = "./executions"


class UnsafeNameError(ValueError):
    """An execution id or file name that could escape its execution's directory or prefix."""


def validate_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a safe execution id / file name, else raise :class:`UnsafeNameError`.

    ``what`` names the value in the message (``"execution_id"``, ``"file_name"``).
    """
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise UnsafeNameError(f"{what} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise UnsafeNameError(f"{what} is {len(value)} characters long; the maximum is {MAX_NAME_LENGTH}")
    if "\x00" in value:
        raise UnsafeNameError(f"{what} must not contain a NUL character")
    if "/" in value or "\\" in value or os.path.isabs(value):
        raise UnsafeNameError(f"{what} {value!r} must be a single name, not a path")
    if ".." in value:
        raise UnsafeNameError(f"{what} {value!r} must not contain '..'")
    if not SAFE_NAME_PATTERN.fullmatch(value):
        raise UnsafeNameError(
            f"{what} {value!r} may only use letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit"
        )
    return value


class StorageAdapter(ABC):
    """Read, write and list the files of one execution."""

    @abstractmethod
    def write_file(self, execution_id: str, file_name: str, content: bytes) -> None:
        """Store ``content`` as ``file_name`` of ``execution_id``, replacing any previous version."""

    @abstractmethod
    def read_file(self, execution_id: str, file_name: str) -> bytes:
        """Return the bytes of ``file_name``; raise ``FileNotFoundError`` if there is no such file."""

    @abstractmethod
    def list_files(self, execution_id: str) -> list[str]:
        """Return the sorted file names stored for ``execution_id`` (empty if there are none)."""


class LocalStorage(StorageAdapter):
    """Files under ``<root>/<execution_id>/<file_name>`` on the local file system.

    Writes go to a temporary file that is renamed into place, so a reader never sees half a file.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _execution_dir(self, execution_id: str) -> Path:
        validate_name(execution_id, "execution_id")
        return self._contained(self.root / execution_id)

    def _file_path(self, execution_id: str, file_name: str) -> Path:
        validate_name(file_name, "file_name")
        return self._contained(self._execution_dir(execution_id) / file_name)

    def _contained(self, path: Path) -> Path:
        resolved = path.resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise UnsafeNameError(f"{path} resolves to {resolved}, outside the storage root {self.root}")
        return resolved

    def write_file(self, execution_id: str, file_name: str, content: bytes) -> None:
        path = self._file_path(execution_id, file_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(bytes(content))
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def read_file(self, execution_id: str, file_name: str) -> bytes:
        return self._file_path(execution_id, file_name).read_bytes()

    def list_files(self, execution_id: str) -> list[str]:
        directory = self._execution_dir(execution_id)
        if not directory.is_dir():
            return []
        return sorted(
            entry.name
            for entry in directory.iterdir()
            if entry.is_file() and not entry.name.startswith(".tmp-")
        )


class S3Storage(StorageAdapter):
    """Objects at ``s3://<bucket>/<prefix><execution_id>/<file_name>``.

    ``prefix`` defaults to ``executions/``; a missing trailing slash is added. ``client`` defaults to
    ``boto3.client("s3")``. :meth:`list_files` pages through ``list_objects_v2`` and returns only the
    direct children of the execution prefix, so execution ``a`` never lists the files of ``a2``.
    """

    def __init__(self, bucket: str, prefix: str = DEFAULT_S3_PREFIX, client: Any = None) -> None:
        if not bucket:
            raise ValueError("S3Storage needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.client = client if client is not None else boto3.client("s3")

    def _execution_prefix(self, execution_id: str) -> str:
        return f"{self.prefix}{validate_name(execution_id, 'execution_id')}/"

    def _key(self, execution_id: str, file_name: str) -> str:
        return self._execution_prefix(execution_id) + validate_name(file_name, "file_name")

    def write_file(self, execution_id: str, file_name: str, content: bytes) -> None:
        key = self._key(execution_id, file_name)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(content))

    def read_file(self, execution_id: str, file_name: str) -> bytes:
        key = self._key(execution_id, file_name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                raise FileNotFoundError(f"s3://{self.bucket}/{key} does not exist") from error
            raise
        return response["Body"].read()

    def list_files(self, execution_id: str) -> list[str]:
        prefix = self._execution_prefix(execution_id)
        names: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if name and "/" not in name:
                    names.append(name)
        return sorted(names)


def storage_from_config(
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    s3_client: Any = None,
) -> StorageAdapter:
    """Build the storage backend from a config mapping, falling back to environment variables.

    Keys (environment fallback in brackets):

    * ``backend`` [``SAGE_STORAGE``]: ``"s3"`` or ``"local"``. Default: ``"s3"`` when a bucket is set,
      else ``"local"``. The seed's boolean ``use_s3`` is accepted too.
    * ``s3_bucket`` [``SAGE_S3_BUCKET``], ``s3_prefix`` [``SAGE_S3_PREFIX``, default ``executions/``].
    * ``local_path`` [``SAGE_LOCAL_PATH``, default ``./executions``].
    """
    config = dict(config or {})
    env = os.environ if env is None else env
    bucket = config.get("s3_bucket") or env.get("SAGE_S3_BUCKET")
    backend = config.get("backend") or env.get("SAGE_STORAGE")
    if backend is None and "use_s3" in config:
        backend = "s3" if config["use_s3"] else "local"
    if backend is None:
        backend = "s3" if bucket else "local"
    backend = str(backend).lower()
    if backend == "s3":
        if not bucket:
            raise ValueError("S3 storage needs s3_bucket (or SAGE_S3_BUCKET)")
        prefix = config.get("s3_prefix")
        if prefix is None:
            prefix = env.get("SAGE_S3_PREFIX", DEFAULT_S3_PREFIX)
        return S3Storage(bucket, prefix=prefix, client=s3_client)
    if backend == "local":
        return LocalStorage(config.get("local_path") or env.get("SAGE_LOCAL_PATH") or DEFAULT_LOCAL_PATH)
    raise ValueError(f"unknown storage backend {backend!r}; use 's3' or 'local'")
