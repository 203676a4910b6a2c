"""``aws_s3_bucket_notification``: the whole notification configuration of one bucket.

S3 keeps one notification configuration per bucket and this resource replaces all of it, so a bucket gets
exactly one, holding every function that listens to it. It depends on the functions' invoke permissions:
S3 checks that it may invoke each function when the configuration is put.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.s3_bucket_notification import (
    S3BucketNotification,
    S3BucketNotificationLambdaFunction,
)
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class LambdaNotification:
    """One configuration: these events on keys matching the filters invoke the function."""

    function_arn: str
    """The function (or alias) ARN S3 invokes."""
    events: tuple[str, ...]
    """S3 event types, e.g. ``s3:ObjectCreated:*``."""
    filter_prefix: str = ""
    """Only keys starting with this (empty: every key)."""
    filter_suffix: str = ""
    """Only keys ending with this (empty: every key)."""
    id: str | None = None
    """A readable name for the configuration (S3 makes one up when ``None``)."""


@dataclass(frozen=True)
class BucketNotificationProps:
    bucket: str
    """The bucket's name."""
    functions: tuple[LambdaNotification, ...]
    depends_on: Sequence[Any] = field(default_factory=tuple)
    """The invoke permissions of the functions (S3 verifies them when the configuration is put)."""


class BucketNotification(Construct):
    def __init__(self, scope: Construct, id: str, props: BucketNotificationProps):
        super().__init__(scope, id)
        self.resource = named(S3BucketNotification(
            self, "notification",
            bucket=props.bucket,
            lambda_function=[S3BucketNotificationLambdaFunction(
                lambda_function_arn=target.function_arn,
                events=list(target.events),
                filter_prefix=target.filter_prefix or None,
                filter_suffix=target.filter_suffix or None,
                id=target.id,
            ) for target in props.functions],
            depends_on=list(props.depends_on) or None,
        ), id)
