"""``buckets:`` S3 buckets: public access blocked, KMS, TLS-only, versioning and upload clean-up by default.

.. code-block:: yaml

    buckets:
      executions: {expire_after_days: {"executions/": 30}}

Functions get access with ``access: [{bucket: executions, prefix: "executions/", mode: read}]`` (objects
under the prefix, and listing limited to it) and refer to it as ``${buckets.executions.name}`` / ``.arn``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from lambdaform.fields import Strict
from lambdaform.kinds.base import Composer, Kind
from lambdaform.names import output, physical, tf_name


class Bucket(Strict):
    """An S3 bucket: public access blocked, KMS encryption, TLS-only policy, versioning and clean-up of
    abandoned multipart uploads on by default."""

    versioning: bool = True
    encryption: Literal["AES256", "aws:kms"] = Field(
        default="aws:kms", description="aws:kms (AWS managed key, bucket key on) by default; AES256 for S3-managed keys."
    )
    expire_after_days: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!_.*'()/-]*$")],
                            Annotated[int, Field(ge=1, le=36500)]] = Field(
        default_factory=dict, description="Key prefix -> days after which objects are deleted."
    )
    force_destroy: bool = Field(default=False, description="Allow destroying a bucket that still holds objects.")


class Buckets(Kind):
    key = "buckets"
    model = Bucket
    phase = "resources"
    access_key = "bucket"
    access_prefix = True
    references = ("name", "arn")

    def compose(self, stack: Composer) -> None:
        from lambdaform.constructs.s3_bucket import Bucket as BucketConstruct
        from lambdaform.constructs.s3_bucket import BucketProps

        key_arn = stack.key.key_arn if stack.key else None
        for key, spec in self.items(stack.service).items():
            bucket = BucketConstruct(stack, tf_name(key, "bucket"), BucketProps(
                name=physical(stack.service.project, stack.env, key), versioning=spec.versioning,
                encryption=spec.encryption, expire_after_days=dict(spec.expire_after_days),
                force_destroy=spec.force_destroy, kms_key_arn=key_arn,
            ))
            stack.add_resource(self.key, key, bucket)
            stack.output(output(key, "bucket_name"), bucket.bucket_name, f"S3 bucket '{key}'")


KIND = Buckets()
