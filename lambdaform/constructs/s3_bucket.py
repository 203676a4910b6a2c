"""An S3 bucket with the secure defaults: public access blocked, encryption, TLS-only, versioning, lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement

READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject")


@dataclass(frozen=True)
class BucketProps:
    name: str
    versioning: bool = True
    """Keep previous versions of overwritten objects (on by default; they expire after 30 days)."""
    encryption: str = "aws:kms"
    """``aws:kms`` (the AWS managed ``aws/s3`` key with an S3 bucket key, default) or ``AES256``."""
    kms_key_arn: str | None = None
    """With ``aws:kms``: this customer managed key instead of the AWS managed ``aws/s3``."""
    abort_incomplete_uploads_days: int = 7
    """Multipart uploads never completed are removed after this many days."""
    expire_after_days: dict[str, int] = field(default_factory=dict)
    """Key prefix -> days after which current objects under it are deleted."""
    force_destroy: bool = False


class Bucket(Construct):
    """Attributes: ``bucket_name``, ``bucket_arn``."""

    def __init__(self, scope: Construct, id: str, props: BucketProps):
        super().__init__(scope, id)
        bucket = named(S3Bucket(self, "bucket", bucket=props.name, force_destroy=props.force_destroy), id)
        self.bucket_name: str = bucket.bucket
        self.bucket_arn: str = bucket.arn
        named(S3BucketPublicAccessBlock(self, "public-access", bucket=bucket.id, block_public_acls=True,
                                        block_public_policy=True, ignore_public_acls=True,
                                        restrict_public_buckets=True), id, "public_access")
        named(S3BucketOwnershipControls(self, "ownership", bucket=bucket.id, rule=S3BucketOwnershipControlsRule(
            object_ownership="BucketOwnerEnforced")), id, "ownership")
        named(S3BucketServerSideEncryptionConfigurationA(self, "encryption", bucket=bucket.id, rule=[
            S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm=props.encryption,
                        kms_master_key_id=props.kms_key_arn if props.encryption == "aws:kms" else None)),
                bucket_key_enabled=props.encryption == "aws:kms",
            )
        ]), id, "encryption")
        named(S3BucketVersioningA(self, "versioning", bucket=bucket.id, versioning_configuration=(
            S3BucketVersioningVersioningConfiguration(status="Enabled" if props.versioning else "Suspended"))),
            id, "versioning")
        named(S3BucketPolicy(self, "tls-only", bucket=bucket.id, policy=policy([
            statement(["s3:*"], [bucket.arn, f"{bucket.arn}/*"], sid="DenyInsecureTransport", effect="Deny",
                      principal={"AWS": "*"}, conditions={"Bool": {"aws:SecureTransport": "false"}}),
        ])), id, "tls_only")
        rules = [
            S3BucketLifecycleConfigurationRule(
                id="abort-incomplete-multipart-uploads", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                abort_incomplete_multipart_upload=[S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=props.abort_incomplete_uploads_days)],
            ),
        ] + [
            S3BucketLifecycleConfigurationRule(
                id=f"expire-{prefix.strip('/').replace('/', '-') or 'all'}",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=days)],
            )
            for prefix, days in sorted(props.expire_after_days.items())
        ]
        if props.versioning:
            rules.append(S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-versions", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=30)],
            ))
        named(S3BucketLifecycleConfiguration(self, "lifecycle", bucket=bucket.id, rule=rules), id, "lifecycle")

    def reference(self, attribute: str) -> str:
        """The value behind ``${buckets.<key>.<attribute>}``."""
        return {"name": self.bucket_name, "arn": self.bucket_arn}[attribute]

    def grant(self, mode: str, prefix: str | None = None) -> list[dict]:
        """Statements granting ``mode`` access, limited to ``prefix`` when given."""
        objects = f"{self.bucket_arn}/{prefix or ''}*"
        actions = {"read": READ_ACTIONS, "write": WRITE_ACTIONS, "read_write": READ_ACTIONS + WRITE_ACTIONS}[mode]
        list_conditions = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None
        return [
            statement(list(actions), [objects]),
            statement(["s3:ListBucket"], [self.bucket_arn], conditions=list_conditions),
        ]
