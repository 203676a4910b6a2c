"""A CloudWatch dashboard for one Lambda function, optionally with the caller's local-vs-Lambda metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from constructs import Construct

from lambdaform.constructs._iam import named

LAMBDA = "AWS/Lambda"
WIDTH, HEIGHT, COLUMNS = 8, 6, 3
"""Widgets are 8 x 6 cells, three per row of CloudWatch's 24-cell grid."""


@dataclass(frozen=True)
class FunctionDashboardProps:
    name: str
    """Dashboard name (letters, digits, ``-`` and ``_``), normally the function's name."""
    function_name: str
    """The function shown (the ``FunctionName`` dimension); Terraform references are fine."""
    region: str
    """Region of the function's metrics."""
    period_seconds: int = 300
    """Granularity of every graph (5 minutes)."""
    reserved_concurrency: int | None = None
    """Drawn as a line on the concurrency graph when set."""
    errors_threshold: int | None = None
    """Alarm threshold drawn on the errors graph, if any."""
    duration_threshold_ms: int | None = None
    """Alarm threshold drawn on the duration graph, if any."""
    local_metrics_namespace: str | None = None
    """Namespace where the dispatcher publishes ``LocalExecutions``, ``LambdaExecutions`` and
    ``RequeuedExecutions`` (no dimensions), e.g. ``SAGE``. Unset: no dispatcher graphs."""


class FunctionDashboard(Construct):
    """Invocations; errors with the success rate; duration (average, p95, maximum); concurrent executions
    and throttles against the reserved concurrency; with ``local_metrics_namespace``, where executions ran
    (local vs Lambda), the share sent to Lambda, and requeued executions.

    Attributes: ``dashboard_name``, ``dashboard_arn``, ``body`` (the JSON string as written)."""

    def __init__(self, scope: Construct, id: str, props: FunctionDashboardProps):
        super().__init__(scope, id)
        self.body: str = dashboard_body(props)
        dashboard = named(CloudwatchDashboard(self, "dashboard", dashboard_name=props.name,
                                              dashboard_body=self.body), id)
        self.dashboard_name: str = dashboard.dashboard_name
        self.dashboard_arn: str = dashboard.dashboard_arn


def dashboard_body(props: FunctionDashboardProps) -> str:
    """The dashboard JSON with sorted keys (same props, same bytes)."""
    fn = ("FunctionName", props.function_name)
    widgets = [
        _graph(props, "Invocations", [[LAMBDA, "Invocations", *fn, {"stat": "Sum", "label": "Invocations"}]]),
        _graph(props, "Errors and success rate", [
            [LAMBDA, "Errors", *fn, {"stat": "Sum", "id": "errors", "label": "Errors"}],
            [LAMBDA, "Invocations", *fn, {"stat": "Sum", "id": "invocations", "visible": False}],
            [{"expression": "100 - 100 * errors / invocations", "id": "success", "label": "Success rate (%)",
              "yAxis": "right"}],
        ], threshold=(props.errors_threshold, "Errors alarm")),
        _graph(props, "Duration (ms)", [
            [LAMBDA, "Duration", *fn, {"stat": stat, "label": label}]
            for stat, label in (("Average", "Average"), ("p95", "p95"), ("Maximum", "Maximum"))
        ], threshold=(props.duration_threshold_ms, "Duration alarm")),
        _graph(props, "Concurrent executions", [
            [LAMBDA, "ConcurrentExecutions", *fn, {"stat": "Maximum", "label": "Concurrent executions"}],
            [LAMBDA, "Throttles", *fn, {"stat": "Sum", "label": "Throttles", "yAxis": "right"}],
        ], threshold=(props.reserved_concurrency, "Reserved concurrency")),
    ]
    namespace = props.local_metrics_namespace
    if namespace:
        widgets += [
            _graph(props, "Executions: local vs Lambda", [
                [namespace, "LocalExecutions", {"stat": "Sum", "label": "Local"}],
                [namespace, "LambdaExecutions", {"stat": "Sum", "label": "Lambda"}],
            ], stacked=True),
            _graph(props, "Share sent to Lambda (%)", [
                [namespace, "LocalExecutions", {"stat": "Sum", "id": "local", "visible": False}],
                [namespace, "LambdaExecutions", {"stat": "Sum", "id": "lambda", "visible": False}],
                [{"expression": "100 * lambda / (local + lambda)", "id": "share", "label": "Lambda share (%)"}],
            ]),
            _graph(props, "Requeued executions", [
                [namespace, "RequeuedExecutions", {"stat": "Sum", "label": "Requeued"}],
            ]),
        ]
    for index, widget in enumerate(widgets):
        widget["x"] = (index % COLUMNS) * WIDTH
        widget["y"] = (index // COLUMNS) * HEIGHT
    return json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))


def _graph(props: FunctionDashboardProps, title: str, metrics: list[list[Any]], *,
           threshold: tuple[int | None, str] = (None, ""), stacked: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "region": props.region,
        "period": props.period_seconds,
        "view": "timeSeries",
        "stacked": stacked,
        "metrics": metrics,
    }
    value, label = threshold
    if value is not None:
        properties["annotations"] = {"horizontal": [{"label": label, "value": value}]}
    return {"type": "metric", "width": WIDTH, "height": HEIGHT, "properties": properties}
