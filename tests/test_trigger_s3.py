"""The ``s3`` trigger: one notification per bucket merged across functions, exact invoke permissions, and the
rules S3 would otherwise only enforce at apply time (event names, overlapping filters, foreign buckets).

Synthesized JSON first, then the rules through the loader, then ``terraform validate`` (``slow``).
"""

from __future__ import annotations


import pytest

from lambdaform.loader import ServiceFileError, load_service
from lambdaform.triggers import by_key, uses
from lambdaform.triggers.s3 import S3Options, overlap
from support import resources, stack_json, synth_file, terraform_validate, write_service

FUNCTION = """\
    runtime: provided.al2023
    source: handlers/vela_runtime
    handler: app.velac
"""
SERVICE = f"""\
project: pics
environments: {{dev: {{}}}}
buckets:
  uploads: {{}}
  reports: {{}}
functions:
  ingest:
{FUNCTION}    triggers:
      - s3: {{bucket: uploads, events: ["s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload"],
              prefix: "incoming/", suffix: ".csv"}}
      - s3: {{bucket: uploads, events: ["s3:ObjectRemoved:*"]}}
  audit:
{FUNCTION}    triggers:
      - s3: {{bucket: uploads, prefix: "archive/${{year}}/"}}
      - s3: {{bucket: reports}}
"""

UPLOADS_ARN = "${aws_s3_bucket.uploads_bucket.arn}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"


def _fn_arn(key: str) -> str:
    return f"${{aws_lambda_function.{key}_function.arn}}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("s3-trigger")
    out = folder / "out"
    synth_file(write_service(folder, SERVICE), out)
    return {"out": out, "stack": stack_json(out, "pics-dev")}


@pytest.fixture(scope="module")
def stack(synthesized) -> dict:
    return synthesized["stack"]


def test_one_notification_per_bucket_holds_every_function_and_trigger_in_order(stack):
    notifications = resources(stack, "aws_s3_bucket_notification")
    assert sorted(notifications) == ["reports_notification", "uploads_notification"]
    uploads = notifications["uploads_notification"]
    assert uploads["bucket"] == "${aws_s3_bucket.uploads_bucket.bucket}"
    assert uploads["lambda_function"] == [
        {"id": "ingest-0", "lambda_function_arn": _fn_arn("ingest"), "filter_prefix": "incoming/",
         "filter_suffix": ".csv", "events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload"]},
        {"id": "ingest-1", "lambda_function_arn": _fn_arn("ingest"), "events": ["s3:ObjectRemoved:*"]},
        {"id": "audit-0", "lambda_function_arn": _fn_arn("audit"), "filter_prefix": "archive/$${year}/",
         "events": ["s3:ObjectCreated:*"]},
    ], "user text is escaped so '${year}' stays a literal key prefix"
    assert notifications["reports_notification"]["lambda_function"] == [
        {"id": "audit-1", "lambda_function_arn": _fn_arn("audit"), "events": ["s3:ObjectCreated:*"]}]


def test_one_permission_per_function_and_bucket_naming_the_bucket_and_the_account(stack):
    permissions = resources(stack, "aws_lambda_permission")
    assert sorted(permissions) == ["audit_s3_reports", "audit_s3_uploads", "ingest_s3_uploads"]
    for name, permission in permissions.items():
        function, _, bucket = name.split("_")
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["principal"] == "s3.amazonaws.com"
        assert permission["function_name"] == f"${{aws_lambda_function.{function}_function.function_name}}"
        assert permission["source_arn"] == f"${{aws_s3_bucket.{bucket}_bucket.arn}}"
        assert permission["source_account"] == ACCOUNT, "no confused deputy: the bucket must be in this account"
        assert "qualifier" not in permission and "tags" not in permission
    assert permissions["ingest_s3_uploads"]["source_arn"] == UPLOADS_ARN


def test_the_notification_waits_for_the_permissions_of_its_bucket_only(stack):
    notifications = resources(stack, "aws_s3_bucket_notification")
    assert sorted(notifications["uploads_notification"]["depends_on"]) == [
        "aws_lambda_permission.audit_s3_uploads", "aws_lambda_permission.ingest_s3_uploads"]
    assert notifications["reports_notification"]["depends_on"] == ["aws_lambda_permission.audit_s3_reports"]


def test_the_trigger_grants_the_role_nothing_on_the_bucket(stack):
    """Reading the objects is what ``access:`` is for; being invoked needs no role permission."""
    assert not [name for name in resources(stack, "aws_iam_role_policy") if "_grant_" in name]


# -- rules -------------------------------------------------------------------------------------------


def _options(events=("s3:ObjectCreated:*",), prefix="", suffix="") -> S3Options:
    return S3Options(bucket="uploads", events=list(events), prefix=prefix, suffix=suffix)


@pytest.mark.parametrize(("a", "b", "clash"), [
    (_options(prefix="in/"), _options(prefix="out/"), None),
    (_options(suffix=".csv"), _options(suffix=".json"), None),
    (_options(events=["s3:ObjectCreated:*"]), _options(events=["s3:ObjectRemoved:*"]), None),
    (_options(events=["s3:ObjectCreated:Put"]), _options(events=["s3:ObjectCreated:Copy"]), None),
    (_options(prefix="in/"), _options(events=["s3:ObjectCreated:Put"], prefix="in/csv/"),
     ("s3:ObjectCreated:*", "s3:ObjectCreated:Put")),
    (_options(), _options(prefix="anything/", suffix=".png"), ("s3:ObjectCreated:*", "s3:ObjectCreated:*")),
    (_options(suffix=".csv"), _options(suffix="report.csv"), ("s3:ObjectCreated:*", "s3:ObjectCreated:*")),
    (_options(events=["s3:ObjectRestore:Completed"]), _options(events=["s3:ObjectRestore:*"]),
     ("s3:ObjectRestore:Completed", "s3:ObjectRestore:*")),
    (_options(events=["s3:LifecycleTransition"]), _options(events=["s3:LifecycleExpiration:*"]), None),
])
def test_overlap_follows_s3s_rule(a, b, clash):
    """Event types overlap (a wildcard covers its members), one prefix starts the other, one suffix ends it."""
    assert overlap(a, b) == clash
    assert (overlap(b, a) is None) == (clash is None)


def test_disjoint_triggers_on_one_bucket_load(tmp_path):
    loaded = load_service(write_service(tmp_path, SERVICE))
    service = loaded.select(["dev"])["dev"]
    found = uses(service)["s3"]
    assert [(u.function, u.index) for u in found] == [("ingest", 0), ("ingest", 1), ("audit", 0), ("audit", 1)]
    assert by_key("s3").describe(found[0]) == (
        "s3: uploads (s3:ObjectCreated:Put, s3:ObjectCreated:CompleteMultipartUpload incoming/*.csv)")


def test_overlapping_triggers_of_two_functions_are_refused_naming_both(tmp_path):
    text = SERVICE.replace('prefix: "archive/${year}/"', 'prefix: "incoming/2025/"')
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    (problem,) = caught.value.problems
    assert problem.path == "functions.audit.triggers.0.s3"
    assert "overlaps functions.ingest.triggers.0.s3 on bucket 'uploads'" in problem.reason
    assert "s3:ObjectCreated:* and s3:ObjectCreated:Put" in problem.reason


@pytest.mark.parametrize(("trigger", "path", "reason"), [
    ("{bucket: uploads, arn: 'arn:aws:s3:::elsewhere'}", "functions.ingest.triggers.0.s3", "never an ARN"),
    ("{bucket: uploads, events: [s3:ObjectCreated]}", "functions.ingest.triggers.0.s3.events.0",
     "not an S3 event type"),
    ("{bucket: uploads, events: []}", "functions.ingest.triggers.0.s3.events", "at least 1 item"),
    ("{bucket: uploads, events: ['s3:ObjectRemoved:Delete', 's3:ObjectRemoved:Delete']}",
     "functions.ingest.triggers.0.s3.events", "listed twice"),
    ("{bucket: elsewhere}", "functions.ingest.triggers.0.s3.bucket", "'elsewhere' is not declared under buckets"),
])
def test_invalid_triggers_report_their_field(tmp_path, trigger, path, reason):
    text = f"""\
project: pics
environments: {{dev: {{}}}}
buckets: {{uploads: {{}}}}
functions:
  ingest:
{FUNCTION}    triggers:
      - s3: {trigger}
"""
    with pytest.raises(ServiceFileError) as caught:
        load_service(write_service(tmp_path, text))
    assert [(p.path, reason in p.reason) for p in caught.value.problems] == [(path, True)], caught.value.problems


@pytest.mark.slow
def test_terraform_validate(synthesized, tf, tmp_path):
    terraform_validate(tf, synthesized["out"] / "stacks" / "pics-dev", tmp_path / "tf-data")
