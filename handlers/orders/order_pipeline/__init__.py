"""The order pipeline: one Lambda package, six entry points (examples/order-pipeline.yaml).

- ``order_pipeline.api.handler``: the HTTP API (payload 2.0): ``POST /orders`` and ``GET /orders/{id}``.
- ``order_pipeline.worker.handler``: the ``jobs`` queue; marks orders processed (partial batch responses).
- ``order_pipeline.uploads.handler``: CSV files put under ``incoming/`` in the ``uploads`` bucket become orders.
- ``order_pipeline.nightly.handler``: the nightly schedule; publishes order counts by status to ``alerts``.
- ``order_pipeline.audit.handler``: the ``orders`` table's stream; one log line per status change.
- ``order_pipeline.alerts.handler``: the ``alerts`` topic; one log line per alert.

Shared parts: :mod:`~order_pipeline.orders` (the order and its validation), :mod:`~order_pipeline.store`
(the table), :mod:`~order_pipeline.jobs` (the queue), :mod:`~order_pipeline.config` (environment).
Logging, boto3 clients and the last line of defence come from ``lambdaform_kit``, which lambdaform copies
into the zip. Standard library and boto3 only (the Lambda Python runtime provides boto3).
"""
