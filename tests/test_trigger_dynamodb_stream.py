"""The ``dynamodb_stream`` trigger: the table's stream turned on for it, a mapping with bounded retries and
an on-failure queue, and a grant on exactly that stream (plus the service key, when the table uses it).

Synthesized JSON of two environments (service key / AWS managed keys), then the rules through the loader,
then ``terraform validate`` (``slow``).
"""

from __future__ import annotations


import pytest

from lambdaform.loader import ServiceFileError, load_service
from support import only, policy_of, resources, stack_json, synth_file, terraform_validate, write_service

FUNCTION = """\
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
"""
SERVICE = f"""\
project: shop
environments: {{dev: {{}}, lean: {{encryption_key: aws-managed}}}}
tables:
  orders: {{hash_key: {{name: id}}}}
  audit: {{hash_key: {{name: id}}, stream: KEYS_ONLY}}
  exported: {{hash_key: {{name: id}}, stream: NEW_IMAGE}}
  plain: {{hash_key: {{name: id}}}}
queues:
  failed: {{}}
functions:
  fulfil:
{FUNCTION}    triggers:
      - dynamodb_stream:
          table: orders
          starting_position: TRIM_HORIZON
          batch_size: 500
          maximum_batching_window_seconds: 5
          bisect_batch_on_function_error: true
          maximum_record_age_seconds: 3600
          parallelization_factor: 4
          on_failure: {{queue: failed}}
          filter_patterns: [{{eventName: [INSERT]}}]
  auditor:
{FUNCTION}    triggers:
      - dynamodb_stream: {{table: audit}}
"""

ORDERS_STREAM = "${aws_dynamodb_table.orders_table.stream_arn}"
FAILED_ARN = "${aws_sqs_queue.failed_queue.arn}"
KEY_ARN = "${aws_kms_key.service_key.arn}"
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("dynamodb-stream-trigger")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"out": out, "dev": stack_json(out, "shop-dev"), "lean": stack_json(out, "shop-lean")}


@pytest.fixture(scope="module")
def dev(synthesized) -> dict:
    return synthesized["dev"]


def _mapping(document: dict, name: str) -> dict:
    return resources(document, "aws_lambda_event_source_mapping")[name]


def _grant(document: dict, name: str) -> list[dict]:
    return policy_of(resources(document, "aws_iam_role_policy")[name])["Statement"]


def test_the_trigger_turns_the_tables_stream_on_with_full_images_unless_the_table_chose(dev):
    tables = resources(dev, "aws_dynamodb_table")
    assert (tables["orders_table"]["stream_enabled"], tables["orders_table"]["stream_view_type"]) == (
        True, "NEW_AND_OLD_IMAGES")
    assert (tables["audit_table"]["stream_enabled"], tables["audit_table"]["stream_view_type"]) == (True, "KEYS_ONLY")
    assert tables["exported_table"]["stream_view_type"] == "NEW_IMAGE", "a stream: setting alone turns it on"


def test_a_table_without_stream_or_trigger_has_no_stream_settings(dev):
    assert not {k for k in resources(dev, "aws_dynamodb_table")["plain_table"] if k.startswith("stream")}


def test_the_mapping_carries_every_option(dev):
    mapping = _mapping(dev, "fulfil_dynamodb_stream_0")
    assert mapping["event_source_arn"] == ORDERS_STREAM
    assert mapping["function_name"] == "${aws_lambda_function.fulfil_function.arn}"
    assert mapping["starting_position"] == "TRIM_HORIZON"
    assert mapping["batch_size"] == 500
    assert mapping["maximum_batching_window_in_seconds"] == 5
    assert mapping["bisect_batch_on_function_error"] is True
    assert mapping["maximum_record_age_in_seconds"] == 3600
    assert mapping["parallelization_factor"] == 4
    assert mapping["destination_config"] == {"on_failure": {"destination_arn": FAILED_ARN}}
    assert mapping["filter_criteria"] == {"filter": [{"pattern": '{"eventName":["INSERT"]}'}]}
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["depends_on"] == ["aws_iam_role_policy.fulfil_grant_dynamodb_stream_0"]
    assert "tags" not in mapping, "the provider's default tags apply"


def test_the_defaults_are_bounded_retries_and_partial_batch_responses(dev):
    mapping = _mapping(dev, "auditor_dynamodb_stream_0")
    assert mapping["event_source_arn"] == "${aws_dynamodb_table.audit_table.stream_arn}"
    assert mapping["starting_position"] == "LATEST"
    assert mapping["batch_size"] == 100
    assert mapping["maximum_retry_attempts"] == 3, "never -1 (a failing record would block its shard for a day)"
    assert mapping["maximum_record_age_in_seconds"] == -1
    assert mapping["bisect_batch_on_function_error"] is False
    assert mapping["parallelization_factor"] == 1
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert "destination_config" not in mapping and "maximum_batching_window_in_seconds" not in mapping


def test_the_grant_is_exactly_the_stream_the_failure_queue_and_the_service_key(dev):
    assert _grant(dev, "fulfil_grant_dynamodb_stream_0") == [
        {"Sid": "ReadStream", "Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": ORDERS_STREAM},
        {"Sid": "SendFailures", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": FAILED_ARN},
        {"Sid": "UseServiceKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": KEY_ARN},
    ]
    assert _grant(dev, "auditor_grant_dynamodb_stream_0") == [
        {"Sid": "ReadStream", "Effect": "Allow", "Action": STREAM_ACTIONS,
         "Resource": "${aws_dynamodb_table.audit_table.stream_arn}"},
        {"Sid": "UseServiceKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_ARN},
    ]
    grant = resources(dev, "aws_iam_role_policy")["fulfil_grant_dynamodb_stream_0"]
    assert grant["role"] == "${aws_iam_role.fulfil_role.name}"


def test_with_aws_managed_keys_no_kms_statement(synthesized):
    lean = synthesized["lean"]
    assert not resources(lean, "aws_kms_key")
    statements = _grant(lean, "fulfil_grant_dynamodb_stream_0")
    assert [s["Sid"] for s in statements] == ["ReadStream", "SendFailures"]
    assert only(lean, "aws_sqs_queue")["name"] == "shop-lean-failed"


@pytest.mark.parametrize(("options", "top", "path", "reason"), [
    ("{table: nope}", "", "functions.fulfil.triggers.0.dynamodb_stream.table", "'nope' is not declared under tables"),
    ("{table: orders, starting_position: AT_TIMESTAMP}", "", "functions.fulfil.triggers.0.dynamodb_stream.starting_position",
     "AT_TIMESTAMP is for kinesis only"),
    ("{table: orders, batch_size: 0}", "", "functions.fulfil.triggers.0.dynamodb_stream.batch_size", "greater than or equal to 1"),
    ("{table: orders, maximum_retry_attempts: -2}", "", "functions.fulfil.triggers.0.dynamodb_stream.maximum_retry_attempts",
     "greater than or equal to -1"),
    ("{table: orders, maximum_record_age_seconds: 604801}", "",
     "functions.fulfil.triggers.0.dynamodb_stream.maximum_record_age_seconds", "between 60 and 604800"),
    ("{table: orders, on_failure: {queue: jobs}}", "queues: {jobs: {fifo: true}}\n",
     "functions.fulfil.triggers.0.dynamodb_stream.on_failure.queue", "must be a standard queue"),
])
def test_invalid_triggers_report_their_field(tmp_path, options, top, path, reason):
    text = f"""\
project: shop
environments: {{dev: {{}}}}
tables: {{orders: {{hash_key: {{name: id}}}}}}
{top}functions:
  fulfil:
{FUNCTION}    triggers:
      - dynamodb_stream: {options}
"""
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    assert [(p.path, reason in p.reason) for p in caught.value.problems] == [(path, True)], caught.value.problems


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    for stack in ("shop-dev", "shop-lean"):
        terraform_validate(tf, synthesized["out"] / "stacks" / stack, tmp_path / f"{stack}-data")
