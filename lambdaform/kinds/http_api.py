"""The ``http:`` section: settings of the one HTTP API that the functions' ``http`` triggers share.

::

    http:                                   # optional; every field has a default
      cors: {allow_origins: [https://app.example.com], allow_methods: [GET, POST]}
      throttling_burst_limit: 200           # default route throttling, across all clients
      throttling_rate_limit: 100
      access_log_retention_days: 14

The API itself (``<project>-<env>-http``: routes, integrations, authorizers, permissions, the ``$default``
stage and its access log group) is composed by the ``http`` trigger (:mod:`lambdaform.triggers.http`),
which reads this section; the section adds nothing of its own, and declaring it without any ``http``
trigger is refused (there would be no API to configure).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import RetentionDays, Strict
from lambdaform.kinds.base import CheckContext, Kind

KEY = "http"
TRIGGER = "http"
"""The trigger kind whose routes this section configures."""
ORIGIN = re.compile(r"^https?://[^/\s]+$")
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


class HttpCors(Strict):
    """CORS for the HTTP API, answered by API Gateway itself (preflight included). Nothing is allowed unless
    listed."""

    allow_origins: list[str] = Field(min_length=1, description="Origins, e.g. https://app.example.com, or '*'.")
    allow_methods: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"]] = Field(
        default_factory=lambda: ["GET", "POST"], min_length=1, description="GET and POST unless listed.")
    allow_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type"],
        description="Request headers browsers may send: authorization (SigV4 and JWT tokens) and content-type "
        "unless listed.")
    expose_headers: list[str] = Field(default_factory=list, description="Response headers scripts may read.")
    allow_credentials: bool = Field(default=False, description="Send cookies and credentials; off by default.")
    max_age_seconds: int = Field(default=300, ge=0, le=86400, description="Preflight cache time; 300 seconds.")

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not ORIGIN.match(origin):
                raise ValueError(f"'{origin}' is not an origin (scheme://host[:port], no path)")
        return value

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _headers(cls, value: list[str]) -> list[str]:
        for header in value:
            if header != "*" and not HEADER.match(header):
                raise ValueError(f"'{header}' is not a header name")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> HttpCors:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials needs the origins listed: browsers refuse credentials with '*'")
        return self


class HttpApiSection(Strict):
    """The service's HTTP API (API Gateway v2, one per environment, shared by every ``http`` trigger):
    a ``$default`` stage that deploys automatically, JSON access logs encrypted with the service key, and
    default route throttling."""

    description: str = Field(default="", max_length=1024)
    cors: HttpCors | None = Field(default=None, description="No CORS (other origins' scripts are refused) "
                                  "unless given.")
    throttling_burst_limit: int = Field(
        default=200, ge=0, le=5000, description="Requests allowed in a burst, across all clients; 200.")
    throttling_rate_limit: float = Field(
        default=100.0, ge=0, le=10000, description="Steady requests per second, across all clients; 100.")
    access_log_retention_days: RetentionDays = Field(default=14, description="Retention of the access log; 14 days.")


DEFAULTS = HttpApiSection()
"""What the API gets when the file has no ``http:`` section."""


def section(service) -> HttpApiSection:
    """The environment's ``http:`` section, or the defaults."""
    return getattr(service, KEY, None) or DEFAULTS


class HttpApi(Kind):
    key = KEY
    model = HttpApiSection
    shape = "section"
    description = "Settings of the HTTP API that the functions' http triggers share (CORS, throttling, logs)."

    def checks(self, ctx: CheckContext) -> list[Problem]:
        routed = any(item.kind == TRIGGER for fn in ctx.service.functions.values() for item in fn.triggers)
        if routed:
            return []
        return [Problem(KEY, "no function has an http trigger, so there is no HTTP API to configure; add "
                             "'- http: {route: \"GET /path\"}' to a function's triggers or remove this section")]

    def compose(self, stack) -> None:
        """Nothing: the ``http`` trigger composes the API with these settings."""


KIND = HttpApi()
