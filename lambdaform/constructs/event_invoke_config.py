"""How Lambda handles a function's asynchronous invocations: retries, event age and destinations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
    LambdaFunctionEventInvokeConfigDestinationConfig,
    LambdaFunctionEventInvokeConfigDestinationConfigOnFailure,
    LambdaFunctionEventInvokeConfigDestinationConfigOnSuccess,
)
from constructs import Construct

from lambdaform.constructs._iam import named, statement

SEND_ACTIONS = {"queue": "sqs:SendMessage", "topic": "sns:Publish", "function": "lambda:InvokeFunction",
                "event_bus": "events:PutEvents"}
"""The one action Lambda needs on each kind of destination."""


@dataclass(frozen=True)
class DestinationProps:
    kind: str
    """``queue``, ``topic``, ``function`` or ``event_bus``."""
    arn: str


@dataclass(frozen=True)
class AsyncDeliveryProps:
    function_name: str
    qualifier: str | None = None
    """The alias the configuration applies to; ``None``: the unqualified function."""
    maximum_retry_attempts: int = 2
    """Lambda's default: 2 retries."""
    maximum_event_age_seconds: int = 21600
    """Lambda's default: 6 hours."""
    on_failure: DestinationProps | None = None
    on_success: DestinationProps | None = None
    depends_on: tuple[Any, ...] = ()
    """What must exist first (the role policy allowing the destinations: Lambda checks it when configured)."""


def destination_statements(props: AsyncDeliveryProps) -> list[dict]:
    """Exactly what the execution role needs to deliver to the destinations, one statement per destination."""
    out = []
    for sid, destination in (("AsyncOnFailure", props.on_failure), ("AsyncOnSuccess", props.on_success)):
        if destination is not None:
            out.append(statement([SEND_ACTIONS[destination.kind]], [destination.arn], sid=sid))
    return out


class AsyncDelivery(Construct):
    """Attribute: ``resource`` (the ``aws_lambda_function_event_invoke_config``)."""

    def __init__(self, scope: Construct, id: str, props: AsyncDeliveryProps):
        super().__init__(scope, id)
        for destination in (props.on_failure, props.on_success):
            if destination is not None and destination.kind not in SEND_ACTIONS:
                raise ValueError(f"destination kind must be one of {', '.join(SEND_ACTIONS)}, not {destination.kind!r}")
        config = None
        if props.on_failure or props.on_success:
            config = LambdaFunctionEventInvokeConfigDestinationConfig(
                on_failure=LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(destination=props.on_failure.arn)
                if props.on_failure else None,
                on_success=LambdaFunctionEventInvokeConfigDestinationConfigOnSuccess(destination=props.on_success.arn)
                if props.on_success else None,
            )
        self.resource = named(LambdaFunctionEventInvokeConfig(
            self, "config",
            function_name=props.function_name,
            qualifier=props.qualifier,
            maximum_retry_attempts=props.maximum_retry_attempts,
            maximum_event_age_in_seconds=props.maximum_event_age_seconds,
            destination_config=config,
            depends_on=list(props.depends_on) or None,
        ), id)
