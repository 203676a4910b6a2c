"""Field types shared by the service model and the blueprint sections: names AWS accepts, paths, ARNs."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

# --- names AWS accepts -----------------------------------------------------------------------------

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", min_length=2, max_length=32),
    Field(description="Lowercase letters, digits and hyphens; starts with a letter, 2-32 characters."),
]
"""A short resource-name part (project, environment, function key). Combined names must fit AWS limits."""

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
"""An AWS region code (``us-east-1``, ``us-gov-west-1``, ``us-isob-east-1``): the one rule for regions."""

Region = Annotated[
    str,
    StringConstraints(pattern=REGION_PATTERN),
    Field(description="An AWS region code such as us-east-1."),
]

def _account_id(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("must be a quoted string such as '012345678901' (YAML reads an unquoted number as an "
                         "integer and drops leading zeros)")
    if isinstance(value, str) and not re.fullmatch(r"\d{12}", value.strip()):
        raise ValueError(f"must be a 12-digit AWS account id (got {value!r})")
    return value


AccountId = Annotated[
    str,
    BeforeValidator(_account_id),
    Field(description="A 12-digit AWS account id, quoted.", json_schema_extra={"pattern": r"^\d{12}$"}),
]
"""An AWS account id: twelve digits, written as a string (leading zeros are part of it)."""

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
RelPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=512),
    Field(description="A path relative to the service file's own folder."),
]
Arn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")]

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
"""The values CloudWatch Logs accepts for a log group's retention."""


def _retention_days(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


RetentionDays = Annotated[int, AfterValidator(_retention_days)]
"""Days a CloudWatch log group keeps its events: one of :data:`LOG_RETENTION_DAYS`."""

ZIP_RUNTIMES = (
    "python3.10", "python3.11", "python3.12", "python3.13",
    "nodejs20.x", "nodejs22.x",
    "provided.al2023", "provided.al2",
    "java21", "ruby3.3", "ruby3.4",
)
"""Runtimes AWS supports that the pinned AWS provider (5.100.0) can plan; python3.9 and older are out of
support and refused."""

PROVIDER_6_RUNTIMES = ("python3.14", "nodejs24.x", "java25")
"""Runtimes AWS launched after provider 5.100.0: Terraform refuses them at validate with this binding."""
PROVIDER_VERSION = "5.100.0"

RESERVED_ENV_VARS = frozenset(
    {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
     "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
     "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "_X_AMZN_TRACE_ID",
     "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_XRAY_CONTEXT_MISSING",
     "AWS_XRAY_DAEMON_ADDRESS", "AWS_LAMBDA_INITIALIZATION_TYPE"}
)
"""Environment variables Lambda sets itself and refuses in a function's configuration."""


class Strict(BaseModel):
    """Base for every section: unknown keys are errors (with a "did you mean" from the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
