"""An ECR repository with scan on push, encryption and a lifecycle rule that keeps the newest N images."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class EcrProps:
    name: str
    scan_on_push: bool = True
    """Scan every pushed image for known vulnerabilities (on by default)."""
    image_tag_mutability: str = "MUTABLE"
    """``MUTABLE`` lets CI move a ``latest`` tag; ``IMMUTABLE`` refuses re-tagging."""
    keep_last_images: int = 10
    """Lifecycle rule: images beyond the newest N are expired (10, as in the NL2SQL setup)."""
    encryption: str = "KMS"
    """``KMS`` (the AWS managed ``aws/ecr`` key, default) or ``AES256`` (ECR-managed keys)."""
    force_delete: bool = False
    """Refuse to destroy a repository that still holds images unless set."""


def lifecycle_policy(keep_last_images: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the newest {keep_last_images} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_last_images},
                    "action": {"type": "expire"},
                }
            ]
        },
        separators=(",", ":"),
    )


class Ecr(Construct):
    """Attributes: ``repository_url``, ``repository_arn``, ``repository_name``."""

    def __init__(self, scope: Construct, id: str, props: EcrProps):
        super().__init__(scope, id)
        if props.keep_last_images < 1:
            raise ValueError("keep_last_images must be at least 1")
        self.repository = named(
            EcrRepository(
                self,
                "repository",
                name=props.name,
                image_tag_mutability=props.image_tag_mutability,
                image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=props.scan_on_push),
                encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type=props.encryption)],
                force_delete=props.force_delete,
            ),
            id,
        )
        named(
            EcrLifecyclePolicy(self, "lifecycle", repository=self.repository.name,
                               policy=lifecycle_policy(props.keep_last_images)),
            id, "lifecycle",
        )
        self.repository_url: str = self.repository.repository_url
        self.repository_arn: str = self.repository.arn
        self.repository_name: str = self.repository.name
