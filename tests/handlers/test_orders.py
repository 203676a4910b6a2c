"""The order pipeline's handlers (handlers/orders/order_pipeline) against moto in-process (``mock_aws``).

DynamoDB, SQS, S3 and SNS run on moto; the events are the shapes AWS sends (API Gateway HTTP API payload
2.0, SQS batches, S3 notifications, EventBridge Scheduler input, DynamoDB stream records, SNS records), built
here because moto does not invoke functions from its own notifications. SNS delivery is observed through an
SQS queue subscribed to the topic (moto delivers SNS -> SQS synchronously on publish). Log lines are read
from captured stdout (the kit writes one JSON object per line).
"""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from lambdaform_kit import clients
from order_pipeline import alerts, api, audit, nightly, uploads, worker

REGION = "us-east-1"
TABLE = "order-pipeline-dev-orders"
BUCKET = "order-pipeline-dev-uploads"
QUEUE = "order-pipeline-dev-jobs"
TOPIC = "order-pipeline-dev-alerts"
CONTEXT = SimpleNamespace(aws_request_id="req-1", function_name="order-pipeline-dev-api")


@pytest.fixture(scope="module")
def moto_mock():
    with mock_aws() as mock:
        yield mock


@pytest.fixture
def aws(moto_mock, monkeypatch):
    """Fresh moto backends with the example's table, queue, bucket and topic; the handlers' env points at them."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_mock.reset()
    clients.reset()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    monkeypatch.setenv("ORDERS_TABLE", TABLE)
    monkeypatch.setenv("JOBS_QUEUE_URL", queue_url)
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic_arn)
    yield SimpleNamespace(dynamodb=dynamodb, sqs=sqs, queue_url=queue_url, s3=s3, sns=sns, topic_arn=topic_arn)
    clients.reset()


# ---------------------------------------------------------------------------------------------- helpers


def http_event(route_key: str, body: object = None, path_id: str | None = None, base64_body: bool = False) -> dict:
    method, path = route_key.split(" ", 1)
    event: dict = {"version": "2.0", "routeKey": route_key, "rawPath": path.replace("{id}", path_id or ""),
                   "headers": {"content-type": "application/json"}, "isBase64Encoded": base64_body,
                   "requestContext": {"http": {"method": method, "path": path}, "requestId": "api-req"}}
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        event["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
    if path_id is not None:
        event["pathParameters"] = {"id": path_id}
    return event


def post(body: object, **kwargs) -> dict:
    return api.handler(http_event("POST /orders", body, **kwargs), CONTEXT)


def get(order_id: str) -> dict:
    return api.handler(http_event("GET /orders/{id}", path_id=order_id), CONTEXT)


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


def stored(aws, order_id: str) -> dict | None:
    return aws.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": order_id}}).get("Item")


def drain(sqs, queue_url: str) -> list[dict]:
    """Every message on the queue now (received and deleted), until a receive comes back empty."""
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def jobs_on_queue(aws) -> list[str]:
    return [json.loads(m["Body"])["order_id"] for m in drain(aws.sqs, aws.queue_url)]


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def sqs_record(body: str, message_id: str) -> dict:
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": body, "attributes": {},
            "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": REGION,
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}"}


ORDER = {"customer": "ada", "items": [{"sku": "tea", "qty": 2, "price": 3.5}, {"sku": "mug", "qty": 1, "price": 8}]}


# ------------------------------------------------------------------------------------------------- api


def test_post_writes_the_order_and_enqueues_its_job(aws):
    response = post(ORDER)

    assert response["statusCode"] == 201, response
    assert response["headers"]["content-type"] == "application/json"
    order = body_of(response)
    assert uuid.UUID(order["id"]).version == 4
    assert order["status"] == "received" and order["customer"] == "ada" and order["total"] == 15
    assert order["items"] == ORDER["items"]
    item = stored(aws, order["id"])
    assert item["status"] == {"S": "received"} and item["total"] == {"N": "15.0"}
    assert item["items"]["L"][0]["M"] == {"sku": {"S": "tea"}, "qty": {"N": "2"}, "price": {"N": "3.5"}}
    assert jobs_on_queue(aws) == [order["id"]]


def test_post_keeps_decimal_amounts_exact_and_reads_base64_bodies(aws):
    body = '{"customer": "bo", "items": [{"sku": "a", "qty": 3, "price": 0.1}]}'
    response = post(body, base64_body=True)

    assert response["statusCode"] == 201, response
    order = body_of(response)
    assert stored(aws, order["id"])["total"] == {"N": "0.3"}  # not 0.30000000000000004
    assert order["total"] == 0.3


@pytest.mark.parametrize(("body", "reason"), [
    ("", "the body is empty"),
    ("{not json", "the body is not valid JSON"),
    ('{"customer": "a", "items": [{"sku": "x", "qty": 1, "price": NaN}]}', "NaN is not a number"),
    ([1, 2], "must be a JSON object"),
    ({"items": ORDER["items"]}, "customer must be a non-empty string"),
    ({"customer": "  ", "items": ORDER["items"]}, "customer must be a non-empty string"),
    ({"customer": "a", "items": []}, "items must be a non-empty list"),
    ({"customer": "a", "items": "tea"}, "items must be a non-empty list"),
    ({"customer": "a", "items": ["tea"]}, "items[0] must be an object"),
    ({"customer": "a", "items": [{"sku": "x", "qty": 1}]}, "items[0] is missing price"),
    ({"customer": "a", "items": [{"sku": "x", "qty": 0, "price": 1}]}, "items[0].qty must be a whole number"),
    ({"customer": "a", "items": [{"sku": "x", "qty": 1.5, "price": 1}]}, "items[0].qty must be a whole number"),
    ({"customer": "a", "items": [{"sku": "x", "qty": True, "price": 1}]}, "items[0].qty must be a whole number"),
    ({"customer": "a", "items": [{"sku": "x", "qty": 1, "price": -1}]}, "items[0].price must be a number"),
    ({"customer": "a", "items": [{"sku": "x", "qty": 1, "price": "1"}]}, "items[0].price must be a number"),
    ({"customer": "a", "items": [{"sku": "", "qty": 1, "price": 1}]}, "items[0].sku must be a non-empty"),
    ({**ORDER, "discount": 5}, "unknown field discount"),
])
def test_post_rejects_bad_input_with_400_and_a_reason(aws, body, reason):
    response = post(body)

    assert response["statusCode"] == 400
    assert reason in body_of(response)["error"]
    assert aws.dynamodb.scan(TableName=TABLE)["Count"] == 0
    assert jobs_on_queue(aws) == []


def test_get_answers_the_order_or_404(aws):
    created = body_of(post(ORDER))

    found = get(created["id"])
    assert found["statusCode"] == 200
    assert body_of(found) == created

    missing = get(str(uuid.uuid4()))
    assert missing["statusCode"] == 404 and "not found" in body_of(missing)["error"]


def test_other_routes_answer_404_json(aws):
    response = api.handler(http_event("DELETE /orders/{id}", path_id="x"), CONTEXT)
    assert response["statusCode"] == 404
    assert body_of(response) == {"error": "no route DELETE /orders/{id}"}


def test_an_unexpected_failure_answers_a_generic_500_and_logs_the_reason(aws, monkeypatch, capsys):
    monkeypatch.setenv("JOBS_QUEUE_URL", aws.queue_url.replace(QUEUE, "no-such-queue"))

    response = post(ORDER)

    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "internal error"}
    failure = [line for line in log_lines(capsys) if line["level"] == "ERROR"]
    assert failure and failure[0]["request_id"] == "req-1" and "traceback" in failure[0]


# ---------------------------------------------------------------------------------------------- worker


def test_worker_reports_exactly_the_failed_messages_and_processes_the_rest(aws):
    good = body_of(post(ORDER))["id"]
    drain(aws.sqs, aws.queue_url)
    event = {"Records": [
        sqs_record(json.dumps({"order_id": good}), "m-good"),
        sqs_record(json.dumps({"order_id": str(uuid.uuid4())}), "m-unknown"),
        sqs_record("{not json", "m-bad-json"),
    ]}

    result = worker.handler(event, CONTEXT)

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-unknown"}, {"itemIdentifier": "m-bad-json"}]}
    assert stored(aws, good)["status"] == {"S": "processed"}
    assert aws.dynamodb.scan(TableName=TABLE)["Count"] == 1  # the unknown order was not created


def test_worker_reports_a_message_whose_dynamodb_update_fails(aws, monkeypatch):
    monkeypatch.setenv("ORDERS_TABLE", "no-such-table")
    result = worker.handler({"Records": [sqs_record('{"order_id": "o-1"}', "m-1")]}, CONTEXT)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_worker_fails_the_invocation_for_an_event_that_is_not_a_batch(aws):
    with pytest.raises(ValueError, match="not an SQS event"):
        worker.handler({"hello": "world"}, CONTEXT)


# --------------------------------------------------------------------------------------------- uploads


def s3_event(key: str, etag: str = "etag-1") -> dict:
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                         "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                                "object": {"key": quote_plus(key), "size": 1, "eTag": etag}}}]}


def test_a_csv_upload_becomes_orders_with_their_jobs(aws):
    key = "incoming/batch 1.csv"  # the event carries it URL-encoded: incoming/batch+1.csv
    csv_text = "customer,sku,qty,price\nada,tea,2,3.50\n\nbo,mug,1,8\ncy,pen,zero,1\ndi,ink,1\n"
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=csv_text.encode())

    result = uploads.handler(s3_event(key), CONTEXT)

    assert result["files"] == 1 and result["created"] == 2
    assert [(r["line"], r["reason"]) for r in result["rejected"]] == [
        (5, "qty 'zero' is not a number"), (6, "expected 4 cells (customer,sku,qty,price), got 3")]
    items = aws.dynamodb.scan(TableName=TABLE)["Items"]
    orders = sorted((i["customer"]["S"], i["items"]["L"][0]["M"]["sku"]["S"], i["total"]["N"], i["status"]["S"])
                    for i in items)
    assert orders == [("ada", "tea", "7.00", "received"), ("bo", "mug", "8", "received")]
    assert sorted(jobs_on_queue(aws)) == sorted(i["id"]["S"] for i in items)


def test_a_retried_upload_creates_no_duplicates_and_requeues_only_unprocessed_orders(aws):
    aws.s3.put_object(Bucket=BUCKET, Key="incoming/b.csv", Body=b"ada,tea,1,1\nbo,mug,1,2\n")
    uploads.handler(s3_event("incoming/b.csv"), CONTEXT)
    first, second = sorted(jobs_on_queue(aws))
    worker.handler({"Records": [sqs_record(json.dumps({"order_id": first}), "m-1")]}, CONTEXT)

    again = uploads.handler(s3_event("incoming/b.csv"), CONTEXT)

    assert again["created"] == 0
    assert aws.dynamodb.scan(TableName=TABLE)["Count"] == 2
    assert jobs_on_queue(aws) == [second]
    assert stored(aws, first)["status"] == {"S": "processed"}


def test_an_upload_that_is_gone_is_skipped(aws):
    assert uploads.handler(s3_event("incoming/vanished.csv"), CONTEXT) == {"files": 0, "created": 0, "rejected": []}


# --------------------------------------------------------------------------------------------- nightly


def test_nightly_publishes_counts_by_status_to_the_topic(aws):
    inbox = aws.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = aws.sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    ids = [body_of(post(ORDER))["id"] for _ in range(3)]
    worker.handler({"Records": [sqs_record(json.dumps({"order_id": ids[0]}), "m-1")]}, CONTEXT)

    result = nightly.handler({"task": "nightly-report"}, CONTEXT)

    expected = {"task": "nightly-report", "total": 3, "counts": {"processed": 1, "received": 2}}
    assert result == expected
    [delivered] = drain(aws.sqs, inbox)
    envelope = json.loads(delivered["Body"])
    assert envelope["Subject"] == "Nightly order report"
    assert json.loads(envelope["Message"]) == expected
    assert envelope["MessageAttributes"]["kind"] == {"Type": "String", "Value": "order"}


def test_nightly_refuses_other_events_without_publishing(aws):
    inbox = aws.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = aws.sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=inbox_arn)

    result = nightly.handler({"task": "something-else"}, CONTEXT)

    assert result["statusCode"] == 400 and "nightly-report" in result["error"]
    assert drain(aws.sqs, inbox) == []


# ----------------------------------------------------------------------------------------------- audit


def stream_record(event_name: str, order_id: str | None, old: str | None, new: str | None, seq: str) -> dict:
    data: dict = {"SequenceNumber": seq, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if order_id is not None:
        data["Keys"] = {"id": {"S": order_id}}
    if old is not None:
        data["OldImage"] = {"id": {"S": order_id}, "status": {"S": old}}
    if new is not None:
        data["NewImage"] = {"id": {"S": order_id}, "status": {"S": new}}
    return {"eventID": seq, "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": data}


def test_audit_logs_each_change_and_reports_malformed_records(capsys):
    event = {"Records": [
        stream_record("INSERT", "o-1", None, "received", "100"),
        stream_record("MODIFY", "o-1", "received", "processed", "200"),
        stream_record("MODIFY", None, "received", "processed", "300"),  # no Keys
        {"eventName": "MODIFY"},                                         # no dynamodb section at all
        stream_record("REMOVE", "o-1", "processed", None, "400"),
    ]}

    result = audit.handler(event, CONTEXT)

    assert result == {"batchItemFailures": [{"itemIdentifier": "300"}, {"itemIdentifier": ""}]}
    changes = [(line["order_id"], line["change"], line["transition"]) for line in log_lines(capsys)
               if line["message"] == "order changed"]
    assert changes == [("o-1", "INSERT", "- -> received"), ("o-1", "MODIFY", "received -> processed"),
                       ("o-1", "REMOVE", "processed -> -")]


def test_audit_of_a_clean_batch_reports_no_failures(capsys):
    result = audit.handler({"Records": [stream_record("MODIFY", "o-2", "received", "processed", "1")]}, CONTEXT)
    assert result == {"batchItemFailures": []}
    [line] = [line for line in log_lines(capsys) if line["message"] == "order changed"]
    assert line["old_status"] == "received" and line["new_status"] == "processed"
    assert line["logger"] == "order_pipeline.audit" and line["request_id"] == "req-1"


# ---------------------------------------------------------------------------------------------- alerts


def test_alerts_logs_subject_message_and_attributes(capsys):
    event = {"Records": [
        {"EventSource": "aws:sns", "Sns": {"MessageId": "sns-1", "Subject": "Nightly order report",
                                           "Message": '{"total": 3}',
                                           "MessageAttributes": {"kind": {"Type": "String", "Value": "order"}}}},
        {"EventSource": "aws:sns", "Sns": {"MessageId": "sns-2", "Subject": None, "Message": "disk full"}},
        {"EventSource": "aws:sqs"},
    ]}

    result = alerts.handler(event, CONTEXT)

    assert result == {"alerts": 2, "rejected": 1}
    logged = [line for line in log_lines(capsys) if line["message"] == "alert"]
    assert [(a["subject"], a["alert"], a["attributes"], a["sns_message_id"]) for a in logged] == [
        ("Nightly order report", '{"total": 3}', {"kind": "order"}, "sns-1"), (None, "disk full", {}, "sns-2")]
    assert all(a["level"] == "INFO" and a["request_id"] == "req-1" for a in logged)
