"""HTTP smoke checks with urllib: every URL must answer 2xx/3xx within the latency threshold."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from codedeploy_hooks.config import SmokeSettings
from codedeploy_hooks.errors import HookFailed
from codedeploy_hooks.runner import HookContext

USER_AGENT = "lambdaform-codedeploy-hooks/1"


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: a 3xx from the new version counts as an answer in itself."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_KeepRedirects)


@dataclass(frozen=True)
class SmokeResult:
    url: str
    status: int | None  # HTTP status, or None when no response came back
    latency_ms: float
    problem: str | None  # None when the check passed

    @property
    def passed(self) -> bool:
        return self.problem is None


def check_url(url: str, *, timeout_seconds: float, latency_threshold_ms: float) -> SmokeResult:
    """GET ``url`` once and judge the answer."""
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": USER_AGENT})
    started = time.perf_counter()
    status: int | None = None
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx and 5xx land here
        status = exc.code
        exc.close()
    except TimeoutError:
        return SmokeResult(url, None, _ms(started), f"no response within {timeout_seconds:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return SmokeResult(url, None, _ms(started), f"no response within {timeout_seconds:g} s")
        return SmokeResult(url, None, _ms(started), f"request failed: {reason}")
    except (http.client.HTTPException, OSError) as exc:
        return SmokeResult(url, None, _ms(started), f"request failed: {type(exc).__name__}: {exc}")
    latency_ms = _ms(started)
    if not 200 <= status < 400:
        return SmokeResult(url, status, latency_ms, f"HTTP {status}")
    if latency_ms > latency_threshold_ms:
        return SmokeResult(
            url, status, latency_ms, f"took {latency_ms:.0f} ms, over the {latency_threshold_ms:g} ms threshold"
        )
    return SmokeResult(url, status, latency_ms, None)


def run_smoke_checks(ctx: HookContext, urls: list[str], settings: SmokeSettings, label: str) -> None:
    """Check every URL (no early exit) and raise HookFailed summarising all failures.

    Each request's timeout is cut to the time the Lambda has left, so a hung endpoint cannot stop the
    hook from reporting; URLs reached after the budget is spent fail as "not checked".
    """
    results: list[SmokeResult] = []
    for url in urls:
        seconds_left = ctx.seconds_left()
        if seconds_left is not None and seconds_left <= 0:
            result = SmokeResult(url, None, 0.0, "not checked: Lambda time budget exhausted")
        else:
            timeout = settings.timeout_seconds if seconds_left is None else min(settings.timeout_seconds, seconds_left)
            result = check_url(url, timeout_seconds=timeout, latency_threshold_ms=settings.latency_threshold_ms)
        fields = {"url": url, "httpStatus": result.status, "latencyMs": round(result.latency_ms, 1)}
        if result.passed:
            ctx.info(f"{label} smoke check passed: GET {url}", **fields)
        else:
            ctx.warning(f"{label} smoke check failed: GET {url}: {result.problem}", problem=result.problem, **fields)
        results.append(result)

    failures = [r for r in results if not r.passed]
    if failures:
        details = "; ".join(f"GET {r.url}: {r.problem}" for r in failures)
        raise HookFailed(f"{len(failures)} of {len(results)} {label} smoke checks failed: {details}")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
