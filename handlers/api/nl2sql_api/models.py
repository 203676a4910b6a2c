"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

QUESTION_MAX_CHARS = 2000
MAX_ROWS_LIMIT = 1000
DEFAULT_MAX_ROWS = 100


class AskRequest(BaseModel):
    """Body of ``POST /ask``. Unknown fields are rejected so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=QUESTION_MAX_CHARS, strict=True),
        Field(description="The question in natural language; surrounding whitespace is stripped."),
    ]
    max_rows: Annotated[
        int,
        Field(
            default=DEFAULT_MAX_ROWS,
            ge=1,
            le=MAX_ROWS_LIMIT,
            strict=True,
            description="Upper bound on the rows the engine may read.",
        ),
    ] = DEFAULT_MAX_ROWS


class AskResponse(BaseModel):
    """Body answered by ``POST /ask``."""

    question: str
    sql: str
    answer: str


class HealthResponse(BaseModel):
    """Body answered by ``GET /health``."""

    status: str
    service: str
    version: str
