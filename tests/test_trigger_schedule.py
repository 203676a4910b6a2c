"""The ``schedule`` trigger: EventBridge Scheduler schedules, their group and the scheduler role.

Synthesized JSON (schedules, exact role and trust, encryption with the service key or none), the expression
rules, and ``terraform validate`` (``slow``).
"""

from __future__ import annotations

import json

import pytest

from lambdaform.loader import ServiceFileError, load_service
from lambdaform.triggers.schedule import expression_problem
from support import only, policy_of, resources, stack_json, synth_file, terraform_validate, write_service

SERVICE = """\
project: clock
environments:
  dev: {}
  prod: {encryption_key: aws-managed}
queues: {failed: {}}
functions:
  report:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - schedule: {expression: "rate(5 minutes)"}
      - schedule:
          expression: "cron(0 8 ? * MON-FRI *)"
          timezone: Europe/Berlin
          flexible_window_minutes: 15
          input: {report: daily, "n": 2}
          retry: {maximum_retry_attempts: 3, maximum_event_age_seconds: 3600}
          dead_letter_queue: failed
          enabled: false
  other:
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
    triggers:
      - schedule: {expression: "at(2030-01-31T08:00:00)"}
"""

KEY_ARN = "${aws_kms_key.service_key.arn}"
REPORT_ARN = "${aws_lambda_function.report_function.arn}"
OTHER_ARN = "${aws_lambda_function.other_function.arn}"
DLQ_ARN = "${aws_sqs_queue.failed_queue.arn}"
GROUP_ARN = "${aws_scheduler_schedule_group.schedules.arn}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("schedule")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"dev": stack_json(out, "clock-dev"), "prod": stack_json(out, "clock-prod"), "out": out}


@pytest.fixture(scope="module")
def dev(synthesized) -> dict:
    return synthesized["dev"]


def test_one_schedule_group_per_stack_holds_every_schedule(dev):
    group = only(dev, "aws_scheduler_schedule_group")
    assert group["name"] == "clock-dev"
    assert "tags" not in group  # the provider's default tags apply
    schedules = resources(dev, "aws_scheduler_schedule")
    assert sorted(s["name"] for s in schedules.values()) == [
        "clock-dev-other-schedule-0", "clock-dev-report-schedule-0", "clock-dev-report-schedule-1"]
    assert {s["group_name"] for s in schedules.values()} == {"${aws_scheduler_schedule_group.schedules.name}"}


def test_rate_schedule_defaults_run_on_time_with_aws_retry_limits_and_no_dlq(dev):
    schedule = resources(dev, "aws_scheduler_schedule")["report_schedule_0"]
    assert schedule["schedule_expression"] == "rate(5 minutes)"
    assert schedule["schedule_expression_timezone"] == "UTC"
    assert schedule["flexible_time_window"] == {"mode": "OFF"}
    assert schedule["state"] == "ENABLED"
    assert schedule["kms_key_arn"] == KEY_ARN
    target = schedule["target"]
    assert target["arn"] == REPORT_ARN
    assert target["role_arn"] == "${aws_iam_role.report_scheduler.arn}"
    assert target["retry_policy"] == {"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400}
    assert "dead_letter_config" not in target and "input" not in target
    assert schedule["depends_on"] == ["aws_iam_role_policy.report_scheduler_policy"]


def test_cron_schedule_carries_every_option(dev):
    schedule = resources(dev, "aws_scheduler_schedule")["report_schedule_1"]
    assert schedule["schedule_expression"] == "cron(0 8 ? * MON-FRI *)"
    assert schedule["schedule_expression_timezone"] == "Europe/Berlin"
    assert schedule["flexible_time_window"] == {"mode": "FLEXIBLE", "maximum_window_in_minutes": 15}
    assert schedule["state"] == "DISABLED"
    target = schedule["target"]
    assert json.loads(target["input"]) == {"report": "daily", "n": 2}
    assert target["retry_policy"] == {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600}
    assert target["dead_letter_config"] == {"arn": DLQ_ARN}


def test_each_function_gets_a_scheduler_role_trusted_only_for_this_account_and_group(dev):
    roles = resources(dev, "aws_iam_role")
    assert roles["report_scheduler"]["name"] == "clock-dev-report-scheduler"
    (trust,) = policy_of(roles["report_scheduler"], "assume_role_policy")["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                  "ArnLike": {"aws:SourceArn": GROUP_ARN}}
    assert "tags" not in roles["report_scheduler"]


def test_scheduler_role_may_invoke_its_function_and_send_to_its_dlq_only(dev):
    policies = resources(dev, "aws_iam_role_policy")
    report = {s["Sid"]: s for s in policy_of(policies["report_scheduler_policy"])["Statement"]}
    assert report["InvokeFunction"]["Action"] == "lambda:InvokeFunction"
    assert report["InvokeFunction"]["Resource"] == REPORT_ARN
    assert report["DeadLetter"] == {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage",
                                    "Resource": DLQ_ARN}
    assert report["UseServiceKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert report["UseServiceKey"]["Resource"] == KEY_ARN
    other = {s["Sid"]: s for s in policy_of(policies["other_scheduler_policy"])["Statement"]}
    assert set(other) == {"InvokeFunction", "UseServiceKey"}
    assert other["InvokeFunction"]["Resource"] == OTHER_ARN
    assert other["UseServiceKey"]["Action"] == "kms:Decrypt"
    for document in (report, other):
        for statement in document.values():
            assert "*" not in json.dumps(statement["Resource"])


def test_aws_managed_environment_neither_encrypts_schedules_nor_grants_a_key(synthesized):
    prod = synthesized["prod"]
    assert "aws_kms_key" not in prod.get("resource", {})
    for schedule in resources(prod, "aws_scheduler_schedule").values():
        assert "kms_key_arn" not in schedule
    sids = {s["Sid"] for s in policy_of(resources(prod, "aws_iam_role_policy")["report_scheduler_policy"])["Statement"]}
    assert sids == {"InvokeFunction", "DeadLetter"}


@pytest.mark.parametrize("expression", [
    "rate(1 minute)", "rate(15 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(7 days)",
    "cron(0 8 ? * MON-FRI *)", "cron(0/15 * * * ? *)", "cron(5,35 14 * JAN,FEB ? *)", "cron(0 12 L * ? 2030-2035)",
    "cron(0 10 15W * ? *)", "cron(0 8 ? * 2#1 *)", "cron(0 18 ? * 6L *)", "cron(*/5 * * * ? *)",
    "at(2030-01-31T08:00:00)",
])
def test_expressions_aws_accepts_are_accepted(expression):
    assert expression_problem(expression) is None


@pytest.mark.parametrize("expression, reason", [
    ("rate(0 minutes)", "at least 1"),
    ("rate(5 minute)", "write rate(5 minutes)"),
    ("rate(1 days)", "write rate(1 day)"),
    ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
    ("rate(five minutes)", "is not rate(<number> <unit>)"),
    ("cron(0 8 * * ?)", "six fields"),
    ("cron(0 8 ? * ? *)", "exactly one of day-of-month"),
    ("cron(60 8 ? * MON *)", "minutes '60'"),
    ("cron(0 8 32 * ? *)", "day-of-month '32'"),
    ("cron(0 8 ? FOO MON *)", "month 'FOO'"),
    ("cron(0 8 ? * 8 *)", "day-of-week '8'"),
    ("cron(? 8 1 * ? *)", "'?' is allowed in day-of-month or day-of-week only"),
    ("at(2030-13-01T00:00:00)", "not a date and time"),
    ("at(tomorrow)", "is not at(yyyy-mm-ddThh:mm:ss)"),
    ("*/5 * * * *", "is not a schedule expression"),
])
def test_expressions_aws_refuses_are_refused_with_a_reason(expression, reason):
    problem = expression_problem(expression)
    assert problem is not None and reason in problem


def test_long_names_are_refused_before_aws_does(tmp_path):
    text = SERVICE.replace("project: clock", "project: " + "p" * 30).replace("  report:", "  " + "r" * 28 + ":")
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    message = str(caught.value)
    assert f"functions.{'r' * 28}.triggers.0.schedule: the schedule name" in message
    assert "AWS allows 64" in message


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    for stack in ("clock-dev", "clock-prod"):
        terraform_validate(tf, synthesized["out"] / "stacks" / stack, tmp_path / f"{stack}-data")
