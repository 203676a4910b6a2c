"""A Lambda layer version from a zip lambdaform built."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from constructs import Construct

from lambdaform.constructs._iam import named
from lambdaform.constructs.artifacts import ZipLocation


@dataclass(frozen=True)
class LayerVersionProps:
    name: str
    """The layer name (``<project>-<env>-<key>``); each changed zip publishes a new version of it."""
    code: ZipLocation
    compatible_runtimes: tuple[str, ...] = ("python3.12",)
    """Runtimes Lambda lets use the layer (python3.12 by default)."""
    compatible_architectures: tuple[str, ...] = ("x86_64",)
    """``x86_64`` by default."""
    description: str = ""


class LayerVersion(Construct):
    """Attributes: ``version_arn`` (what a function lists), ``layer_arn`` (the layer without version)."""

    def __init__(self, scope: Construct, id: str, props: LayerVersionProps):
        super().__init__(scope, id)
        layer = named(LambdaLayerVersion(
            self, "layer", layer_name=props.name, description=props.description or None,
            compatible_runtimes=list(props.compatible_runtimes),
            compatible_architectures=list(props.compatible_architectures),
            **props.code.code_arguments(),
        ), id)
        self.version_arn: str = layer.arn
        self.layer_arn: str = layer.layer_arn

    def reference(self, attribute: str) -> str:
        """The value behind ``${layers.<key>.arn}``: the version ARN."""
        return {"arn": self.version_arn}[attribute]
