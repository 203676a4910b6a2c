"""NL2SQL question-answering API: a FastAPI app served on AWS Lambda through Mangum.

``nl2sql_api.app.create_app`` builds the ASGI app; ``nl2sql_api.lambda_handler.handler`` is the
Lambda entry point (the container image's CMD).
"""
