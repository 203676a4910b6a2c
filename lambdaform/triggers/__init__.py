"""The registry of trigger kinds: everything that can invoke a function.

Adding a trigger kind is one module in this folder (model, checks, composition: see
:mod:`lambdaform.triggers.base`) and one line in :data:`TRIGGERS`. The function model gets the kind as a
one-key mapping in ``triggers:``; the loader runs its checks and the stack its composition, by looping
over this tuple.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, create_model

from lambdaform.fields import Strict
from lambdaform.triggers import dynamodb_stream, eventbridge, http, kinesis, s3, schedule, sns, sqs
from lambdaform.triggers.base import Trigger, Use

TRIGGERS: tuple[Trigger, ...] = (
    sqs.KIND,
    http.KIND,
    schedule.KIND,
    sns.KIND,
    eventbridge.KIND,
    s3.KIND,
    dynamodb_stream.KIND,
    kinesis.KIND,
)
"""In composition order."""

TAG_PREFIX = "trigger:"
"""Discriminator tags carry this prefix; the loader drops them from field paths."""

__all__ = ["TRIGGERS", "TAG_PREFIX", "Trigger", "TriggerItem", "Use", "by_key", "item_type", "uses"]


class TriggerItem(Strict):
    """One entry of ``triggers:``: a one-key mapping from the kind to its options."""

    @property
    def kind(self) -> str:
        return next(iter(type(self).model_fields))

    @property
    def options(self) -> Any:
        return getattr(self, self.kind)


def by_key(key: str) -> Trigger:
    return next(trigger for trigger in TRIGGERS if trigger.key == key)


def _tag(value: Any) -> str | None:
    if isinstance(value, TriggerItem):
        return TAG_PREFIX + value.kind
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if any(trigger.key == key for trigger in TRIGGERS):
            return TAG_PREFIX + key
    return None


def item_type() -> Any:
    """The annotation of one ``triggers:`` entry: a union of one-key models, chosen by the key."""
    members = tuple(
        Annotated[create_model(f"{trigger.key.title().replace('_', '')}Trigger", __base__=TriggerItem,
                               __doc__=trigger.description or trigger.model.__doc__,
                               **{trigger.key: (trigger.model, Field(description=trigger.description))}),
                  Tag(TAG_PREFIX + trigger.key)]
        for trigger in TRIGGERS
    )
    kinds = ", ".join(trigger.key for trigger in TRIGGERS)
    return Annotated[
        Union[members],  # noqa: UP007 - a runtime-built union
        Discriminator(_tag, custom_error_type="trigger_kind",
                      custom_error_message=f"a trigger is a one-key mapping naming its kind: {kinds}"),
    ]


def uses(service: Any) -> dict[str, list[Use]]:
    """Trigger kind -> every use of it in ``service``, in function then list order."""
    found: dict[str, list[Use]] = {trigger.key: [] for trigger in TRIGGERS}
    for function, fn in service.functions.items():
        for index, item in enumerate(fn.triggers):
            found[item.kind].append(Use(function, index, item.options))
    return found
