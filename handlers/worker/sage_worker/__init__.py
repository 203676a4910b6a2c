"""SAGE worker: storage adapters, a DynamoDB lock, the local/Lambda orchestrator and the Lambda handler.

The Lambda entry point is ``sage_worker.handler.handler``. Everything here needs only the standard
library, boto3/botocore (which the Lambda Python runtime already provides) and lambdaform_kit, which
lambdaform copies into the zip.
"""
