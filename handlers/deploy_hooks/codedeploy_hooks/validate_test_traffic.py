"""AfterAllowTestTraffic: every ``SMOKE_TEST_URLS`` entry (the test listener) answers 2xx/3xx in time."""

from __future__ import annotations

from codedeploy_hooks import config
from codedeploy_hooks.config import SmokeSettings
from codedeploy_hooks.runner import HookContext, lifecycle_hook
from codedeploy_hooks.smoke import run_smoke_checks


def validate_test_traffic(ctx: HookContext) -> None:
    """Smoke-test the replacement task set through the test listener."""
    urls = config.url_list("SMOKE_TEST_URLS", required=True)
    settings = SmokeSettings.from_env()
    run_smoke_checks(ctx, urls, settings, "test-traffic")


handler = lifecycle_hook("validate_test_traffic", "AfterAllowTestTraffic", validate_test_traffic)
