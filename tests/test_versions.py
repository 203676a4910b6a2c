"""Versions, aliases, warm capacity, asynchronous delivery and CodeDeploy rollouts (``alias``,
``provisioned_concurrency``, ``snap_start``, ``async``, ``deployment``): synthesized JSON per feature, exact
grants, ``terraform validate``, and byte-identical output for functions without an alias."""

from __future__ import annotations

import json

import pytest

from support import policy_of, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: shop
environments: {dev: {}}
queues:
  jobs: {visibility_timeout_seconds: 180}
  failures: {}
topics:
  done: {}
functions:
  api:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
    alias: live
    provisioned_concurrency: 2
    reserved_concurrency: 5
    url: {auth: AWS_IAM}
    triggers:
      - sqs: {queue: jobs}
      - http: {route: "GET /hello"}
    async:
      maximum_retry_attempts: 1
      maximum_event_age_seconds: 3600
      on_failure: {queue: failures}
      on_success: {topic: done}
    deployment:
      strategy: LambdaLinear10PercentEvery2Minutes
      hooks: {before_allow_traffic: smoke, after_allow_traffic: verify}
  quick:
    runtime: python3.13
    source: handlers/hello
    handler: hello_app.handler.handler
    alias: current
    snap_start: true
    async:
      on_failure: {function: sink}
      on_success: {event_bus: default}
  legacy:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
    async:
      on_failure: {queue: "arn:aws:sqs:us-east-1:123456789012:elsewhere"}
      on_success: {event_bus: "arn:aws:events:us-east-1:123456789012:event-bus/audit"}
  sink:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
    alias: live
  smoke:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
  verify:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
alarms:
  api: {}
"""


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    folder = tmp_path_factory.mktemp("versions")
    out = folder / "out"
    synth_file(write_service(folder / "svc", SERVICE, handlers=("hello",)), out)
    return out


@pytest.fixture(scope="module")
def document(synthesized):
    return stack_json(synthesized, "shop-dev")


def test_an_alias_publishes_versions_and_points_at_the_newest(document):
    functions = resources(document, "aws_lambda_function")
    assert functions["api_function"]["publish"] is True
    assert functions["quick_function"]["publish"] is True
    assert "publish" not in functions["legacy_function"], "no alias: nothing published"
    aliases = resources(document, "aws_lambda_alias")
    assert sorted(aliases) == ["api_alias", "quick_alias", "sink_alias"]
    quick = aliases["quick_alias"]
    assert quick["name"] == "current"
    assert quick["function_name"] == "${aws_lambda_function.quick_function.function_name}"
    assert quick["function_version"] == "${aws_lambda_function.quick_function.version}"
    assert "lifecycle" not in quick, "without a rollout terraform moves the alias itself"


def test_a_rollout_owns_the_alias_version_after_the_first_apply(document):
    api = resources(document, "aws_lambda_alias")["api_alias"]
    assert api["function_version"] == "${aws_lambda_function.api_function.version}"
    assert api["lifecycle"] == {"ignore_changes": ["function_version"]}


def test_url_trigger_and_api_integration_target_the_alias(document):
    url = resources(document, "aws_lambda_function_url")["api_url"]
    assert url["qualifier"] == "${aws_lambda_alias.api_alias.name}"
    mapping = resources(document, "aws_lambda_event_source_mapping")["api_sqs_0"]
    assert mapping["function_name"] == "${aws_lambda_alias.api_alias.arn}"
    integrations = resources(document, "aws_apigatewayv2_integration")
    assert [i["integration_uri"] for i in integrations.values()] == ["${aws_lambda_alias.api_alias.arn}"]
    permissions = [p for p in resources(document, "aws_lambda_permission").values()
                   if p["principal"] == "apigateway.amazonaws.com"]
    assert permissions and all(p["qualifier"] == "${aws_lambda_alias.api_alias.name}" for p in permissions)


def test_provisioned_concurrency_sits_on_the_alias(document):
    configs = resources(document, "aws_lambda_provisioned_concurrency_config")
    assert configs == {"api_alias_provisioned_concurrency": {
        **configs["api_alias_provisioned_concurrency"],
        "function_name": "${aws_lambda_function.api_function.function_name}",
        "qualifier": "${aws_lambda_alias.api_alias.name}",
        "provisioned_concurrent_executions": 2,
    }}


def test_snap_start_applies_to_published_versions_only_where_asked(document):
    functions = resources(document, "aws_lambda_function")
    assert functions["quick_function"]["snap_start"] == {"apply_on": "PublishedVersions"}
    assert "snap_start" not in functions["api_function"]


def test_async_delivery_is_configured_on_the_alias_or_the_function(document):
    configs = resources(document, "aws_lambda_function_event_invoke_config")
    api = configs["api_async"]
    assert api["qualifier"] == "${aws_lambda_alias.api_alias.name}"
    assert api["maximum_retry_attempts"] == 1 and api["maximum_event_age_in_seconds"] == 3600
    assert api["destination_config"] == {"on_failure": {"destination": "${aws_sqs_queue.failures_queue.arn}"},
                                         "on_success": {"destination": "${aws_sns_topic.done_topic.arn}"}}
    assert api["depends_on"] == ["aws_iam_role_policy.api_grant_async_destinations"]
    legacy = configs["legacy_async"]
    assert "qualifier" not in legacy
    assert legacy["maximum_retry_attempts"] == 2 and legacy["maximum_event_age_in_seconds"] == 21600
    quick = configs["quick_async"]["destination_config"]
    assert quick["on_failure"] == {"destination": "${aws_lambda_alias.sink_alias.arn}"}, "a function's alias"
    assert quick["on_success"]["destination"] == (
        "arn:${data.aws_partition.current.partition}:events:us-east-1:"
        "${data.aws_caller_identity.current.account_id}:event-bus/default")


def test_each_destination_gets_exactly_its_one_action(document):
    policies = resources(document, "aws_iam_role_policy")
    api = policy_of(policies["api_grant_async_destinations"])["Statement"]
    assert api == [
        {"Sid": "AsyncOnFailure", "Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": "${aws_sqs_queue.failures_queue.arn}"},
        {"Sid": "AsyncOnSuccess", "Effect": "Allow", "Action": "sns:Publish",
         "Resource": "${aws_sns_topic.done_topic.arn}"},
        {"Sid": "AsyncDestinationKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "${aws_kms_key.service_key.arn}"},
    ]
    quick = policy_of(policies["quick_grant_async_destinations"])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in quick] == [
        ("lambda:InvokeFunction", "${aws_lambda_alias.sink_alias.arn}"),
        ("events:PutEvents", "arn:${data.aws_partition.current.partition}:events:us-east-1:"
                             "${data.aws_caller_identity.current.account_id}:event-bus/default"),
    ], "no key statement: neither destination is encrypted with the service key"
    legacy = policy_of(policies["legacy_grant_async_destinations"])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in legacy] == [
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:elsewhere"),
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/audit"),
    ]


def test_codedeploy_group_shifts_the_alias_and_rolls_back_on_failure_and_alarms(document):
    app = resources(document, "aws_codedeploy_app")["api_deployment_app"]
    assert app["compute_platform"] == "Lambda" and app["name"] == "shop-dev-api"
    group = resources(document, "aws_codedeploy_deployment_group")["api_deployment_group"]
    assert group["app_name"] == "${aws_codedeploy_app.api_deployment_app.name}"
    assert group["deployment_config_name"] == "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes"
    assert group["deployment_style"] == {"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"}
    assert group["auto_rollback_configuration"] == {"enabled": True,
                                                    "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
    assert group["alarm_configuration"] == {"enabled": True, "alarms": [
        "${aws_cloudwatch_metric_alarm.api_alarms_errors.alarm_name}",
        "${aws_cloudwatch_metric_alarm.api_alarms_duration.alarm_name}",
        "${aws_cloudwatch_metric_alarm.api_alarms_concurrency.alarm_name}"]}
    assert group["service_role_arn"] == "${aws_iam_role.api_deployment_role.arn}"


def test_the_codedeploy_role_is_trusted_by_codedeploy_and_holds_exact_statements(document):
    role = resources(document, "aws_iam_role")["api_deployment_role"]
    trust = policy_of(role, "assume_role_policy")["Statement"][0]
    assert trust["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "${data.aws_caller_identity.current.account_id}"}
    statements = policy_of(resources(document, "aws_iam_role_policy")["api_deployment_role_policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ShiftAlias"]["Resource"] == "${aws_lambda_alias.api_alias.arn}"
    assert by_sid["ShiftAlias"]["Action"] == ["lambda:GetAlias", "lambda:UpdateAlias",
                                              "lambda:GetProvisionedConcurrencyConfig"]
    assert by_sid["InvokeHooks"] == {"Sid": "InvokeHooks", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                                     "Resource": ["${aws_lambda_function.smoke_function.arn}",
                                                  "${aws_lambda_function.verify_function.arn}"]}
    assert by_sid["ReadAlarms"]["Action"] == "cloudwatch:DescribeAlarms"
    assert len(by_sid["ReadAlarms"]["Resource"]) == 3
    assert all("*" not in json.dumps(s["Resource"]) for s in statements)


def test_hooks_may_report_to_that_deployment_group_only(document):
    policies = resources(document, "aws_iam_role_policy")
    for hook in ("smoke", "verify"):
        assert policy_of(policies[f"{hook}_grant_report-api-deployment".replace("-", "_")])["Statement"] == [{
            "Sid": "ReportHookStatus", "Effect": "Allow", "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
            "Resource": "${aws_codedeploy_deployment_group.api_deployment_group.arn}"}]
    assert not any("codedeploy" in p["policy"] for name, p in policies.items()
                   if name.startswith(("api_", "quick_", "legacy_", "sink_")) and "deployment_role" not in name)


def test_outputs_name_the_alias_version_and_codedeploy_resources(document):
    outputs = document["output"]
    assert outputs["api_alias_name"]["value"] == "${aws_lambda_alias.api_alias.name}"
    assert outputs["api_alias_arn"]["value"] == "${aws_lambda_alias.api_alias.arn}"
    assert outputs["api_function_version"]["value"] == "${aws_lambda_function.api_function.version}"
    assert outputs["api_codedeploy_app_name"]["value"] == "${aws_codedeploy_app.api_deployment_app.name}"
    assert outputs["api_codedeploy_deployment_group_name"]["value"] == (
        "${aws_codedeploy_deployment_group.api_deployment_group.deployment_group_name}")
    assert all(o.get("description") for o in outputs.values())
    assert "legacy_alias_name" not in outputs and "quick_codedeploy_app_name" not in outputs


def test_without_alias_the_output_is_what_it_was(tmp_path):
    """The same file minus every new field synthesizes the same bytes as a file that never had them."""
    plain = """\
project: shop
environments: {dev: {}}
functions:
  api:
    runtime: python3.12
    source: handlers/hello
    handler: hello_app.handler.handler
    url: {auth: AWS_IAM}
"""
    explicit = plain + "    provisioned_concurrency: 0\n    snap_start: false\n"
    outs = []
    for name, text in (("plain", plain), ("explicit", explicit)):
        synth_file(write_service(tmp_path / name / "svc", text, handlers=("hello",)), tmp_path / name / "out")
        outs.append(stack_json(tmp_path / name / "out", "shop-dev"))
    assert json.dumps(outs[0], sort_keys=True) == json.dumps(outs[1], sort_keys=True)
    document = outs[0]
    for rtype in ("aws_lambda_alias", "aws_lambda_provisioned_concurrency_config",
                  "aws_lambda_function_event_invoke_config", "aws_codedeploy_app"):
        assert rtype not in document["resource"]
    function = resources(document, "aws_lambda_function")["api_function"]
    assert "publish" not in function and "snap_start" not in function
    assert "qualifier" not in resources(document, "aws_lambda_function_url")["api_url"]


@pytest.mark.slow
def test_terraform_validate_accepts_versions_aliases_and_rollouts(synthesized, tf, tmp_path):
    terraform_validate(tf, synthesized / "stacks" / "shop-dev", tmp_path / "tf-data")
