"""``topics:`` and the ``sns`` trigger: encrypted topics, publish access, subscriptions with their permission.

Synthesized JSON (topic encryption and FIFO, exact publish grant, permission with source ARN and account,
subscription after the permission, filter policies), the rules, and ``terraform validate`` (``slow``).
"""

from __future__ import annotations

import json

import pytest

from lambdaform.loader import ServiceFileError, load_service
from support import policy_of, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: pubsub
environments:
  dev: {}
  prod: {encryption_key: aws-managed}
topics:
  alerts: {}
  orders: {fifo: true}
functions:
  notifier:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    environment: {ALERTS: "${topics.alerts.arn}", ORDERS: "${topics.orders.name}"}
    access: [{topic: alerts}, {topic: orders, mode: write}]
  listener:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - sns: {topic: alerts}
      - sns:
          arn: arn:aws:sns:us-east-1:210987654321:partner-events
          filter_policy: {kind: [refund], amount: [{numeric: [">", 100]}]}
          filter_policy_scope: MessageBody
"""

ALERTS_ARN = "${aws_sns_topic.alerts_topic.arn}"
ORDERS_ARN = "${aws_sns_topic.orders_topic.arn}"
PARTNER_ARN = "arn:aws:sns:us-east-1:210987654321:partner-events"
LISTENER_ARN = "${aws_lambda_function.listener_function.arn}"
LISTENER_NAME = "${aws_lambda_function.listener_function.function_name}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sns")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"dev": stack_json(out, "pubsub-dev"), "prod": stack_json(out, "pubsub-prod"), "out": out}


@pytest.fixture(scope="module")
def dev(synthesized) -> dict:
    return synthesized["dev"]


def test_topics_are_encrypted_with_the_service_key_and_fifo_ones_named_so(dev):
    topics = resources(dev, "aws_sns_topic")
    alerts = {k: v for k, v in topics["alerts_topic"].items() if k != "//"}
    assert alerts == {"name": "pubsub-dev-alerts", "kms_master_key_id": "${aws_kms_key.service_key.arn}"}
    orders = topics["orders_topic"]
    assert orders["name"] == "pubsub-dev-orders.fifo"
    assert orders["fifo_topic"] is True and orders["content_based_deduplication"] is True
    assert orders["kms_master_key_id"] == "${aws_kms_key.service_key.arn}"


def test_aws_managed_environment_encrypts_topics_with_the_sns_managed_key(synthesized):
    for topic in resources(synthesized["prod"], "aws_sns_topic").values():
        assert topic["kms_master_key_id"] == "alias/aws/sns"


def test_topic_outputs_and_references(dev):
    assert dev["output"]["alerts_topic_arn"]["value"] == ALERTS_ARN
    assert dev["output"]["orders_topic_arn"]["description"]
    variables = resources(dev, "aws_lambda_function")["notifier_function"]["environment"]["variables"]
    assert variables["ALERTS"] == ALERTS_ARN
    assert variables["ORDERS"] == "${aws_sns_topic.orders_topic.name}"


def test_publish_access_is_sns_publish_on_those_topics_plus_the_service_key(dev):
    statements = policy_of(resources(dev, "aws_iam_role_policy")["notifier_role_policy"])["Statement"]
    publish = [s for s in statements if s["Action"] == "sns:Publish"]
    assert sorted(s["Resource"] for s in publish) == sorted([ALERTS_ARN, ORDERS_ARN])
    key = next(s for s in statements if s.get("Sid") == "UseServiceKey")
    assert key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key["Resource"] == "${aws_kms_key.service_key.arn}"
    assert not any(a.startswith("sns:") and a != "sns:Publish"
                   for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_owned_topic_subscription_waits_for_a_permission_naming_topic_and_account(dev):
    permissions = resources(dev, "aws_lambda_permission")
    permission = permissions["listener_sns_0_permission"]
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function_name"] == LISTENER_NAME
    assert permission["source_arn"] == ALERTS_ARN
    assert permission["source_account"] == ACCOUNT
    subscription = resources(dev, "aws_sns_topic_subscription")["listener_sns_0"]
    assert subscription["protocol"] == "lambda"
    assert subscription["topic_arn"] == ALERTS_ARN
    assert subscription["endpoint"] == LISTENER_ARN
    assert subscription["depends_on"] == ["aws_lambda_permission.listener_sns_0_permission"]
    assert "filter_policy" not in subscription and "filter_policy_scope" not in subscription


def test_existing_topic_subscription_with_a_body_filter_policy(dev):
    permission = resources(dev, "aws_lambda_permission")["listener_sns_1_permission"]
    assert permission["source_arn"] == PARTNER_ARN
    assert "source_account" not in permission  # the ARN names the partner's account
    subscription = resources(dev, "aws_sns_topic_subscription")["listener_sns_1"]
    assert subscription["topic_arn"] == PARTNER_ARN
    assert json.loads(subscription["filter_policy"]) == {"kind": ["refund"], "amount": [{"numeric": [">", 100]}]}
    assert subscription["filter_policy_scope"] == "MessageBody"
    ids = {p["statement_id"] for p in resources(dev, "aws_lambda_permission").values()}
    assert ids == {"AllowSns0", "AllowSns1"}


def test_no_tags_override_the_provider_default_tags(dev):
    for rtype in ("aws_sns_topic", "aws_sns_topic_subscription"):
        for resource in resources(dev, rtype).values():
            assert "tags" not in resource


@pytest.mark.parametrize("extra, path, reason", [
    ("    access: [{topic: alerts, mode: read_write}]\n", "functions.fn.access.0.mode", "topics take mode write"),
    ("    triggers: [{sns: {topic: alerts, arn: 'arn:aws:sns:us-east-1:123456789012:x'}}]\n",
     "functions.fn.triggers.0.sns", "give exactly one of topic"),
    ("    triggers: [{sns: {arn: 'arn:aws:sqs:us-east-1:123456789012:x'}}]\n",
     "functions.fn.triggers.0.sns", "is not an SNS topic ARN"),
    ("    triggers: [{sns: {arn: 'arn:aws:sns:us-east-1:123456789012:x.fifo'}}]\n",
     "functions.fn.triggers.0.sns.arn", "FIFO topic delivers to SQS queues only"),
    ("    triggers: [{sns: {topic: alerts, filter_policy_scope: MessageBody}}]\n",
     "functions.fn.triggers.0.sns", "filter_policy_scope applies to a filter_policy"),
    ("    triggers: [{sns: {topic: alerts, filter_policy_scope: Body}}]\n",
     "functions.fn.triggers.0.sns.filter_policy_scope", "'MessageAttributes' or 'MessageBody'"),
    ("    triggers: [{sns: {topic: alerts, raw_message_delivery: true}}]\n",
     "functions.fn.triggers.0.sns.raw_message_delivery", "unknown key"),
])
def test_sns_and_topic_rules_name_their_field(tmp_path, extra, path, reason):
    text = ("project: rules\nenvironments: {dev: {}}\ntopics: {alerts: {}}\nfunctions:\n  fn:\n"
            "    runtime: provided.al2023\n    source: handlers/vela_runtime\n    handler: app.velac\n" + extra)
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    message = str(caught.value)
    assert f"{path}: " in message and reason in message, message


def test_default_mode_access_to_a_topic_is_publish(tmp_path):
    text = ("project: rules\nenvironments: {dev: {}}\ntopics: {alerts: {}}\nfunctions:\n  fn:\n"
            "    runtime: provided.al2023\n    source: handlers/vela_runtime\n    handler: app.velac\n"
            "    access: [{topic: alerts}]\n")
    load_service(write_service(tmp_path, text))  # no error: the default mode means publish for a topic


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    for stack in ("pubsub-dev", "pubsub-prod"):
        terraform_validate(tf, synthesized["out"] / "stacks" / stack, tmp_path / f"{stack}-data")
