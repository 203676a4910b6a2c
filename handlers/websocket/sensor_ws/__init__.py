"""WebSocket sensor backend: API Gateway WebSocket routes backed by DynamoDB and an analysis agent.

Entry points (Lambda handler strings):

- ``sensor_ws.connect.handler`` for ``$connect``: records the connection with a TTL.
- ``sensor_ws.disconnect.handler`` for ``$disconnect``: forgets the connection.
- ``sensor_ws.message.handler`` for the ``sensor-data`` route: validates a reading, stores it with a TTL,
  aggregates this connection's recent readings, asks the analysis backend to describe them and posts the
  description back on the socket.

The package imports only the standard library, boto3/botocore (both present in the Lambda runtime) and
lambdaform_kit, which lambdaform copies into the zip.
"""
