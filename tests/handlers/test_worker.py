"""The SAGE worker (handlers/worker/sage_worker) against moto's in-process AWS emulator.

What runs where:

* S3, DynamoDB, SQS, CloudWatch and Lambda (create_function + asynchronous invoke) run on moto in-process
  (``mock_aws``). Lambda uses moto's docker-free backend (``config={"lambda": {"use_docker": False}}``),
  which accepts ``InvocationType="Event"`` with 202 and does not run the code; the invoke requests are
  recorded from the real boto3 client's ``provide-client-params`` event.
* Invoke *failures followed by success*, and a non-202 status, come from a ``botocore.stub.Stubber`` on
  a real Lambda client (moto cannot fail on demand). Exhausted retries use moto for real: the target
  function does not exist, so every invoke gets ``ResourceNotFoundException``.
* Lock contention uses moto in-process with DynamoDB writes serialised (see ``serialised_dynamodb``):
  moto's check-then-write is not atomic under threads, while DynamoDB's conditional writes are.
"""

from __future__ import annotations

import io
import json
import queue
import re
import sys
import threading
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from sage_worker import handler as worker
from sage_worker.lock import DistributedLock, LockHeld
from sage_worker.orchestrator import Execution, Orchestrator, RetryPolicy, SqsQueue
from sage_worker.processor import MalformedCSVError, process_csv_files
from sage_worker.storage import (
    LocalStorage,
    S3Storage,
    StorageAdapter,
    UnsafeNameError,
    storage_from_config,
    validate_name,
)

REGION = "us-east-1"
BUCKET = "sage-executions"
TABLE = "sage_execution_locks"
FUNCTION = "sage-file-processor"
CONTENTION_THREADS = 20
CONTENTION_TRIALS = 100
WORKER_ROOT = Path(__file__).resolve().parents[2] / "handlers" / "worker"

UNSAFE_NAMES = [
    "..",
    ".",
    "../escape",
    "a/../../b",
    "a/b",
    "a\\b",
    "..\\escape",
    "/etc/passwd",
    "C:\\Windows",
    "",
    "nul\x00byte",
    "x" * 256,
    ".hidden",
    "space name",
    "ünïcode",
]


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch, tmp_path):
    """Fake credentials and region; no real AWS config file can leak in."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws():
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def dynamodb(aws):
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "execution_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "execution_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


class FakeClock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


def lock_item(client, execution_id):
    key = {"execution_id": {"S": execution_id}}
    return client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")


def s3_keys(client, prefix=""):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


# ------------------------------------------------------------------------------------------ storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> StorageAdapter:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    return S3Storage(BUCKET, client=request.getfixturevalue("s3"))


ALL_BYTES = bytes(range(256)) * 4


def test_storage_round_trip_binary_and_sorted_listing(storage):
    storage.write_file("run-1", "b.bin", ALL_BYTES)
    storage.write_file("run-1", "a.csv", b"x,y\n1,2\n")
    storage.write_file("run-1", "empty", b"")
    storage.write_file("run-1", "a.csv", b"replaced")

    assert storage.read_file("run-1", "b.bin") == ALL_BYTES
    assert storage.read_file("run-1", "a.csv") == b"replaced"
    assert storage.read_file("run-1", "empty") == b""
    assert storage.list_files("run-1") == ["a.csv", "b.bin", "empty"]
    assert storage.list_files("never-written") == []
    with pytest.raises(FileNotFoundError):
        storage.read_file("run-1", "missing.txt")


def test_storage_listing_stops_at_the_execution_boundary(storage):
    storage.write_file("run-1", "mine.txt", b"1")
    storage.write_file("run-10", "other.txt", b"10")
    storage.write_file("run-1.old", "older.txt", b"old")
    storage.write_file("run", "parent.txt", b"p")

    assert storage.list_files("run-1") == ["mine.txt"]
    assert storage.list_files("run-10") == ["other.txt"]
    assert storage.list_files("run") == ["parent.txt"]


def test_s3_keys_follow_the_prefix_and_nested_keys_are_not_listed(s3):
    storage = S3Storage(BUCKET, prefix="sage/executions", client=s3)
    storage.write_file("run-1", "out.csv", b"data")
    s3.put_object(Bucket=BUCKET, Key="sage/executions/run-1/nested/deep.txt", Body=b"n")
    s3.put_object(Bucket=BUCKET, Key="executions/run-1/default-prefix.txt", Body=b"d")

    assert s3.get_object(Bucket=BUCKET, Key="sage/executions/run-1/out.csv")["Body"].read() == b"data"
    assert storage.list_files("run-1") == ["out.csv"]


def test_s3_listing_pages_past_1000_keys(s3):
    storage = S3Storage(BUCKET, client=s3)
    names = [f"part-{i:04d}.csv" for i in range(1005)]
    for name in names:
        s3.put_object(Bucket=BUCKET, Key=f"executions/big/{name}", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="executions/big2/not-mine.csv", Body=b"")
    pages: list[int] = []
    s3.meta.events.register("after-call.s3.ListObjectsV2", lambda **kw: pages.append(1))

    assert storage.list_files("big") == names
    assert len(pages) >= 2


@pytest.mark.parametrize("bad", UNSAFE_NAMES, ids=repr)
def test_storage_rejects_unsafe_names_without_touching_anything(storage, bad, tmp_path):
    with pytest.raises(UnsafeNameError):
        storage.write_file("run-1", bad, b"x")
    with pytest.raises(UnsafeNameError):
        storage.read_file("run-1", bad)
    with pytest.raises(UnsafeNameError):
        storage.write_file(bad, "file.txt", b"x")
    with pytest.raises(UnsafeNameError):
        storage.read_file(bad, "file.txt")
    with pytest.raises(UnsafeNameError):
        storage.list_files(bad)
    assert issubclass(UnsafeNameError, ValueError)

    if isinstance(storage, S3Storage):
        assert s3_keys(storage.client) == []
    else:
        assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "must not be empty"),
        ("x" * 256, "256 characters long; the maximum is 255"),
        ("a\x00", "NUL"),
        ("../up", "not a path"),
        ("/abs", "not a path"),
        ("a\\b", "not a path"),
        ("..", "must not contain '..'"),
        ("a..b", "must not contain '..'"),
        ("a b", "letters, digits"),
        (7, "must be a string"),
    ],
)
def test_unsafe_names_get_a_clear_message(bad, message):
    with pytest.raises(UnsafeNameError, match=re.escape(message)):
        validate_name(bad, "file_name")


def test_storage_accepts_the_longest_allowed_name(storage):
    name = "x" * 255
    storage.write_file(name, name, b"ok")
    assert storage.list_files(name) == [name]


def test_local_storage_refuses_a_symlink_that_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "run-evil").symlink_to(outside, target_is_directory=True)
    storage = LocalStorage(root)

    with pytest.raises(UnsafeNameError, match="outside the storage root"):
        storage.write_file("run-evil", "payload.txt", b"x")
    assert list(outside.iterdir()) == []


def test_storage_factory_reads_config_then_environment(tmp_path, s3):
    env = {"SAGE_S3_BUCKET": BUCKET, "SAGE_S3_PREFIX": "custom/"}
    from_env = storage_from_config({}, env, s3_client=s3)
    assert isinstance(from_env, S3Storage)
    assert (from_env.bucket, from_env.prefix) == (BUCKET, "custom/")

    local = storage_from_config({"backend": "local", "local_path": str(tmp_path / "x")}, env)
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "x").resolve()
    assert isinstance(storage_from_config({"use_s3": False, "local_path": str(tmp_path)}, {}), LocalStorage)
    assert isinstance(storage_from_config({}, {"SAGE_LOCAL_PATH": str(tmp_path)}), LocalStorage)

    with pytest.raises(ValueError, match="needs s3_bucket"):
        storage_from_config({"backend": "s3"}, {})
    with pytest.raises(ValueError, match="unknown storage backend"):
        storage_from_config({"backend": "ftp"}, {})


# --------------------------------------------------------------------------------------------- lock


def test_acquire_writes_owner_and_expiry_and_blocks_a_second_owner(dynamodb, clock):
    lock = DistributedLock(TABLE, ttl_seconds=60, client=dynamodb, clock=clock)

    acquired, owner = lock.acquire("run-1")
    assert acquired and owner
    item = lock_item(dynamodb, "run-1")
    assert item["owner_id"] == {"S": owner}
    assert int(item["expiration_time"]["N"]) == int(clock.now) + 60

    assert lock.acquire("run-1") == (False, None)
    assert lock.acquire("run-1", owner_id="someone-else") == (False, None)
    assert lock.acquire("run-2", owner_id="me") == (True, "me")


def test_expired_lock_is_taken_over(dynamodb, clock):
    lock = DistributedLock(TABLE, ttl_seconds=60, client=dynamodb, clock=clock)
    assert lock.acquire("run-1", "first") == (True, "first")

    clock.now += 60  # expiration_time == now: still live
    assert lock.acquire("run-1", "second") == (False, None)

    clock.now += 1  # past expiry; the TTL sweeper has not deleted the item (moto never does)
    assert lock.acquire("run-1", "second") == (True, "second")
    assert lock_item(dynamodb, "run-1")["owner_id"] == {"S": "second"}

    # The previous owner can neither refresh nor release what was taken over.
    assert lock.refresh("run-1", "first") is False
    assert lock.release("run-1", "first") is False
    assert lock_item(dynamodb, "run-1")["owner_id"] == {"S": "second"}


def test_release_only_by_the_owner(dynamodb, clock):
    lock = DistributedLock(TABLE, client=dynamodb, clock=clock)
    _, owner = lock.acquire("run-1")

    assert lock.release("run-1", "intruder") is False
    assert lock_item(dynamodb, "run-1") is not None
    assert lock.release("run-1", owner) is True
    assert lock_item(dynamodb, "run-1") is None
    assert lock.release("run-1", owner) is False
    assert lock.acquire("run-1")[0] is True


def test_refresh_only_by_the_owner_and_only_while_live(dynamodb, clock):
    lock = DistributedLock(TABLE, ttl_seconds=60, client=dynamodb, clock=clock)
    _, owner = lock.acquire("run-1")
    start = int(clock.now)

    clock.now += 30
    assert lock.refresh("run-1", "intruder") is False
    assert int(lock_item(dynamodb, "run-1")["expiration_time"]["N"]) == start + 60
    assert lock.refresh("run-1", owner) is True
    assert int(lock_item(dynamodb, "run-1")["expiration_time"]["N"]) == start + 30 + 60

    clock.now += 91  # expired: a refresh must not resurrect it
    assert lock.refresh("run-1", owner) is False
    assert int(lock_item(dynamodb, "run-1")["expiration_time"]["N"]) == start + 90
    assert lock.refresh("run-unknown", owner) is False


def test_hold_releases_on_exception_and_raises_when_held(dynamodb, clock):
    lock = DistributedLock(TABLE, client=dynamodb, clock=clock)

    with pytest.raises(RuntimeError, match="boom"):
        with lock.hold("run-1") as owner:
            assert lock_item(dynamodb, "run-1")["owner_id"] == {"S": owner}
            raise RuntimeError("boom")
    assert lock_item(dynamodb, "run-1") is None

    _, other = lock.acquire("run-1", "other")
    with pytest.raises(LockHeld) as excinfo:
        with lock.hold("run-1"):
            pytest.fail("the body must not run without the lock")
    assert excinfo.value.execution_id == "run-1"
    assert lock_item(dynamodb, "run-1")["owner_id"] == {"S": "other"}

    lock.release("run-1", other)
    with lock.hold("run-1", owner_id="mine") as owner:
        assert owner == "mine"
    assert lock_item(dynamodb, "run-1") is None


@pytest.fixture
def serialised_dynamodb(monkeypatch):
    """Make moto's DynamoDB item writes atomic, as DynamoDB's are.

    moto evaluates a ConditionExpression and then stores the item without any lock. Measured with
    ``sys.setswitchinterval(1e-6)`` and this lock, 13 of 100 trials had several winners in-process and
    10 of 100 against a (threaded) ``moto_server`` subprocess; a single-threaded server was correct but
    twice as slow. Serialising the backend's write methods restores the guarantee the lock relies on,
    while the 20 client threads still race through boto3 concurrently: with the gate, a lock that reads
    and then writes (check outside DynamoDB) fails the test below, and an unconditional put always does.
    """
    from moto.dynamodb.models import DynamoDBBackend

    gate = threading.Lock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def serialised(self, *args, __original=original, **kwargs):
            with gate:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)


@pytest.mark.slow
def test_lock_contention_exactly_one_winner_per_trial(dynamodb, serialised_dynamodb):
    """100 trials, each a fresh execution id raced by 20 threads released together by a barrier."""
    threads_per_trial, trials = CONTENTION_THREADS, CONTENTION_TRIALS
    config = Config(max_pool_connections=threads_per_trial)
    client = boto3.client("dynamodb", region_name=REGION, config=config)
    lock = DistributedLock(TABLE, client=client)
    winners = [[None] * threads_per_trial for _ in range(trials)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_per_trial)

    def contender(index: int) -> None:
        try:
            for trial in range(trials):
                barrier.wait(timeout=30)
                acquired, owner = lock.acquire(f"contended-{trial}", owner_id=f"owner-{index}")
                winners[trial][index] = owner if acquired else None
        except BaseException as error:  # surfaced below; a dead thread would break the barrier
            errors.append(error)
            barrier.abort()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # interleave the threads far more often than the 5 ms default
    started = time.monotonic()
    try:
        pool = [threading.Thread(target=contender, args=(i,)) for i in range(threads_per_trial)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    elapsed = time.monotonic() - started
    print(f"lock contention: {trials} trials x {threads_per_trial} threads in {elapsed:.1f} s")

    assert errors == []
    several_or_none = {
        trial: [owner for owner in row if owner]
        for trial, row in enumerate(winners)
        if sum(owner is not None for owner in row) != 1
    }
    assert several_or_none == {}
    for trial in (0, trials - 1):
        owner = next(o for o in winners[trial] if o)
        assert lock_item(dynamodb, f"contended-{trial}")["owner_id"] == {"S": owner}


# ------------------------------------------------------------------------------------- orchestrator


def worker_zip() -> bytes:
    """The worker package as Lambda would receive it (handlers/worker is the zip root)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((WORKER_ROOT / "sage_worker").glob("*.py")):
            archive.write(path, path.relative_to(WORKER_ROOT).as_posix())
    return buffer.getvalue()


@pytest.fixture
def lambda_client(aws):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="sage-worker",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=role,
        Handler="sage_worker.handler.handler",
        Code={"ZipFile": worker_zip()},
    )
    return client


def record_invokes(client) -> list[dict]:
    """Record the parameters of every Invoke the (real) client sends."""
    calls: list[dict] = []
    client.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: calls.append(dict(params))
    )
    return calls


def executions(*ids: str) -> list[dict]:
    return [
        {
            "id": execution_id,
            "yaml_config": f"name: {execution_id}\n",
            "input_files": [{"source_execution_id": "upload-1", "filename": "data.csv"}],
        }
        for execution_id in ids
    ]


class BlockingRunner:
    """A local runner that records its executions and blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran: list[str] = []

    def __call__(self, execution: Execution) -> str:
        self.ran.append(execution.execution_id)
        assert self.release.wait(10)
        return f"done {execution.execution_id}"


def metric_sum(cloudwatch, name: str) -> float:
    now = datetime.now(timezone.utc)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="SAGE",
        MetricName=name,
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


def test_spill_over_runs_three_locally_and_invokes_the_rest_asynchronously(lambda_client):
    calls = record_invokes(lambda_client)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    runner = BlockingRunner()
    orchestrator = Orchestrator(runner, lambda_client, function_name=FUNCTION, cloudwatch_client=cloudwatch)
    try:
        result = orchestrator.process_queue(executions("e1", "e2", "e3", "e4", "e5"))

        assert result.local == ["e1", "e2", "e3"]
        assert result.invoked == result.lambda_ == ["e4", "e5"]
        assert result.requeued == []
        assert orchestrator.in_flight == 3
        assert [call["InvocationType"] for call in calls] == ["Event", "Event"]
        assert {call["FunctionName"] for call in calls} == {FUNCTION}
        payloads = [json.loads(call["Payload"]) for call in calls]
        assert payloads[0] == {
            "execution_id": "e4",
            "yaml_config": "name: e4\n",
            "input_files": [{"source_execution_id": "upload-1", "filename": "data.csv"}],
        }
        # What the orchestrator sends is exactly what the worker accepts.
        assert [worker.parse_event(p).execution_id for p in payloads] == ["e4", "e5"]

        # While the three local runs are in flight, new work goes straight to Lambda.
        assert orchestrator.process_queue(executions("e6")).invoked == ["e6"]

        runner.release.set()
        orchestrator.wait_local(timeout=10)
        assert orchestrator.in_flight == 0
        assert result.local_futures["e2"].result() == "done e2"
        assert orchestrator.process_queue(executions("e7")).local == ["e7"]
        orchestrator.wait_local(timeout=10)
        assert sorted(runner.ran) == ["e1", "e2", "e3", "e7"]
        assert len(calls) == 3
    finally:
        runner.release.set()
        orchestrator.shutdown()

    assert metric_sum(cloudwatch, "LocalExecutions") == 4
    assert metric_sum(cloudwatch, "LambdaExecutions") == 3
    assert metric_sum(cloudwatch, "RequeuedExecutions") == 0


def test_invalid_item_raises_before_anything_is_dispatched(lambda_client):
    calls = record_invokes(lambda_client)
    runner = BlockingRunner()
    runner.release.set()
    orchestrator = Orchestrator(runner, lambda_client, max_local_executions=1)
    try:
        with pytest.raises(ValueError, match="execution_id"):
            orchestrator.process_queue(executions("ok-1", "ok-2") + [{"id": "../escape", "yaml_config": ""}])
    finally:
        orchestrator.shutdown()
    assert runner.ran == [] and calls == []


def test_failed_invokes_are_retried_with_exponential_backoff():
    client = boto3.client("lambda", region_name=REGION)
    sleeps: list[float] = []
    e4_payload = Execution.from_value(executions("e4")[0]).payload()
    expected = {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": e4_payload}
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, expected)  # e4: first try
        stub.add_client_error("invoke", "TooManyRequestsException", "Rate exceeded", 429)  # e5 x2
        stub.add_client_error("invoke", "ServiceException", "Internal", 500)
        stub.add_response("invoke", {"StatusCode": 202})
        orchestrator = Orchestrator(
            lambda _: None,
            client,
            function_name=FUNCTION,
            max_local_executions=0,
            retry=RetryPolicy(max_attempts=3, base_delay_seconds=0.25),
            sleep=sleeps.append,
        )
        result = orchestrator.process_queue(executions("e4", "e5"))
        stub.assert_no_pending_responses()
    orchestrator.shutdown()

    assert result.invoked == ["e4", "e5"] and result.requeued == []
    assert sleeps == [0.25, 0.5]


def test_a_non_202_status_counts_as_a_failed_invoke():
    client = boto3.client("lambda", region_name=REGION)
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 200})
        stub.add_response("invoke", {"StatusCode": 202})
        orchestrator = Orchestrator(lambda _: None, client, max_local_executions=0, sleep=sleeps.append)
        result = orchestrator.process_queue(executions("e1"))
        stub.assert_no_pending_responses()
    orchestrator.shutdown()
    assert result.invoked == ["e1"]
    assert sleeps == [1.0]


def test_exhausted_retries_requeue_instead_of_dropping():
    # moto's default Lambda backend answers ResourceNotFoundException for an unknown function (the
    # docker-free backend used elsewhere accepts any name), so no docker is needed here.
    with mock_aws():
        client = boto3.client("lambda", region_name=REGION)
        calls = record_invokes(client)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        sleeps: list[float] = []
        pending: queue.Queue = queue.Queue()
        orchestrator = Orchestrator(
            lambda _: None,
            client,
            function_name="missing-function",
            max_local_executions=0,
            retry=RetryPolicy(max_attempts=4, base_delay_seconds=0.5),
            cloudwatch_client=cloudwatch,
            sleep=sleeps.append,
        )
        result = orchestrator.process_queue(executions("e1", "e2"), requeue=pending)
        orchestrator.shutdown()

        assert result.invoked == [] and result.local == []
        assert result.requeued == ["e1", "e2"]
        assert [e.execution_id for e in result.requeued_executions] == ["e1", "e2"]
        assert [pending.get_nowait().execution_id for _ in range(2)] == ["e1", "e2"]
        assert pending.empty()
        assert len(calls) == 8
        assert sleeps == [0.5, 1.0, 2.0] * 2
        assert metric_sum(cloudwatch, "RequeuedExecutions") == 2
        assert metric_sum(cloudwatch, "LambdaExecutions") == 0


def test_exhausted_retries_requeue_onto_sqs():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="sage-pending")["QueueUrl"]
        failing = boto3.client("lambda", region_name=REGION)  # no function: ResourceNotFoundException
        options = {"function_name": "missing-function", "max_local_executions": 0, "sleep": lambda _: None}
        orchestrator = Orchestrator(lambda _: None, failing, **options)
        result = orchestrator.process_queue(executions("e1", "e2"), requeue=SqsQueue(queue_url, client=sqs))
        orchestrator.shutdown()

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        back = [Execution.from_value(json.loads(message["Body"])) for message in messages]
        assert sorted(e.execution_id for e in back) == result.requeued == ["e1", "e2"]
        assert back[0] in result.requeued_executions
        assert result.requeue_failed == []

        # A queue that cannot take the item either: still reported, still returned, nothing raised.
        broken = Orchestrator(lambda _: None, failing, **options)
        lost_queue = SqsQueue(queue_url.replace("sage-pending", "no-such-queue"), client=sqs)
        result = broken.process_queue(executions("e3"), requeue=lost_queue)
        broken.shutdown()
        assert result.requeue_failed == ["e3"]
        assert [e.execution_id for e in result.requeued_executions] == ["e3"]


# ------------------------------------------------------------------------------------------- handler


@pytest.fixture
def worker_env(monkeypatch, s3, dynamodb):
    monkeypatch.setenv("SAGE_S3_BUCKET", BUCKET)
    monkeypatch.setenv("SAGE_LOCK_TABLE", TABLE)
    monkeypatch.delenv("SAGE_S3_PREFIX", raising=False)
    monkeypatch.delenv("SAGE_PROCESSOR", raising=False)
    worker.dependencies.cache_clear()
    yield SimpleNamespace(s3=s3, dynamodb=dynamodb)
    worker.dependencies.cache_clear()


CONTEXT = SimpleNamespace(aws_request_id="req-123")


def event(execution_id="run-2", *inputs: tuple[str, str], yaml_config="steps: [normalise]\n") -> dict:
    return {
        "execution_id": execution_id,
        "yaml_config": yaml_config,
        "input_files": [{"source_execution_id": src, "filename": name} for src, name in inputs],
    }


def test_handler_processes_csv_inputs_and_uploads_outputs(worker_env, capsys):
    s3 = worker_env.s3
    people = b" name , age \n alice , 30\nbob,4 \n"
    s3.put_object(Bucket=BUCKET, Key="executions/run-1/people.csv", Body=people)
    s3.put_object(Bucket=BUCKET, Key="executions/run-1/cities.csv", Body=b"city\nLima\n")

    response = worker.handler(event("run-2", ("run-1", "people.csv"), ("run-1", "cities.csv")), CONTEXT)

    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["status"] == "success" and body["execution_id"] == "run-2"
    assert body["result"]["total_rows"] == 3
    assert body["result"]["files"]["people.csv"]["rows"] == 2
    assert s3_keys(s3, "executions/run-2/") == [
        "executions/run-2/log.txt",
        "executions/run-2/output_cities.csv",
        "executions/run-2/output_people.csv",
    ]
    output = s3.get_object(Bucket=BUCKET, Key="executions/run-2/output_people.csv")["Body"].read()
    assert output == b"NAME,AGE\nalice,30\nbob,4\n"
    log = s3.get_object(Bucket=BUCKET, Key="executions/run-2/log.txt")["Body"].read().decode()
    assert "people.csv: 2 rows" in log and "total rows: 3" in log
    assert lock_item(worker_env.dynamodb, "run-2") is None

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    done = [r for r in records if r["message"] == "execution succeeded"]
    assert done and done[0]["execution_id"] == "run-2" and done[0]["request_id"] == "req-123"
    assert done[0]["level"] == "INFO" and done[0]["logger"] == "sage_worker.handler"


def test_handler_failure_writes_error_log_and_hides_the_traceback(worker_env):
    s3 = worker_env.s3
    s3.put_object(Bucket=BUCKET, Key="executions/run-1/ragged.csv", Body=b"a,b\n1,2\n3\n")

    response = worker.handler(event("run-3", ("run-1", "ragged.csv")), CONTEXT)

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["execution_id"] == "run-3" and body["status"] == "error"
    assert "Traceback" not in response["body"]
    assert "MalformedCSVError" not in response["body"] and "ragged" not in response["body"]
    assert s3_keys(s3, "executions/run-3/") == ["executions/run-3/error.log"]
    error_log = s3.get_object(Bucket=BUCKET, Key="executions/run-3/error.log")["Body"].read().decode()
    assert "Traceback" in error_log
    assert "MalformedCSVError: ragged.csv: line 3 has 1 cells, the header has 2" in error_log
    assert lock_item(worker_env.dynamodb, "run-3") is None


def test_handler_answers_409_and_leaves_a_held_lock_alone(worker_env):
    worker_env.s3.put_object(Bucket=BUCKET, Key="executions/run-1/data.csv", Body=b"a\n1\n")
    holder = DistributedLock(TABLE, client=worker_env.dynamodb)
    assert holder.acquire("run-4", "daemon")[0]

    response = worker.handler(event("run-4", ("run-1", "data.csv")), CONTEXT)

    assert response["statusCode"] == 409
    assert json.loads(response["body"])["execution_id"] == "run-4"
    assert s3_keys(worker_env.s3, "executions/run-4/") == []
    assert lock_item(worker_env.dynamodb, "run-4")["owner_id"] == {"S": "daemon"}


@pytest.mark.parametrize(
    ("bad_event", "reason"),
    [
        (["not", "an", "object"], "JSON object"),
        ({"execution_id": "run-5", "yaml_config": ""}, "missing field(s): input_files"),
        (event("../run-5"), "execution_id"),
        (event("run/5"), "execution_id"),
        ({**event("run-5"), "yaml_config": {"steps": []}}, "yaml_config must be a string"),
        ({**event("run-5"), "input_files": "data.csv"}, "input_files must be a list"),
        ({**event("run-5"), "input_files": ["data.csv"]}, "input_files[0] must be an object"),
        (event("run-5", ("run-1", "../../secrets")), "input_files[0].filename"),
        (event("run-5", ("/abs", "data.csv")), "input_files[0].source_execution_id"),
        ({**event("run-5"), "input_files": [{"filename": "data.csv"}]}, "input_files[0].source_execution_id"),
        (event("run-5", ("run-1", "a.csv"), ("run-0", "a.csv")), "appears twice"),
        (event("run-5", ("run-1", "config.yaml")), "reserved"),
    ],
)
def test_handler_rejects_invalid_events_with_400(worker_env, bad_event, reason):
    response = worker.handler(bad_event, CONTEXT)

    assert response["statusCode"] == 400
    assert reason in json.loads(response["body"])["error"]
    assert worker_env.dynamodb.scan(TableName=TABLE)["Count"] == 0
    assert s3_keys(worker_env.s3) == []


def test_handler_missing_input_answers_404_and_releases_the_lock(worker_env):
    response = worker.handler(event("run-6", ("run-1", "absent.csv")), CONTEXT)

    assert response["statusCode"] == 404
    assert "run-1/absent.csv" in json.loads(response["body"])["error"]
    assert s3_keys(worker_env.s3, "executions/run-6/") == ["executions/run-6/error.log"]
    assert lock_item(worker_env.dynamodb, "run-6") is None


def test_handler_loads_a_pluggable_processor_and_uploads_only_output_and_log_files(
    worker_env, monkeypatch, tmp_path
):
    plugin = tmp_path / "plugins"
    plugin.mkdir()
    (plugin / "sage_test_plugin.py").write_text(
        "from pathlib import Path\n"
        "def run(execution_dir, config_text):\n"
        "    assert (Path(execution_dir) / 'config.yaml').read_text() == config_text\n"
        "    data = (Path(execution_dir) / 'blob.bin').read_bytes()\n"
        "    (Path(execution_dir) / 'output.bin').write_bytes(data[::-1])\n"
        "    (Path(execution_dir) / 'logbook.txt').write_text('ok')\n"
        "    (Path(execution_dir) / 'scratch.tmp').write_text('not uploaded')\n"
        "    return {'bytes': len(data), 'config': config_text}\n"
    )
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setenv("SAGE_PROCESSOR", "sage_test_plugin:run")
    monkeypatch.setenv("SAGE_S3_PREFIX", "tenant-a/")
    worker_env.s3.put_object(Bucket=BUCKET, Key="tenant-a/run-1/blob.bin", Body=ALL_BYTES)

    response = worker.handler(event("run-7", ("run-1", "blob.bin"), yaml_config="mode: reverse\n"), CONTEXT)

    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["result"] == {"bytes": 1024, "config": "mode: reverse\n"}
    assert s3_keys(worker_env.s3, "tenant-a/run-7/") == [
        "tenant-a/run-7/logbook.txt",
        "tenant-a/run-7/output.bin",
    ]
    reversed_blob = worker_env.s3.get_object(Bucket=BUCKET, Key="tenant-a/run-7/output.bin")["Body"].read()
    assert reversed_blob == ALL_BYTES[::-1]


@pytest.mark.parametrize(
    ("env", "value"),
    [("SAGE_LOCK_TABLE", None), ("SAGE_PROCESSOR", "no_such_module:run"), ("SAGE_PROCESSOR", "json")],
)
def test_handler_misconfiguration_answers_500_without_raising(worker_env, monkeypatch, env, value):
    if value is None:
        monkeypatch.delenv(env)
    else:
        monkeypatch.setenv(env, value)

    response = worker.handler(event("run-8"), CONTEXT)

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body == {"status": "error", "execution_id": "run-8", "error": "worker misconfigured"}


# ----------------------------------------------------------------------------------------- processor


def test_example_processor_rejects_empty_and_ragged_csv(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(MalformedCSVError, match="empty.csv: the file is empty"):
        process_csv_files(tmp_path, "")
    (tmp_path / "empty.csv").unlink()
    (tmp_path / "wide.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(MalformedCSVError, match="wide.csv: line 2 has 3 cells"):
        process_csv_files(tmp_path, "")
    assert not (tmp_path / "output_wide.csv").exists()
