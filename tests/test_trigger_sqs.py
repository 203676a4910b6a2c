"""The sqs trigger: an event source mapping with partial batch responses and exactly the consume grant."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from main import app
from support import policy_of, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: shop
environments: {dev: {}}
queues:
  jobs: {visibility_timeout_seconds: 180}
  orders: {fifo: true, visibility_timeout_seconds: 180}
functions:
  worker:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - sqs: {queue: jobs, batch_size: 100, maximum_batching_window_seconds: 5, maximum_concurrency: 5,
              filter_patterns: [{body: {kind: [order]}}]}
      - sqs: {queue: orders}
      - sqs: {arn: "arn:aws:sqs:us-east-1:123456789012:legacy", report_batch_item_failures: false}
"""


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqs")
    out = folder / "out"
    synth_file(write_service(folder / "svc", SERVICE), out)
    return out


def test_each_sqs_trigger_is_a_mapping_with_its_options(synthesized):
    document = stack_json(synthesized, "shop-dev")
    mappings = resources(document, "aws_lambda_event_source_mapping")
    assert sorted(mappings) == ["worker_sqs_0", "worker_sqs_1", "worker_sqs_2"]
    jobs = mappings["worker_sqs_0"]
    assert jobs["event_source_arn"] == "${aws_sqs_queue.jobs_queue.arn}"
    assert jobs["function_name"] == "${aws_lambda_function.worker_function.arn}"
    assert jobs["batch_size"] == 100 and jobs["maximum_batching_window_in_seconds"] == 5
    assert jobs["function_response_types"] == ["ReportBatchItemFailures"], "partial batch responses by default"
    assert jobs["scaling_config"] == {"maximum_concurrency": 5}
    assert json.loads(jobs["filter_criteria"]["filter"][0]["pattern"]) == {"body": {"kind": ["order"]}}
    assert jobs["depends_on"] == ["aws_iam_role_policy.worker_grant_sqs_0"], "the grant exists before AWS checks it"
    assert "function_response_types" not in mappings["worker_sqs_2"]
    assert mappings["worker_sqs_2"]["event_source_arn"] == "arn:aws:sqs:us-east-1:123456789012:legacy"


def test_the_grant_is_exactly_consume_on_that_queue_and_decrypt_on_the_service_key(synthesized):
    policies = resources(stack_json(synthesized, "shop-dev"), "aws_iam_role_policy")
    consume, decrypt = policy_of(policies["worker_grant_sqs_0"])["Statement"]
    assert consume["Action"] == ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                 "sqs:ReceiveMessage"]
    assert consume["Resource"] == "${aws_sqs_queue.jobs_queue.arn}"
    assert decrypt == {"Sid": "DecryptQueue", "Effect": "Allow", "Action": "kms:Decrypt",
                       "Resource": "${aws_kms_key.service_key.arn}"}
    (legacy,) = policy_of(policies["worker_grant_sqs_2"])["Statement"]
    assert legacy["Resource"] == "arn:aws:sqs:us-east-1:123456789012:legacy"
    for name in ("worker_grant_sqs_0", "worker_grant_sqs_1", "worker_grant_sqs_2"):
        for statement in policy_of(policies[name])["Statement"]:
            assert statement["Resource"] != "*"


def test_a_fifo_queue_gets_the_suffix_and_deduplication(synthesized):
    orders = resources(stack_json(synthesized, "shop-dev"), "aws_sqs_queue")["orders_queue"]
    assert orders["name"] == "shop-dev-orders.fifo"
    assert orders["fifo_queue"] is True and orders["content_based_deduplication"] is True


def test_list_shows_what_invokes_each_function(tmp_path):
    path = write_service(tmp_path / "svc", SERVICE)
    result = CliRunner().invoke(app, ["list", str(path), "-q"])
    assert result.exit_code == 0, result.stderr
    assert "  trigger: worker <- sqs: jobs" in result.stdout.splitlines()
    assert "  trigger: worker <- sqs: arn:aws:sqs:us-east-1:123456789012:legacy" in result.stdout.splitlines()


@pytest.mark.slow
def test_terraform_validate_accepts_the_mappings(synthesized, tf, tmp_path):
    terraform_validate(tf, synthesized / "stacks" / "shop-dev", tmp_path / "tf-data")
