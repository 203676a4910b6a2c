"""Run executions locally up to a limit and spill the rest to the worker Lambda.

This part runs in the SAGE daemon (not in Lambda). Local runs execute on a thread pool of
``max_local_executions`` threads; the orchestrator counts runs still in flight across calls, so a
second :meth:`Orchestrator.process_queue` while three local runs are busy sends everything to Lambda.

A spilled execution is invoked asynchronously (``InvocationType="Event"``). An invoke that raises a
botocore error or answers a status other than 202 is retried with exponential backoff; once the
attempts are used up the execution is *re-queued* (returned in :attr:`QueueResult.requeued` and, if a
queue was given, ``put`` back on it), never dropped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from lambdaform_kit.logs import get_logger

from .storage import validate_name

logger = get_logger(__name__)

DEFAULT_FUNCTION_NAME = "sage-file-processor"
METRIC_NAMESPACE = "SAGE"


@dataclass(frozen=True)
class Execution:
    """One unit of work: what the worker Lambda receives as its event (see ``handler.py``)."""

    execution_id: str
    yaml_config: str
    input_files: tuple[Mapping[str, str], ...] = ()

    @classmethod
    def from_value(cls, value: Execution | Mapping[str, Any]) -> Execution:
        """Accept an :class:`Execution` or a mapping with ``id``/``execution_id``, ``yaml_config``,
        ``input_files`` (the seed's queue format)."""
        if isinstance(value, Execution):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"an execution must be a mapping, got {type(value).__name__}")
        execution_id = value.get("execution_id", value.get("id"))
        validate_name(execution_id, "execution_id")
        yaml_config = value.get("yaml_config", "")
        if not isinstance(yaml_config, str):
            raise ValueError(f"execution {execution_id}: yaml_config must be a string")
        input_files = value.get("input_files") or ()
        if not isinstance(input_files, (list, tuple)):
            raise ValueError(f"execution {execution_id}: input_files must be a list")
        return cls(execution_id, yaml_config, tuple(dict(item) for item in input_files))

    def payload(self) -> bytes:
        """The worker Lambda's event, as JSON bytes."""
        return json.dumps(
            {
                "execution_id": self.execution_id,
                "yaml_config": self.yaml_config,
                "input_files": [dict(item) for item in self.input_files],
            }
        ).encode("utf-8")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for failed invokes.

    ``max_attempts`` (default 3) counts the first try. Before retry ``n`` (1-based) the orchestrator
    sleeps ``base_delay_seconds * factor ** (n - 1)``: 1 s, then 2 s with the defaults.
    """

    max_attempts: int = 3
    base_delay_seconds: float = 1.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds < 0 or self.factor < 1:
            raise ValueError("base_delay_seconds must be >= 0 and factor >= 1")

    def delay_before_retry(self, retry_number: int) -> float:
        return self.base_delay_seconds * self.factor ** (retry_number - 1)


class _Queue(Protocol):
    def put(self, item: Any) -> None: ...


class SqsQueue:
    """A re-queue target on SQS: ``put(execution)`` sends the worker event JSON as the message body.

    A consumer turns a message back into work with ``Execution.from_value(json.loads(body))``.
    ``client`` defaults to ``boto3.client("sqs")``.
    """

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client if client is not None else boto3.client("sqs")

    def put(self, execution: Execution) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=execution.payload().decode("utf-8"))


@dataclass
class QueueResult:
    """Where each execution of one :meth:`Orchestrator.process_queue` call went (ids in queue order).

    ``requeued_executions`` holds the full items that were not handed off; ``requeue_failed`` lists
    those that could not be put on the given queue either (the caller still has them here).
    """

    local: list[str] = field(default_factory=list)
    invoked: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    requeued_executions: list[Execution] = field(default_factory=list)
    requeue_failed: list[str] = field(default_factory=list)
    local_futures: dict[str, Future] = field(default_factory=dict)

    @property
    def lambda_(self) -> list[str]:
        """Alias of :attr:`invoked`: the ids handed to the worker Lambda."""
        return self.invoked


class Orchestrator:
    """Decide local vs. Lambda per execution.

    * ``local_runner(execution)`` runs one execution on this machine (called on a worker thread).
    * ``max_local_executions`` (default 3) caps the local runs in flight at any moment.
    * ``lambda_client`` must offer ``invoke``; ``function_name`` defaults to ``sage-file-processor``.
    * ``cloudwatch_client`` (optional) receives ``put_metric_data`` in namespace ``SAGE`` with
      ``LocalExecutions``, ``LambdaExecutions`` and ``RequeuedExecutions`` counts per call; without it
      no metrics are sent. A metrics failure is logged and never affects dispatch.
    * ``sleep`` defaults to ``time.sleep``; tests inject a recorder.
    """

    def __init__(
        self,
        local_runner: Callable[[Execution], Any],
        lambda_client: Any,
        *,
        function_name: str = DEFAULT_FUNCTION_NAME,
        max_local_executions: int = 3,
        retry: RetryPolicy | None = None,
        cloudwatch_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_local_executions < 0:
            raise ValueError("max_local_executions must be >= 0")
        self.local_runner = local_runner
        self.lambda_client = lambda_client
        self.function_name = function_name
        self.max_local_executions = max_local_executions
        self.retry = retry or RetryPolicy()
        self.cloudwatch_client = cloudwatch_client
        self.sleep = sleep
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._pending: set[Future] = set()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, max_local_executions), thread_name_prefix="sage-local"
        )

    @property
    def in_flight(self) -> int:
        """Local runs started and not yet finished."""
        with self._in_flight_lock:
            return self._in_flight

    def process_queue(
        self,
        executions: Iterable[Execution | Mapping[str, Any]],
        requeue: _Queue | None = None,
    ) -> QueueResult:
        """Dispatch every execution: locally while a slot is free, else to Lambda, else re-queue.

        All items are validated before anything is dispatched, so a malformed item raises
        ``ValueError`` without side effects. Local runs are started, not awaited: see
        :attr:`QueueResult.local_futures` and :meth:`wait_local`.
        """
        batch = [Execution.from_value(item) for item in executions]
        result = QueueResult()
        for execution in batch:
            if self._try_start_local(execution, result):
                continue
            if self._invoke_with_retry(execution):
                result.invoked.append(execution.execution_id)
            else:
                result.requeued.append(execution.execution_id)
                result.requeued_executions.append(execution)
                if requeue is not None:
                    self._requeue(requeue, execution, result)
        logger.info(
            "queue dispatched",
            extra={
                "local": result.local,
                "invoked": result.invoked,
                "requeued": result.requeued,
                "in_flight": self.in_flight,
            },
        )
        self._put_metrics(result)
        return result

    def wait_local(self, timeout: float | None = None) -> None:
        """Block until the local runs started so far have finished (for shutdown and tests)."""
        with self._in_flight_lock:
            pending = list(self._pending)
        _done, not_done = wait_for_futures(pending, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} local executions still running")

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    def _try_start_local(self, execution: Execution, result: QueueResult) -> bool:
        with self._in_flight_lock:
            if self._in_flight >= self.max_local_executions:
                return False
            self._in_flight += 1
        try:
            future = self._pool.submit(self._run_local, execution)
        except BaseException:
            with self._in_flight_lock:
                self._in_flight -= 1
            raise
        with self._in_flight_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        result.local.append(execution.execution_id)
        result.local_futures[execution.execution_id] = future
        return True

    @staticmethod
    def _requeue(target: _Queue, execution: Execution, result: QueueResult) -> None:
        try:
            target.put(execution)
        except Exception:  # the execution stays in result.requeued_executions
            result.requeue_failed.append(execution.execution_id)
            logger.exception("could not re-queue", extra={"execution_id": execution.execution_id})

    def _forget(self, future: Future) -> None:
        with self._in_flight_lock:
            self._pending.discard(future)

    def _run_local(self, execution: Execution) -> Any:
        try:
            return self.local_runner(execution)
        except Exception:
            logger.exception("local execution failed", extra={"execution_id": execution.execution_id})
            raise
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _invoke_with_retry(self, execution: Execution) -> bool:
        payload = execution.payload()
        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                self.sleep(self.retry.delay_before_retry(attempt - 1))
            try:
                response = self.lambda_client.invoke(
                    FunctionName=self.function_name, InvocationType="Event", Payload=payload
                )
                status = response.get("StatusCode")
                if status == 202:
                    return True
                reason = f"StatusCode {status}"
            except (ClientError, BotoCoreError) as error:
                reason = f"{type(error).__name__}: {error}"
            logger.warning(
                "lambda invoke failed",
                extra={
                    "execution_id": execution.execution_id,
                    "attempt": attempt,
                    "max_attempts": self.retry.max_attempts,
                    "reason": reason,
                },
            )
        return False

    def _put_metrics(self, result: QueueResult) -> None:
        if self.cloudwatch_client is None:
            return
        counts = {
            "LocalExecutions": len(result.local),
            "LambdaExecutions": len(result.invoked),
            "RequeuedExecutions": len(result.requeued),
        }
        try:
            self.cloudwatch_client.put_metric_data(
                Namespace=METRIC_NAMESPACE,
                MetricData=[
                    {"MetricName": name, "Value": float(value), "Unit": "Count"}
                    for name, value in counts.items()
                ],
            )
        except (ClientError, BotoCoreError):
            logger.warning("could not put metrics", exc_info=True, extra={"counts": counts})
