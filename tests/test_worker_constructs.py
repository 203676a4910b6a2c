"""The SAGE worker blueprint (examples/sage-worker.yaml) and the ``alarms`` section behind it.

Synthesized JSON first (bucket, lock table, worker, least-privilege role, alarms, topic, dashboard), then
the section's rules in the loader, then ``terraform validate`` and a real apply / re-plan / destroy on moto
(both ``slow``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambdaform.loader import ServiceFileError, load_service
from lambdaform.constructs.alarms import FunctionAlarmsProps, concurrency_threshold
from support import (EXAMPLES, HANDLERS, only, policy_of, resources, stack_json, synth_file,
                     terraform_validate, write_service)

EXAMPLE = EXAMPLES / "sage-worker.yaml"

BUCKET_ARN = "${aws_s3_bucket.executions_bucket.arn}"
TABLE_ARN = "${aws_dynamodb_table.locks_table.arn}"
DLQ_ARN = "${aws_sqs_queue.worker_dlq.arn}"
WORKER_NAME = "${aws_lambda_function.worker_function.function_name}"
TOPIC_ARN = "${aws_sns_topic.worker_alarms_topic.arn}"


@pytest.fixture(scope="module")
def sage(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("sage-synth")
    synth_file(EXAMPLE, out)
    return {"dev": stack_json(out, "sage-dev"), "prod": stack_json(out, "sage-prod"), "out": out}


@pytest.fixture(scope="module")
def dev(sage) -> dict:
    return sage["dev"]


VARIANTS = """\
project: alarmed
environments: {dev: {}}
functions:
  plain:                      # short timeout, no reserved concurrency
    source: handlers/worker
    handler: sage_worker.handler.handler
  shared:                     # reserved 10, reports to an existing topic, no dashboard
    source: handlers/worker
    handler: sage_worker.handler.handler
    timeout_seconds: 120
    reserved_concurrency: 10
alarms:
  plain: {}
  shared:
    errors_threshold: 0
    errors_period_seconds: 60
    duration_threshold_seconds: 90
    concurrency_percent: 95
    notify: {topic_arn: "arn:aws:sns:us-east-1:123456789012:ops-pager"}
    dashboard: false
"""


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("alarm-variants")
    service = write_service(folder, VARIANTS, handlers=("worker",))
    out = folder / "out"
    synth_file(service, out)
    return {"stack": stack_json(out, "alarmed-dev"), "out": out}


def _alarms(document: dict, prefix: str = "worker") -> dict[str, dict]:
    """Alarms of one function, by kind (``errors``, ``duration``, ``concurrency``)."""
    return {name.removeprefix(f"{prefix}_alarms_"): alarm
            for name, alarm in resources(document, "aws_cloudwatch_metric_alarm").items()
            if name.startswith(f"{prefix}_alarms_")}


def _statements(document: dict, role_policy: str = "worker_role_policy") -> list[dict]:
    return policy_of(resources(document, "aws_iam_role_policy")[role_policy])["Statement"]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _dashboard(document: dict, name: str = "worker_dashboard") -> dict:
    return json.loads(resources(document, "aws_cloudwatch_dashboard")[name]["dashboard_body"])


def _widget(body: dict, title: str) -> dict:
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles.count(title) == 1, f"expected one widget '{title}', found {titles}"
    matches = [w["properties"] for w in body["widgets"] if w["properties"]["title"] == title]
    return matches[0]


def _metric_names(widget: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, options) of each metric line, expressions left out."""
    return [(line[0], line[1], line[-1] if isinstance(line[-1], dict) else {})
            for line in widget["metrics"] if isinstance(line[0], str)]


# --------------------------------------------------------------------------------------- storage


def test_executions_bucket_is_versioned_encrypted_private_tls_only_and_expires_executions(dev):
    bucket = only(dev, "aws_s3_bucket")
    assert bucket["bucket"] == "sage-dev-executions"
    assert only(dev, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    sse = only(dev, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert sse["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    block = only(dev, "aws_s3_bucket_public_access_block")
    assert all(block[flag] is True for flag in
               ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    (deny,) = policy_of(only(dev, "aws_s3_bucket_policy"))["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == sorted([BUCKET_ARN, f"{BUCKET_ARN}/*"])
    rules = {r["id"]: r for r in only(dev, "aws_s3_bucket_lifecycle_configuration")["rule"]}
    executions = rules["expire-executions"]
    assert executions["status"] == "Enabled"
    assert executions["filter"] == [{"prefix": "executions/"}]
    assert executions["expiration"] == [{"days": 30}]


def test_lock_table_is_on_demand_keyed_by_execution_id_with_ttl(dev):
    table = only(dev, "aws_dynamodb_table")
    assert table["name"] == "sage-dev-locks"
    assert table["hash_key"] == "execution_id"
    assert table["attribute"] == [{"name": "execution_id", "type": "S"}]
    assert "range_key" not in table
    assert table["ttl"] == {"attribute_name": "expiration_time", "enabled": True}
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["server_side_encryption"]["enabled"] is True


def test_prod_lock_table_is_deletion_protected_and_dev_is_not(sage):
    assert only(sage["prod"], "aws_dynamodb_table")["deletion_protection_enabled"] is True
    assert only(sage["dev"], "aws_dynamodb_table")["deletion_protection_enabled"] is False


# ---------------------------------------------------------------------------------------- worker


def test_worker_has_the_seed_sizing_and_its_own_encrypted_dead_letter_queue(dev):
    fn = only(dev, "aws_lambda_function")
    assert fn["function_name"] == "sage-dev-worker"
    assert fn["handler"] == "sage_worker.handler.handler" and fn["runtime"] == "python3.12"
    assert (fn["memory_size"], fn["timeout"], fn["reserved_concurrent_executions"]) == (2048, 900, 50)
    assert fn["dead_letter_config"] == {"target_arn": DLQ_ARN}
    dlq = resources(dev, "aws_sqs_queue")["worker_dlq"]
    assert dlq["name"] == "sage-dev-worker-dlq"
    assert dlq["kms_master_key_id"] == "${aws_kms_key.service_key.arn}", "encrypted with the service key"


def test_worker_environment_names_the_bucket_and_table_by_reference(dev):
    variables = only(dev, "aws_lambda_function")["environment"]["variables"]
    assert variables["SAGE_S3_BUCKET"] == "${aws_s3_bucket.executions_bucket.bucket}"
    assert variables["SAGE_LOCK_TABLE"] == "${aws_dynamodb_table.locks_table.name}"
    assert variables["SAGE_S3_PREFIX"] == "executions/"


def test_worker_zip_holds_the_handler_package(sage):
    import zipfile

    with zipfile.ZipFile(sage["out"] / "stacks" / "sage-dev" / "assets" / "worker.zip") as archive:
        names = set(archive.namelist())
    assert {"sage_worker/handler.py", "sage_worker/lock.py", "sage_worker/storage.py"} <= names


def test_worker_role_reaches_only_the_executions_prefix_the_lock_table_and_its_dlq(dev):
    statements = _statements(dev)
    by_service: dict[str, list[dict]] = {}
    for st in statements:
        assert st["Effect"] == "Allow"
        for action in _as_list(st["Action"]):
            by_service.setdefault(action.split(":")[0], []).append(st)

    objects = [st for st in by_service["s3"] if st["Action"] != "s3:ListBucket"]
    assert {a for st in objects for a in _as_list(st["Action"])} == {
        "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"}
    assert all(_as_list(st["Resource"]) == [f"{BUCKET_ARN}/executions/*"] for st in objects)
    (listing,) = [st for st in by_service["s3"] if st["Action"] == "s3:ListBucket"]
    assert listing["Resource"] == BUCKET_ARN
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["executions/*"]}}

    dynamo = {a for st in by_service["dynamodb"] for a in _as_list(st["Action"])}
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"} <= dynamo
    assert all(r.startswith(TABLE_ARN) for st in by_service["dynamodb"] for r in _as_list(st["Resource"]))

    (sqs,) = by_service["sqs"]
    assert sqs["Action"] == "sqs:SendMessage" and sqs["Resource"] == DLQ_ARN

    assert set(by_service) == {"logs", "xray", "s3", "dynamodb", "sqs", "kms"}
    assert all(st["Resource"] == "${aws_kms_key.service_key.arn}" for st in by_service["kms"]), \
        "only the service key, for the data it encrypts"
    wildcard = {a for st in statements if "*" in _as_list(st["Resource"]) for a in _as_list(st["Action"])}
    assert wildcard == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert list(resources(dev, "aws_iam_role_policy")) == ["worker_role_policy"]
    assert not resources(dev, "aws_iam_role_policy_attachment")


# ---------------------------------------------------------------------------------------- alarms


def test_three_alarms_with_the_seed_thresholds_watch_the_worker(dev):
    alarms = _alarms(dev)
    assert set(alarms) == {"errors", "duration", "concurrency"}
    expected = {
        "errors": ("Errors", "Sum", 300, "GreaterThanThreshold", 5),
        "duration": ("Duration", "Maximum", 60, "GreaterThanThreshold", 600000),
        "concurrency": ("ConcurrentExecutions", "Maximum", 60, "GreaterThanOrEqualToThreshold", 45),
    }
    for kind, (metric, stat, period, operator, threshold) in expected.items():
        alarm = alarms[kind]
        assert alarm["alarm_name"] == f"sage-dev-worker-{kind}"
        assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == ("AWS/Lambda", metric, stat)
        assert (alarm["period"], alarm["evaluation_periods"]) == (period, 1)
        assert (alarm["comparison_operator"], alarm["threshold"]) == (operator, threshold)
        assert alarm["dimensions"] == {"FunctionName": WORKER_NAME}
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["alarm_actions"] == [TOPIC_ARN] and alarm["ok_actions"] == [TOPIC_ARN]


def test_alarm_topic_uses_a_key_cloudwatch_may_use_not_the_aws_managed_one(dev):
    topic = only(dev, "aws_sns_topic")
    assert topic["name"] == "sage-dev-worker-alarms"
    assert topic["kms_master_key_id"] == "${aws_kms_key.worker_alarms_key.arn}"
    key = resources(dev, "aws_kms_key")["worker_alarms_key"]
    assert key["enable_key_rotation"] is True
    statements = {st["Sid"]: st for st in policy_of(key)["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    admin = statements["AccountAdministersKey"]
    assert admin["Principal"]["AWS"] == (
        "arn:${data.aws_partition.worker_alarms_partition.partition}:iam::"
        "${data.aws_caller_identity.worker_alarms_account.account_id}:root")
    assert resources(dev, "aws_kms_alias")["worker_alarms_key_alias"]["name"] == "alias/sage-dev-worker-alarms"


def test_prod_subscribes_the_oncall_address_and_dev_has_no_subscriber(sage):
    assert not resources(sage["dev"], "aws_sns_topic_subscription")
    subscription = only(sage["prod"], "aws_sns_topic_subscription")
    assert subscription == {**subscription, "protocol": "email", "endpoint": "sage-oncall@example.com",
                            "topic_arn": TOPIC_ARN}


def test_outputs_name_the_topic_and_the_dashboard(dev):
    outputs = dev["output"]
    assert outputs["worker_alarm_topic_arn"]["value"] == TOPIC_ARN
    assert outputs["worker_dashboard_name"]["value"] == "${aws_cloudwatch_dashboard.worker_dashboard.dashboard_name}"
    assert outputs["worker_dashboard_url"]["value"].endswith("#dashboards:name=sage-dev-worker")
    assert all(outputs[name]["description"] for name in
               ("worker_alarm_topic_arn", "worker_dashboard_name", "worker_dashboard_url"))


def test_concurrency_threshold_is_the_percentage_of_reserved_rounded_up():
    assert concurrency_threshold(50, 90) == 45
    assert concurrency_threshold(10, 95) == 10
    assert concurrency_threshold(3, 1) == 1
    assert concurrency_threshold(None, 90) is None
    assert concurrency_threshold(0, 90) is None


def test_alarm_props_refuse_settings_for_a_topic_they_do_not_create():
    with pytest.raises(ValueError, match="topic_arn"):
        FunctionAlarmsProps(name="x", function_name="x", topic_arn="arn:aws:sns:us-east-1:123456789012:t",
                            email="a@example.com")


def test_function_without_reserved_concurrency_gets_no_concurrency_alarm_and_a_timeout_based_duration(variants):
    stack = variants["stack"]
    alarms = _alarms(stack, "plain")
    assert set(alarms) == {"errors", "duration"}
    assert alarms["duration"]["threshold"] == 24000  # 80 % of the 30 s default timeout
    assert alarms["errors"]["threshold"] == 5 and alarms["errors"]["period"] == 300


def test_existing_topic_explicit_thresholds_and_no_dashboard(variants):
    stack = variants["stack"]
    alarms = _alarms(stack, "shared")
    assert set(alarms) == {"errors", "duration", "concurrency"}
    assert (alarms["errors"]["threshold"], alarms["errors"]["period"]) == (0, 60)
    assert alarms["duration"]["threshold"] == 90000
    assert alarms["concurrency"]["threshold"] == 10
    topic = "arn:aws:sns:us-east-1:123456789012:ops-pager"
    assert all(a["alarm_actions"] == [topic] and a["ok_actions"] == [topic] for a in alarms.values())
    assert list(resources(stack, "aws_sns_topic")) == ["plain_alarms_topic"]
    assert sorted(resources(stack, "aws_kms_key")) == ["plain_alarms_key", "service_key"]
    assert list(resources(stack, "aws_cloudwatch_dashboard")) == ["plain_dashboard"]
    assert stack["output"]["shared_alarm_topic_arn"]["value"] == topic
    assert "shared_dashboard_name" not in stack["output"]


# ------------------------------------------------------------------------------------- dashboard


def test_dashboard_graphs_the_worker_and_the_local_vs_lambda_split(dev):
    resource = only(dev, "aws_cloudwatch_dashboard")
    assert resource["dashboard_name"] == "sage-dev-worker"
    body = _dashboard(dev)
    assert all(w["properties"]["region"] == "us-east-1" for w in body["widgets"])

    lambda_lines = [line for w in body["widgets"] for line in w["properties"]["metrics"]
                    if isinstance(line[0], str) and line[0] == "AWS/Lambda"]
    assert lambda_lines and all(line[2:4] == ["FunctionName", WORKER_NAME] for line in lambda_lines)

    assert [(m, o["stat"]) for _, m, o in _metric_names(_widget(body, "Invocations"))] == [("Invocations", "Sum")]
    errors = _widget(body, "Errors and success rate")
    assert ("AWS/Lambda", "Errors") in [(ns, m) for ns, m, _ in _metric_names(errors)]
    assert errors["annotations"]["horizontal"][0]["value"] == 5
    duration = _widget(body, "Duration (ms)")
    assert sorted(o["stat"] for _, m, o in _metric_names(duration) if m == "Duration") == ["Average", "Maximum", "p95"]
    assert duration["annotations"]["horizontal"][0]["value"] == 600000
    concurrency = _widget(body, "Concurrent executions")
    assert ("ConcurrentExecutions", "Maximum") in [(m, o["stat"]) for _, m, o in _metric_names(concurrency)]
    assert concurrency["annotations"]["horizontal"] == [{"label": "Reserved concurrency", "value": 50}]

    split = _widget(body, "Executions: local vs Lambda")
    assert [(ns, m) for ns, m, _ in _metric_names(split)] == [("SAGE", "LocalExecutions"), ("SAGE", "LambdaExecutions")]
    assert split["stacked"] is True
    share = _widget(body, "Share sent to Lambda (%)")
    (expression,) = [line[0] for line in share["metrics"] if isinstance(line[0], dict)]
    assert expression["expression"] == "100 * lambda / (local + lambda)"
    assert {o["id"] for _, _, o in _metric_names(share)} == {"local", "lambda"}
    assert [(ns, m) for ns, m, _ in _metric_names(_widget(body, "Requeued executions"))] == [
        ("SAGE", "RequeuedExecutions")]


def test_dashboard_widgets_tile_without_overlap(dev):
    cells = set()
    for widget in _dashboard(dev)["widgets"]:
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells
                cells.add((x, y))
        assert widget["x"] + widget["width"] <= 24


def test_dashboard_without_namespace_has_no_dispatcher_graphs(variants):
    body = _dashboard(variants["stack"], "plain_dashboard")
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Invocations", "Errors and success rate", "Duration (ms)", "Concurrent executions"]
    assert "annotations" not in _widget(body, "Concurrent executions")


def test_dashboard_body_is_canonical_json_with_sorted_keys(dev):
    text = resources(dev, "aws_cloudwatch_dashboard")["worker_dashboard"]["dashboard_body"]
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------------- loader


def _problems(tmp_path: Path, text: str) -> list[str]:
    service = write_service(tmp_path, text, handlers=("worker",))
    with pytest.raises(ServiceFileError) as info:
        load_service(service)
    return [str(p) for p in info.value.problems]


BASE = """\
project: sage
environments: {dev: {}, prod: {}}
functions:
  worker:
    source: handlers/worker
    handler: sage_worker.handler.handler
    timeout_seconds: 300
"""


def test_alarms_on_an_unknown_function_are_refused(tmp_path):
    problems = _problems(tmp_path, BASE + "alarms:\n  wrker: {}\n")
    assert problems == ["alarms.wrker: 'wrker' is not a function of this service (declared: worker)"]


def test_explicit_concurrency_percent_needs_reserved_concurrency(tmp_path):
    problems = _problems(tmp_path, BASE + "alarms:\n  worker: {concurrency_percent: 80}\n")
    assert len(problems) == 1
    assert problems[0].startswith("alarms.worker.concurrency_percent: functions.worker has no reserved_concurrency")


def test_default_concurrency_percent_without_reserved_concurrency_is_fine(tmp_path):
    service = write_service(tmp_path, BASE + "alarms:\n  worker: {}\n", handlers=("worker",))
    assert load_service(service).environments["dev"].alarms["worker"].concurrency_percent == 90


def test_duration_threshold_must_be_below_the_timeout(tmp_path):
    problems = _problems(tmp_path, BASE + "alarms:\n  worker: {duration_threshold_seconds: 300}\n")
    assert len(problems) == 1
    assert problems[0].startswith("alarms.worker.duration_threshold_seconds: must be below "
                                  "functions.worker.timeout_seconds (300)")


def test_a_problem_only_an_override_causes_is_reported_under_its_environment(tmp_path):
    text = BASE.replace("{dev: {}, prod: {}}",
                        "{dev: {}, prod: {functions: {worker: {timeout_seconds: 60}}}}")
    problems = _problems(tmp_path, text + "alarms:\n  worker: {duration_threshold_seconds: 120}\n")
    assert problems == [
        "environments.prod.alarms.worker.duration_threshold_seconds: must be below "
        "functions.worker.timeout_seconds (60): an invocation never runs longer than its timeout, so the "
        "alarm could never fire"]


@pytest.mark.parametrize(("section", "path", "reason"), [
    ("{notify: {email: a@example.com, topic_arn: 'arn:aws:sns:us-east-1:123456789012:t'}}",
     "alarms.worker.notify", "not both"),
    ("{notify: {topic_arn: 'arn:aws:sqs:us-east-1:123456789012:q'}}", "alarms.worker.notify.topic_arn",
     "not an SNS topic ARN"),
    ("{notify: {email: not-an-address}}", "alarms.worker.notify.email", "pattern"),
    ("{errors_period_seconds: 90}", "alarms.worker.errors_period_seconds", "multiple of 60"),
    ("{concurrency_percent: 0}", "alarms.worker.concurrency_percent", "greater than or equal to 1"),
    ("{local_metrics_namespace: AWS/Lambda}", "alarms.worker.local_metrics_namespace", "AWS/"),
    ("{treshold: 3}", "alarms.worker.treshold", "unknown key"),
])
def test_invalid_alarm_settings_name_their_field(tmp_path, section, path, reason):
    problems = _problems(tmp_path, BASE + f"alarms:\n  worker: {section}\n")
    assert any(p.startswith(f"{path}: ") and reason in p for p in problems), problems


# ------------------------------------------------------------------------------------- terraform


@pytest.mark.slow
def test_terraform_validate_accepts_the_alarm_variants(variants, tf, tmp_path):
    """The examples' stacks are validated in test_validate.py; this is the variant only this file builds."""
    folder = tmp_path / "alarmed-dev"
    shutil.copytree(variants["out"] / "stacks" / "alarmed-dev", folder)
    terraform_validate(tf, folder, tmp_path / "alarmed-dev-data")


DLQ_HARNESS_OVERRIDE = {
    "resource": {"aws_lambda_function": {"worker_function": {"lifecycle": {"ignore_changes": ["dead_letter_config"]}}}}
}
"""Test harness only: moto's GetFunction does not return DeadLetterConfig, so every re-plan would show the
worker's dead_letter_config as added. The real stack is unchanged; this file exists only in the test's copy."""


@pytest.mark.slow
@pytest.mark.emulator
def test_deploy_replan_destroy_on_moto(moto_endpoint, tmp_path):
    import boto3

    from lambdaform.console import Output
    from lambdaform.deploy import Deployment, RunOptions

    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / EXAMPLE.name)
    shutil.copytree(HANDLERS / "worker", tmp_path / "handlers" / "worker", ignore=shutil.ignore_patterns("__pycache__"))
    loaded = load_service(tmp_path / "examples" / EXAMPLE.name)
    deployment = Deployment(loaded, RunOptions(env="dev", out=tmp_path / "out", endpoint=moto_endpoint),
                            Output(quiet=True))
    deployment.synthesize()
    (deployment.stack_dir("sage-dev") / "zz_test_override.tf.json").write_text(json.dumps(DLQ_HARNESS_OVERRIDE))

    def client(service):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    deployed = False
    try:
        result = deployment.apply()
        deployed = True
        code, text = deployment.plan(detailed_exitcode=True)
        assert code == 0, text

        topic_arn = result.outputs["worker_alarm_topic_arn"]
        alarms = {a["AlarmName"]: a for a in client("cloudwatch").describe_alarms(
            AlarmNamePrefix="sage-dev-worker-")["MetricAlarms"]}
        assert {name: a["Threshold"] for name, a in alarms.items()} == {
            "sage-dev-worker-errors": 5, "sage-dev-worker-duration": 600000, "sage-dev-worker-concurrency": 45}
        assert all(a["AlarmActions"] == [topic_arn] and a["OKActions"] == [topic_arn] for a in alarms.values())
        assert all(a["Dimensions"] == [{"Name": "FunctionName", "Value": "sage-dev-worker"}] for a in alarms.values())

        attributes = client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        key_id = attributes["KmsMasterKeyId"]
        key_policy = json.loads(client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        assert {"Service": "cloudwatch.amazonaws.com"} in [st["Principal"] for st in key_policy["Statement"]]

        body = json.loads(client("cloudwatch").get_dashboard(DashboardName="sage-dev-worker")["DashboardBody"])
        names = {line[1] for w in body["widgets"] for line in w["properties"]["metrics"] if isinstance(line[0], str)}
        assert {"LocalExecutions", "LambdaExecutions", "RequeuedExecutions", "Invocations"} <= names
        assert json.dumps(body).count("sage-dev-worker") >= 4  # the function name was resolved into the body
    finally:
        if deployed:
            deployment.destroy()
    assert not client("cloudwatch").describe_alarms(AlarmNamePrefix="sage-dev-worker-")["MetricAlarms"]
