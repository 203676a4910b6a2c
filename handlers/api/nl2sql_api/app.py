"""The FastAPI application: ``GET /health`` and ``POST /ask``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from lambdaform_kit.logs import get_logger

from .answerer import Answerer, EchoAnswerer
from .middleware import RequestLogMiddleware
from .models import AskRequest, AskResponse, HealthResponse

DEFAULT_SERVICE_NAME = "nl2sql-api"
DEFAULT_SERVICE_VERSION = "0.0.0"


@dataclass(frozen=True)
class Settings:
    """Runtime settings, read from the environment once when the app is built."""

    service_name: str = DEFAULT_SERVICE_NAME
    service_version: str = DEFAULT_SERVICE_VERSION

    @classmethod
    def from_env(cls) -> Settings:
        """SERVICE_NAME and SERVICE_VERSION, falling back to the defaults when unset or empty."""
        return cls(
            service_name=os.environ.get("SERVICE_NAME") or DEFAULT_SERVICE_NAME,
            service_version=os.environ.get("SERVICE_VERSION") or DEFAULT_SERVICE_VERSION,
        )


def get_answerer(request: Request) -> Answerer:
    """FastAPI dependency: the answerer the app was built with."""
    return request.app.state.answerer


def get_settings(request: Request) -> Settings:
    """FastAPI dependency: the settings the app was built with."""
    return request.app.state.settings


def create_app(answerer: Answerer | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the API.

    ``answerer`` defaults to the placeholder ``EchoAnswerer``; pass a real NL2SQL engine to
    replace it. ``settings`` defaults to ``Settings.from_env()``.
    """
    settings = settings or Settings.from_env()
    app = FastAPI(title=settings.service_name, version=settings.service_version)
    app.state.answerer = answerer if answerer is not None else EchoAnswerer()
    app.state.settings = settings
    app.add_middleware(RequestLogMiddleware, logger=get_logger("nl2sql_api"))

    @app.get("/health", response_model=HealthResponse)
    def health(settings: Annotated[Settings, Depends(get_settings)]) -> HealthResponse:
        """Liveness probe: answers without touching the answering engine."""
        return HealthResponse(status="ok", service=settings.service_name, version=settings.service_version)

    @app.post("/ask", response_model=AskResponse)
    def ask(body: AskRequest, answerer: Annotated[Answerer, Depends(get_answerer)]) -> AskResponse:
        """Answer a natural-language question with the SQL used and the answer."""
        result = answerer.answer(body.question, body.max_rows)
        return AskResponse(question=body.question, sql=result.sql, answer=result.answer)

    return app


app = create_app()
