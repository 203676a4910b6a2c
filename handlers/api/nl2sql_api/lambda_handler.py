"""AWS Lambda entry point (the container image's CMD: ``nl2sql_api.lambda_handler.handler``).

Mangum adapts Lambda events (Function URL / API Gateway payload 2.0) to ASGI. The app is built
once per container, at import time. ``lifespan="off"``: the app has no startup/shutdown work.
"""

from __future__ import annotations

from mangum import Mangum

from .app import app

handler = Mangum(app, lifespan="off")
