"""The ``eventbridge`` trigger: a rule with a pattern, its target, the invoke permission and the DLQ grants.

Synthesized JSON (rule on the default or a named bus, target input, retry and DLQ, permission with source
ARN and account, the DLQ's queue policy and the key policy admitting exactly the rules), the rules, and
``terraform validate`` (``slow``).
"""

from __future__ import annotations

import json

import pytest

from lambdaform.loader import ServiceFileError, load_service
from support import policy_of, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: events
environments:
  dev: {}
  prod: {encryption_key: aws-managed}
queues: {failed: {}}
functions:
  handler:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - eventbridge: {pattern: {source: [my.app], detail-type: [Order Placed]}}
      - eventbridge:
          pattern: {source: [partner]}
          bus: orders
          input_path: $.detail
          retry: {maximum_retry_attempts: 8, maximum_event_age_seconds: 3600}
          dead_letter_queue: failed
      - eventbridge:
          pattern: {source: [aws.health]}
          bus: arn:aws:events:us-east-1:123456789012:event-bus/health
          input: {alert: health}
          dead_letter_queue: failed
          enabled: false
"""

FN_ARN = "${aws_lambda_function.handler_function.arn}"
FN_NAME = "${aws_lambda_function.handler_function.function_name}"
DLQ_ARN = "${aws_sqs_queue.failed_queue.arn}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"
RULE = "${aws_cloudwatch_event_rule.handler_eventbridge_%d.arn}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("eventbridge")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"dev": stack_json(out, "events-dev"), "prod": stack_json(out, "events-prod"), "out": out}


@pytest.fixture(scope="module")
def dev(synthesized) -> dict:
    return synthesized["dev"]


def test_rules_match_their_pattern_on_their_bus(dev):
    rules = resources(dev, "aws_cloudwatch_event_rule")
    first = rules["handler_eventbridge_0"]
    assert first["name"] == "events-dev-handler-eventbridge-0"
    assert json.loads(first["event_pattern"]) == {"source": ["my.app"], "detail-type": ["Order Placed"]}
    assert "event_bus_name" not in first  # the default bus
    assert first["state"] == "ENABLED"
    assert rules["handler_eventbridge_1"]["event_bus_name"] == "orders"
    assert rules["handler_eventbridge_2"]["event_bus_name"] == "arn:aws:events:us-east-1:123456789012:event-bus/health"
    assert rules["handler_eventbridge_2"]["state"] == "DISABLED"
    for rule in rules.values():
        assert "tags" not in rule


def test_targets_invoke_the_function_with_the_event_part_or_fixed_input(dev):
    targets = resources(dev, "aws_cloudwatch_event_target")
    default = targets["handler_eventbridge_0_target"]
    assert default["arn"] == FN_ARN
    assert default["rule"] == "${aws_cloudwatch_event_rule.handler_eventbridge_0.name}"
    assert "input" not in default and "input_path" not in default and "dead_letter_config" not in default
    assert default["retry_policy"] == {"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400}
    assert default["depends_on"] == ["aws_lambda_permission.handler_eventbridge_0_permission"]
    partner = targets["handler_eventbridge_1_target"]
    assert partner["event_bus_name"] == "orders"
    assert partner["input_path"] == "$.detail"
    assert partner["retry_policy"] == {"maximum_retry_attempts": 8, "maximum_event_age_in_seconds": 3600}
    assert partner["dead_letter_config"] == {"arn": DLQ_ARN}
    assert json.loads(targets["handler_eventbridge_2_target"]["input"]) == {"alert": "health"}


def test_each_rule_may_invoke_the_function_from_this_account_only(dev):
    permissions = resources(dev, "aws_lambda_permission")
    for index in range(3):
        permission = permissions[f"handler_eventbridge_{index}_permission"]
        assert permission["principal"] == "events.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["function_name"] == FN_NAME
        assert permission["source_arn"] == RULE % index
        assert permission["source_account"] == ACCOUNT
        assert permission["statement_id"] == f"AllowEventBridge{index}"


def test_the_dlq_admits_exactly_the_rules_that_use_it(dev):
    queue_policy = resources(dev, "aws_sqs_queue_policy")["failed_queue_policy"]
    assert queue_policy["queue_url"] == "${aws_sqs_queue.failed_queue.url}"
    (statement,) = policy_of(queue_policy)["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == DLQ_ARN
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [RULE % 1, RULE % 2]}}


def test_the_service_key_lets_eventbridge_encrypt_for_exactly_those_rules(dev):
    key_policy = policy_of(resources(dev, "aws_kms_key")["service_key"])
    statement = next(s for s in key_policy["Statement"] if s.get("Sid") == "EventBridgeDeadLetters")
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [RULE % 1, RULE % 2]}}
    sids = [s.get("Sid") for s in key_policy["Statement"]]
    assert sids == ["AccountAdministersThroughIam", "CloudWatchLogsOfThisAccount", "EventBridgeDeadLetters"]


def test_without_a_service_key_the_dlq_policy_stays_and_no_key_exists(synthesized):
    prod = synthesized["prod"]
    assert "aws_kms_key" not in prod["resource"]
    assert "failed_queue_policy" in resources(prod, "aws_sqs_queue_policy")


def test_the_function_role_gets_nothing_for_eventbridge(dev):
    statements = policy_of(resources(dev, "aws_iam_role_policy")["handler_role_policy"])["Statement"]
    assert {s.get("Sid") for s in statements} == {"WriteOwnLogs", "XRayWrite"}


@pytest.mark.parametrize("trigger, path, reason", [
    ("{eventbridge: {pattern: {}}}", "functions.fn.triggers.0.eventbridge.pattern", "at least 1 item"),
    ("{eventbridge: {pattern: [source]}}", "functions.fn.triggers.0.eventbridge.pattern", "valid dictionary"),
    ("{eventbridge: {pattern: {source: [a]}, bus: 'no spaces'}}", "functions.fn.triggers.0.eventbridge.bus",
     "neither an event bus name nor an event bus ARN"),
    ("{eventbridge: {pattern: {source: [a]}, input_path: detail}}", "functions.fn.triggers.0.eventbridge.input_path",
     "should match pattern"),
    ("{eventbridge: {pattern: {source: [a]}, retry: {maximum_event_age_seconds: 59}}}",
     "functions.fn.triggers.0.eventbridge.retry.maximum_event_age_seconds", "greater than or equal to 60"),
    ("{eventbridge: {pattern: {source: [a]}, dead_letter_queue: nope}}",
     "functions.fn.triggers.0.eventbridge.dead_letter_queue", "'nope' is not declared under queues"),
])
def test_eventbridge_rules_name_their_field(tmp_path, trigger, path, reason):
    text = ("project: rules\nenvironments: {dev: {}}\nfunctions:\n  fn:\n    runtime: provided.al2023\n"
            f"    source: handlers/vela_runtime\n    handler: app.velac\n    triggers: [{trigger}]\n")
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    message = str(caught.value)
    assert f"{path}: " in message and reason in message, message


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    for stack in ("events-dev", "events-prod"):
        terraform_validate(tf, synthesized["out"] / "stacks" / stack, tmp_path / f"{stack}-data")
