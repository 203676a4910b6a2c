"""``http``: a route of the service's HTTP API (API Gateway v2) invokes the function.

.. code-block:: yaml

    triggers:
      - http: {route: "POST /orders"}                          # auth: IAM unless written
      - http: {route: "GET /orders/{id}", auth: NONE}           # public, because it says so
      - http: {route: "ANY /admin/{proxy+}", auth: JWT,
               issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
               audiences: [my-client-id], scopes: [admin]}

Every ``http`` trigger of every function is a route of ONE HTTP API per environment,
``<project>-<env>-http`` (settings in the optional top-level ``http:`` section,
:mod:`lambdaform.kinds.http_api`). Each function gets one Lambda proxy integration (payload format 2.0) that
its routes share, and one invoke permission per route whose ``source_arn`` is that route only
(``<execution arn>/*/GET/orders/*``: path parameters become ``*``, ``ANY`` becomes ``*``; ``$default``, which
receives every unmatched method and path, gets ``<execution arn>/*/*``), so a route added to the API by hand
cannot reach a function that only has specific routes. Routes with the same JWT issuer and audiences share one
authorizer. The stack outputs ``http_api_url`` (the ``$default`` stage's invoke URL) and ``http_api_id``.

``auth`` defaults to ``IAM`` (SigV4-signed callers with ``execute-api:Invoke`` on the route), like a
Function URL's ``AWS_IAM`` default: forgetting the field never publishes a route; ``NONE`` must be
written.

A route is claimed once: two triggers with the same method and path (path parameter names do not count:
``/orders/{id}`` and ``/orders/{key}`` are the same route to API Gateway) are refused, naming both. ``ANY``
on one function and a specific method on the same path of another function are refused too: API Gateway
would silently send that method to the second function, which the first one's author does not see; list
the first function's methods instead of ``ANY``. On the same function, ``ANY /x`` with ``GET /x`` is
allowed (it gives ``GET`` its own auth).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, ValidationInfo, field_validator

from lambdaform.errors import Problem
from lambdaform.fields import Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.kinds.http_api import section
from lambdaform.literals import escape_literal
from lambdaform.names import physical, tf_name
from lambdaform.triggers.base import Trigger, Use

KEY = "http"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
DEFAULT_ROUTE = "$default"
SEGMENT = re.compile(r"^[A-Za-z0-9._~:@-]+$")
PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
ISSUER = re.compile(r"^https://[^/\s?#]+(/[^\s?#]*)?$")
MAX_PARAMETERS = 10
MAX_AUTHORIZERS = 10
"""API Gateway: at most 10 authorizers per API."""
MAX_ROUTES = 300
"""API Gateway: at most 300 routes per API."""
AUTHORIZATION = {"IAM": "AWS_IAM", "NONE": "NONE", "JWT": "JWT"}
"""The trigger's ``auth`` -> the route's ``authorization_type``."""


@dataclass(frozen=True)
class Route:
    """A parsed route key: ``method`` and ``path``, both ``None`` for ``$default``."""

    method: str | None
    path: str | None

    @property
    def text(self) -> str:
        return DEFAULT_ROUTE if self.method is None else f"{self.method} {self.path}"

    @property
    def segments(self) -> list[str]:
        return [] if self.path in (None, "/") else self.path.split("/")[1:]

    def shape(self, method: str | None = None) -> tuple:
        """What API Gateway compares: the method and the path with parameter names left out."""
        if self.method is None:
            return (DEFAULT_ROUTE,)
        return (method or self.method, *(_shape(segment) for segment in self.segments))

    @property
    def source_path(self) -> str:
        """The part of the invoke permission's ``source_arn`` after the API's execution ARN."""
        if self.method is None:
            return "/*/*"  # $default receives any method and path, and the ARN carries the request's
        method = "*" if self.method == "ANY" else self.method
        return f"/*/{method}/" + "/".join("*" if segment.startswith("{") else segment for segment in self.segments)

    @property
    def slug(self) -> str:
        """A readable Terraform name part: ``GET /orders/{id}`` -> ``get_orders_id``."""
        if self.method is None:
            return "default"
        parts = [segment.strip("{}+") for segment in self.segments] or ["root"]
        return tf_name(self.method.lower(), *parts).lower()


def _shape(segment: str) -> str:
    match = PARAMETER.match(segment)
    if match is None:
        return segment
    return "{+}" if match.group(2) else "{}"


def parse_route(text: str) -> Route:
    """``"GET /orders/{id}"`` -> :class:`Route`; :class:`ValueError` saying what is wrong otherwise."""
    if text == DEFAULT_ROUTE:
        return Route(None, None)
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"'{text}' is not a route: write 'METHOD /path' (e.g. 'GET /orders/{{id}}') or $default")
    method, path = parts
    if method not in METHODS:
        hint = " (methods are upper case)" if method.upper() in METHODS else ""
        raise ValueError(f"method '{method}' is not one of {', '.join(METHODS)}{hint}")
    if not path.startswith("/"):
        raise ValueError(f"path '{path}' must start with '/' (e.g. '{method} /{path}')")
    route = Route(method, path)
    if path != "/" and (path.endswith("/") or "//" in path):
        raise ValueError(f"path '{path}' has an empty segment (no '//' and no trailing '/')")
    names: list[str] = []
    segments = route.segments
    for position, segment in enumerate(segments):
        match = PARAMETER.match(segment)
        if match is None:
            if "{" in segment or "}" in segment:
                raise ValueError(f"path segment '{segment}' must be a whole parameter like {{id}} or {{proxy+}}, "
                                 "or plain text")
            if not SEGMENT.match(segment):
                raise ValueError(f"path segment '{segment}' may hold letters, digits and . _ ~ : @ - only")
            continue
        name, greedy = match.groups()
        if name in names:
            raise ValueError(f"path parameter '{{{name}}}' appears twice")
        names.append(name)
        if greedy and position != len(segments) - 1:
            raise ValueError(f"greedy path parameter '{segment}' must be the last segment of the path")
    if len(names) > MAX_PARAMETERS:
        raise ValueError(f"a route has at most {MAX_PARAMETERS} path parameters, not {len(names)}")
    return route


class HttpOptions(Strict):
    """A route of the service's HTTP API that invokes this function."""

    route: str = Field(description="'METHOD /path' (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY; path "
                       "parameters like {id}, a greedy {proxy+} last) or $default (every request no other route "
                       "matches).")
    auth: Literal["IAM", "NONE", "JWT"] = Field(
        default="IAM",
        description="Who may call the route. IAM by default: SigV4-signed callers with execute-api:Invoke, so "
        "a route is never public by omission. JWT: a bearer token from 'issuer' for one of 'audiences'. "
        "NONE: anyone; must be written.")
    issuer: str | None = Field(default=None, validate_default=True,
                               description="JWT only, required: the token issuer, an https URL (e.g. a Cognito "
                               "user pool's https://cognito-idp.<region>.amazonaws.com/<pool id>).")
    audiences: list[str] = Field(default_factory=list, validate_default=True,
                                 description="JWT only, required: accepted 'aud' (or Cognito 'client_id') values.")
    scopes: list[str] = Field(default_factory=list, description="JWT only: the token must carry one of these "
                              "scopes; none required by default.")

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        parse_route(value)
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str | None, info: ValidationInfo) -> str | None:
        auth = info.data.get("auth")
        if auth is None:
            return value
        if auth != "JWT":
            if value is not None:
                raise ValueError(f"applies to auth: JWT only (auth is {auth})")
            return value
        if value is None:
            raise ValueError("auth JWT needs the token issuer (an https URL)")
        if not ISSUER.match(value):
            raise ValueError(f"'{value}' must be an https URL without query or fragment (API Gateway fetches "
                             "its /.well-known/openid-configuration)")
        return value

    @field_validator("audiences")
    @classmethod
    def _audiences(cls, value: list[str], info: ValidationInfo) -> list[str]:
        auth = info.data.get("auth")
        if auth is None:
            return value
        if auth != "JWT":
            if value:
                raise ValueError(f"applies to auth: JWT only (auth is {auth})")
            return value
        if not value:
            raise ValueError("auth JWT needs at least one audience")
        if any(not audience or any(c.isspace() for c in audience) for audience in value):
            raise ValueError("an audience is a non-empty value without spaces")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str], info: ValidationInfo) -> list[str]:
        auth = info.data.get("auth")
        if value and auth is not None and auth != "JWT":
            raise ValueError(f"applies to auth: JWT only (auth is {auth})")
        if any(not scope or any(c.isspace() for c in scope) for scope in value):
            raise ValueError("a scope is a non-empty value without spaces")
        return value

    def authorizer_identity(self) -> tuple[str, tuple[str, ...]] | None:
        """(issuer, audiences) this route's JWT authorizer is for; routes with the same one share it."""
        if self.auth != "JWT" or self.issuer is None:
            return None
        return self.issuer, tuple(sorted(set(self.audiences)))


def _claim(use: Use) -> str:
    return f"functions.{use.function}.triggers.{use.index}.{KEY}"


class Http(Trigger):
    key = KEY
    model = HttpOptions
    description = "A route of the service's HTTP API (API Gateway v2, payload format 2.0); auth IAM by default."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        claimed: dict[tuple, Use] = {}
        any_routes: dict[tuple, Use] = {}
        authorizers: set[tuple] = set()
        for use in uses:
            options: HttpOptions = use.options
            route = parse_route(options.route)
            shape = route.shape()
            first = claimed.setdefault(shape, use)
            if first is not use:
                problems.append(Problem(use.path(KEY, "route"), (
                    f"route '{route.text}' is already claimed by {_claim(first)} ('{first.options.route}'); "
                    "a route (method and path, whatever the parameter names) invokes one function")))
                continue
            if route.method is not None:
                overlap = self._overlap(route, use, claimed, any_routes)
                if overlap is not None:
                    problems.append(Problem(use.path(KEY, "route"), overlap))
                if route.method == "ANY":
                    any_routes[shape] = use
            identity = options.authorizer_identity()
            if identity is not None and identity not in authorizers:
                authorizers.add(identity)
                if len(authorizers) > MAX_AUTHORIZERS:
                    problems.append(Problem(use.path(KEY, "issuer"), (
                        f"an HTTP API has at most {MAX_AUTHORIZERS} JWT authorizers (one per distinct issuer and "
                        "audiences); this route would need another")))
        if len(claimed) > MAX_ROUTES:
            problems.append(Problem(uses[MAX_ROUTES].path(KEY, "route"),
                                    f"an HTTP API has at most {MAX_ROUTES} routes, this file declares {len(claimed)}"))
        return problems

    @staticmethod
    def _overlap(route: Route, use: Use, claimed: dict[tuple, Use], any_routes: dict[tuple, Use]) -> str | None:
        """ANY /x on one function and GET /x on another: refused, whichever comes first."""
        if route.method == "ANY":
            for method in METHODS[:-1]:
                other = claimed.get(route.shape(method))
                if other is not None and other.function != use.function:
                    break
            else:
                return None
        else:
            other = any_routes.get(route.shape("ANY"))
            if other is None or other.function == use.function:
                return None
        specific, broad = (other, use) if route.method == "ANY" else (use, other)
        return (f"route '{route.text}' overlaps {_claim(other)} ('{other.options.route}'): API Gateway would send "
                f"'{specific.options.route}' to function '{specific.function}' and every other method to "
                f"'{broad.function}'; list {broad.function}'s methods instead of ANY")

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs.http_api import HttpApi, HttpApiProps, HttpCors, HttpRoute, HttpTarget, JwtAuthorizer

        settings = section(stack.service)
        parsed = [parse_route(use.options.route) for use in uses]
        keys = _route_keys(parsed)
        authorizers: dict[tuple, JwtAuthorizer] = {}
        routes = []
        for use, route, key in zip(uses, parsed, keys, strict=True):
            options: HttpOptions = use.options
            identity = options.authorizer_identity()
            if identity is not None and identity not in authorizers:
                authorizers[identity] = _authorizer(JwtAuthorizer, *identity)
            routes.append(HttpRoute(
                route_key=route.text,
                key=key,
                target=use.function,
                source_path=route.source_path,
                authorization=AUTHORIZATION[options.auth],
                authorizer=authorizers[identity].key if identity is not None else None,
                scopes=tuple(escape_literal(scope) for scope in options.scopes),
            ))
        targets = tuple(
            HttpTarget(key=key, function_name=stack.functions[key].function_name,
                       invoke_arn=stack.functions[key].target_arn, qualifier=stack.functions[key].qualifier)
            for key in dict.fromkeys(use.function for use in uses)
        )
        cors = settings.cors
        api = HttpApi(stack, "http_api", HttpApiProps(
            name=physical(stack.service.project, stack.env, "http"),
            description=escape_literal(settings.description),
            targets=targets,
            routes=tuple(routes),
            authorizers=tuple(authorizers.values()),
            cors=HttpCors(
                allow_origins=tuple(cors.allow_origins), allow_methods=tuple(cors.allow_methods),
                allow_headers=tuple(cors.allow_headers), expose_headers=tuple(cors.expose_headers),
                allow_credentials=cors.allow_credentials, max_age_seconds=cors.max_age_seconds,
            ) if cors is not None else None,
            throttling_burst_limit=settings.throttling_burst_limit,
            throttling_rate_limit=settings.throttling_rate_limit,
            access_log_retention_days=settings.access_log_retention_days,
            log_kms_key_arn=stack.key.key_arn if stack.key is not None else None,
        ))
        stack.output("http_api_url", api.api_endpoint,
                     "Invoke URL of the HTTP API (https://<api id>.execute-api.<region>.amazonaws.com); routes "
                     "are paths under it")
        stack.output("http_api_id", api.api_id, "API Gateway HTTP API id")

    def describe(self, use: Use) -> str:
        return f"http: {use.options.route} ({use.options.auth})"


def _route_keys(routes: list[Route]) -> list[str]:
    """One Terraform name part per route, readable (``get_orders_id``); a hash of the route key is added only
    where two routes would read the same (``/a-b`` and ``/a_b``)."""
    slugs = [route.slug for route in routes]
    return [slug if slugs.count(slug) == 1 else f"{slug}_{_digest(route.text)}" for route, slug in zip(routes, slugs,
                                                                                                          strict=True)]


def _authorizer(factory, issuer: str, audiences: tuple[str, ...]):
    """The authorizer for (issuer, audiences), named after the issuer's host; its key is a digest of both,
    so adding a route elsewhere in the file never renames (and replaces) an existing authorizer."""
    digest = _digest(issuer + "\n" + "\n".join(audiences))
    host = re.sub(r"[^A-Za-z0-9.-]", "-", urlparse(issuer).netloc)
    return factory(key=f"jwt_{digest}", name=f"jwt-{host}-{digest}"[:128], issuer=escape_literal(issuer),
                   audiences=tuple(escape_literal(audience) for audience in audiences))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


KIND = Http()
