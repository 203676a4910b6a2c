"""``s3``: objects created (or removed, restored...) in one of this file's buckets invoke the function.

.. code-block:: yaml

    triggers:
      - s3: {bucket: uploads, events: ["s3:ObjectCreated:*"], prefix: "incoming/", suffix: ".csv"}

``bucket`` is a key under ``buckets:``, never an ARN: S3 keeps one notification configuration per bucket
and lambdaform writes all of it, so pointing it at a bucket managed elsewhere would silently delete that
bucket's other notifications. Every trigger on a bucket, across all functions, goes into that bucket's one
``aws_s3_bucket_notification``; each (function, bucket) pair gets one invoke permission for
``s3.amazonaws.com`` naming the bucket ARN and this account (so a same-named bucket elsewhere cannot invoke
it). Two triggers on one bucket may not overlap - S3 refuses the configuration at apply time - so the
loader refuses them first: they overlap when their event types overlap (``s3:ObjectCreated:*`` covers
``s3:ObjectCreated:Put``), one prefix starts the other and one suffix ends the other (empty matches all).
The trigger grants the function nothing on the bucket: read the objects with ``access:``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.literals import escape_literal
from lambdaform.names import tf_name
from lambdaform.triggers.base import Trigger, Use, declared

KEY = "s3"
EVENTS = (
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*", "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put", "s3:ObjectRetention:Put",
    "s3:ObjectAnnotation:*", "s3:ObjectAnnotation:Put", "s3:ObjectAnnotation:Delete",
)
"""The event types S3 notifications accept (the ``Event`` enumeration of the S3 API)."""
ARN_REFUSED = ("a bucket's notification configuration is replaced as a whole, so an s3 trigger names a key "
               "under buckets: (a bucket this file owns), never an ARN; for a bucket managed elsewhere, add the "
               "notification where that bucket is managed")


def _event(value: str) -> str:
    if value not in EVENTS:
        hint = difflib.get_close_matches(value, EVENTS, n=1, cutoff=0.6)
        raise ValueError(f"'{value}' is not an S3 event type" + (f"; did you mean '{hint[0]}'?" if hint else
                         " (e.g. s3:ObjectCreated:*, s3:ObjectRemoved:*, s3:ObjectRestore:Completed)"))
    return value


def events_overlap(a: str, b: str) -> bool:
    """Whether two event types share an event: equal, or one is ``<family>:*`` and the other in the family."""
    return a == b or any(x.endswith(":*") and y.startswith(x[:-1]) for x, y in ((a, b), (b, a)))


class S3Options(Strict):
    """Invoke the function for events on objects of a bucket under ``buckets:``."""

    bucket: Name = Field(description="A key under buckets: in this file (never an ARN: see the kind's docs).")
    events: list[Annotated[str, AfterValidator(_event)]] = Field(
        default_factory=lambda: ["s3:ObjectCreated:*"], min_length=1,
        description="S3 event types (default: s3:ObjectCreated:*, every new object).")
    prefix: str = Field(default="", max_length=1024, description="Only keys starting with this (default: all).")
    suffix: str = Field(default="", max_length=1024, description="Only keys ending with this (default: all).")

    @model_validator(mode="before")
    @classmethod
    def _no_arn(cls, data: Any) -> Any:
        if isinstance(data, dict) and "arn" in data:
            raise ValueError(ARN_REFUSED)
        return data

    @field_validator("bucket", mode="before")
    @classmethod
    def _bucket_not_arn(cls, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("arn:"):
            raise ValueError(ARN_REFUSED)
        return value

    @field_validator("events")
    @classmethod
    def _distinct(cls, events: list[str]) -> list[str]:
        for i, event in enumerate(events):
            for earlier in events[:i]:
                if event == earlier:
                    raise ValueError(f"'{event}' is listed twice")
                if events_overlap(event, earlier):
                    wide, narrow = (event, earlier) if event.endswith(":*") else (earlier, event)
                    raise ValueError(f"'{wide}' already covers '{narrow}': list one of them")
        return events


def overlap(a: S3Options, b: S3Options) -> tuple[str, str] | None:
    """The first pair of overlapping event types when S3 would refuse ``a`` and ``b`` on one bucket."""
    if not (a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)):
        return None
    if not (a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)):
        return None
    return next(((x, y) for x in a.events for y in b.events if events_overlap(x, y)), None)


def _by_bucket(uses: Iterable[Use]) -> dict[str, list[Use]]:
    found: dict[str, list[Use]] = {}
    for use in uses:
        found.setdefault(use.options.bucket, []).append(use)
    return found


class S3(Trigger):
    key = KEY
    model = S3Options
    description = "Invoke on object events of a bucket under buckets: (one notification per bucket)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        for bucket, on_bucket in _by_bucket(uses).items():
            if bucket not in ctx.service.buckets:
                problems += [problem for use in on_bucket
                             for problem in declared(ctx, "buckets", bucket, use, KEY, "bucket")]
                continue
            for i, use in enumerate(on_bucket):
                for earlier in on_bucket[:i]:
                    clash = overlap(use.options, earlier.options)
                    if clash is None:
                        continue
                    problems.append(Problem(use.path(KEY), (
                        f"overlaps {earlier.path(KEY)} on bucket '{bucket}': {clash[0]} and {clash[1]} overlap, "
                        f"and neither the prefixes ('{use.options.prefix}', '{earlier.options.prefix}') nor the "
                        f"suffixes ('{use.options.suffix}', '{earlier.options.suffix}') tell the keys apart; S3 "
                        "refuses overlapping configurations for the same event type: make the prefixes or "
                        "suffixes disjoint or merge the two")))
                    break
        return problems

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs.bucket_notification import BucketNotification, BucketNotificationProps, LambdaNotification
        from lambdaform.constructs.invoke_permission import InvokePermission, InvokePermissionProps

        caller, _partition = stack.account()
        for key, on_bucket in _by_bucket(uses).items():
            bucket = stack.resources["buckets"][key]
            permissions = []
            for function in dict.fromkeys(use.function for use in on_bucket):
                fn = stack.functions[function]
                permissions.append(InvokePermission(stack, tf_name(function, "s3", key), InvokePermissionProps(
                    function_name=fn.function_name,
                    principal="s3.amazonaws.com",
                    source_arn=bucket.bucket_arn,
                    source_account=caller.account_id,
                    qualifier=fn.qualifier,
                    statement_id=f"AllowS3Invoke-{key}",
                )).resource)
            BucketNotification(stack, tf_name(key, "notification"), BucketNotificationProps(
                bucket=bucket.bucket_name,
                functions=tuple(LambdaNotification(
                    function_arn=stack.functions[use.function].target_arn,
                    events=tuple(use.options.events),
                    filter_prefix=escape_literal(use.options.prefix),
                    filter_suffix=escape_literal(use.options.suffix),
                    id=f"{use.function}-{use.index}",
                ) for use in on_bucket),
                depends_on=tuple(permissions),
            ))

    def describe(self, use: Use) -> str:
        options: S3Options = use.options
        keys = f" {options.prefix}*{options.suffix}" if options.prefix or options.suffix else ""
        return f"s3: {options.bucket} ({', '.join(options.events)}{keys})"


KIND = S3()
