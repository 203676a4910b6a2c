"""The ``kinesis`` trigger: a mapping on an existing stream (AT_TIMESTAMP in UTC), a grant on exactly that
stream and its key, and the rules (a Kinesis ARN of the service's region, the timestamp with AT_TIMESTAMP).

Synthesized JSON first, then the rules through the loader, then ``terraform validate`` (``slow``).
"""

from __future__ import annotations


import pytest

from lambdaform.loader import ServiceFileError, load_service
from lambdaform.triggers import by_key, uses
from support import policy_of, resources, stack_json, synth_file, terraform_validate, write_service

FUNCTION = """\
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
"""
CLICKS = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"
VIEWS = "arn:aws:kinesis:eu-west-1:210987654321:stream/views"
STREAM_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SERVICE = f"""\
project: clicks
region: eu-west-1
environments: {{dev: {{}}}}
queues:
  failed: {{}}
functions:
  counter:
{FUNCTION}    triggers:
      - kinesis: {{stream_arn: "{CLICKS}", starting_position: TRIM_HORIZON, kms_key_arn: "{STREAM_KEY}",
                   on_failure: {{queue: failed}}, batch_size: 1000}}
      - kinesis:
          stream_arn: "{VIEWS}"
          starting_position: AT_TIMESTAMP
          starting_position_timestamp: "2025-01-31T10:00:00+02:00"
"""
READ_ACTIONS = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards"]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("kinesis-trigger")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"out": out, "stack": stack_json(out, "clicks-dev")}


@pytest.fixture(scope="module")
def stack(synthesized) -> dict:
    return synthesized["stack"]


def _grant(document: dict, name: str) -> list[dict]:
    return policy_of(resources(document, "aws_iam_role_policy")[name])["Statement"]


def test_the_mapping_reads_the_stream_with_the_options(stack):
    mapping = resources(stack, "aws_lambda_event_source_mapping")["counter_kinesis_0"]
    assert mapping["event_source_arn"] == CLICKS
    assert mapping["function_name"] == "${aws_lambda_function.counter_function.arn}"
    assert (mapping["starting_position"], mapping["batch_size"]) == ("TRIM_HORIZON", 1000)
    assert "starting_position_timestamp" not in mapping
    assert mapping["maximum_retry_attempts"] == 3
    assert mapping["destination_config"] == {"on_failure": {"destination_arn": "${aws_sqs_queue.failed_queue.arn}"}}
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["depends_on"] == ["aws_iam_role_policy.counter_grant_kinesis_0"]
    assert "tags" not in mapping


def test_at_timestamp_starts_at_the_time_given_in_utc(stack):
    mapping = resources(stack, "aws_lambda_event_source_mapping")["counter_kinesis_1"]
    assert mapping["event_source_arn"] == VIEWS, "a stream of another account is read by ARN"
    assert mapping["starting_position"] == "AT_TIMESTAMP"
    assert mapping["starting_position_timestamp"] == "2025-01-31T08:00:00Z"


def test_the_grant_is_exactly_the_stream_its_key_and_the_failure_queue(stack):
    assert _grant(stack, "counter_grant_kinesis_0") == [
        {"Sid": "ReadStream", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": CLICKS},
        {"Sid": "DecryptStream", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": STREAM_KEY},
        {"Sid": "SendFailures", "Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": "${aws_sqs_queue.failed_queue.arn}"},
        {"Sid": "UseServiceKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "${aws_kms_key.service_key.arn}"},
    ]
    assert _grant(stack, "counter_grant_kinesis_1") == [
        {"Sid": "ReadStream", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": VIEWS},
    ], "no service key: the stream is not this file's, and nothing is sent to the failure queue"


def test_describe_names_the_stream(tmp_path):
    service = load_service(write_service(tmp_path, SERVICE)).select(["dev"])["dev"]
    assert [by_key("kinesis").describe(use) for use in uses(service)["kinesis"]] == ["kinesis: clicks", "kinesis: views"]


@pytest.mark.parametrize(("options", "path", "reason"), [
    ("{stream_arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/x/stream/y'}",
     "functions.counter.triggers.0.kinesis.stream_arn", "is not a Kinesis data stream ARN"),
    ("{stream_arn: clicks}", "functions.counter.triggers.0.kinesis.stream_arn", "is not a Kinesis data stream ARN"),
    (f"{{stream_arn: '{CLICKS.replace('eu-west-1', 'us-east-1')}'}}", "functions.counter.triggers.0.kinesis.stream_arn",
     "Lambda reads streams of its own region only"),
    (f"{{stream_arn: '{CLICKS}', starting_position_timestamp: '2025-01-31T08:00:00Z'}}",
     "functions.counter.triggers.0.kinesis", "go together"),
    (f"{{stream_arn: '{CLICKS}', starting_position: AT_TIMESTAMP, starting_position_timestamp: '2025-01-31T08:00:00'}}",
     "functions.counter.triggers.0.kinesis.starting_position_timestamp", "timezone"),
    (f"{{stream_arn: '{CLICKS}', kms_key_arn: 'alias/aws/kinesis'}}", "functions.counter.triggers.0.kinesis.kms_key_arn",
     "should match pattern"),
    (f"{{stream_arn: '{CLICKS}', report_batch_item_failures: maybe}}",
     "functions.counter.triggers.0.kinesis.report_batch_item_failures", "valid boolean"),
])
def test_invalid_triggers_report_their_field(tmp_path, options, path, reason):
    text = f"""\
project: clicks
region: eu-west-1
environments: {{dev: {{}}}}
functions:
  counter:
{FUNCTION}    triggers:
      - kinesis: {options}
"""
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    assert [(p.path, reason in p.reason) for p in caught.value.problems] == [(path, True)], caught.value.problems


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    terraform_validate(tf, synthesized["out"] / "stacks" / "clicks-dev", tmp_path / "tf-data")
