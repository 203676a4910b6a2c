"""Where a zip is deployed from: the stack folder (``filename``) or, above Lambda's 50 MB direct-upload limit,
an object in the environment's artifact bucket."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.s3_object import S3Object
from constructs import Construct

from lambdaform.constructs._iam import named
from lambdaform.constructs.s3_bucket import Bucket, BucketProps


@dataclass(frozen=True)
class ZipLocation:
    """A zip built by lambdaform, as a function or layer version refers to it."""

    filename: str
    """Path relative to the stack folder, e.g. ``assets/api.zip``."""
    source_code_hash: str
    """Base64 SHA-256 of the zip bytes (what Lambda reports as CodeSha256)."""
    s3_bucket: str | None = None
    """Set when the zip is deployed from S3 (then ``filename`` is only the object's source)."""
    s3_key: str | None = None

    def code_arguments(self) -> dict[str, Any]:
        """``filename``, or ``s3_bucket`` + ``s3_key``; with ``source_code_hash`` either way."""
        if self.s3_bucket is not None:
            return {"s3_bucket": self.s3_bucket, "s3_key": self.s3_key, "source_code_hash": self.source_code_hash}
        return {"filename": self.filename, "source_code_hash": self.source_code_hash}


@dataclass(frozen=True)
class ArtifactBucketProps:
    name: str
    kms_key_arn: str | None = None
    """Objects are encrypted with this customer managed key; the AWS managed ``aws/s3`` key when unset."""


class ArtifactBucket(Construct):
    """The bucket zips above 50 MB are deployed from, with the secure defaults of
    :class:`modules.s3_bucket.Bucket` (public access blocked, KMS, TLS-only, versioning). It holds only
    what lambdaform rebuilds from source, so destroying the environment empties it (``force_destroy``).

    Attributes: ``bucket_name``, ``bucket_arn``."""

    def __init__(self, scope: Construct, id: str, props: ArtifactBucketProps):
        super().__init__(scope, id)
        self.bucket = Bucket(self, id, BucketProps(name=props.name, kms_key_arn=props.kms_key_arn,
                                                   force_destroy=True))
        self.bucket_name: str = self.bucket.bucket_name
        self.bucket_arn: str = self.bucket.bucket_arn

    def upload(self, id: str, prefix: str, filename: str, source_code_hash: str) -> ZipLocation:
        """An object ``<prefix>/<sha256 hex>.zip`` from ``filename``: a changed zip is a new key, so the
        function or layer always deploys exactly the bytes it was synthesized with."""
        digest = base64.b64decode(source_code_hash).hex()
        obj = named(S3Object(self, f"{id}-object", bucket=self.bucket_name, key=f"{prefix}/{digest}.zip",
                             source=filename, source_hash=digest), id, "artifact")
        return ZipLocation(filename=filename, source_code_hash=source_code_hash, s3_bucket=obj.bucket,
                           s3_key=obj.key)
