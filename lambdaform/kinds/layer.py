"""``layers:`` Lambda layers built from a folder: its files as they are, its Python dependencies under ``python/``.

.. code-block:: yaml

    layers:
      common:
        source: handlers/common_layer        # requirements.txt / pyproject.toml / uv.lock, and/or python/
        compatible_runtimes: [python3.12]     # default
        compatible_architectures: [x86_64]    # default
    functions:
      api:
        layers: [common, "arn:aws:lambda:us-east-1:123456789012:layer:other:3"]

A function lists layer keys (it gets the layer's version ARN) or layer version ARNs. The dependencies are
installed once for every runtime x architecture the layer lists and must come out identical (pure Python);
a layer with compiled dependencies lists one architecture and one runtime. The zip is deployed as an
``aws_lambda_layer_version`` named ``<project>-<env>-<key>``; each change publishes a new version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lambdaform.errors import Problem
from lambdaform.fields import ZIP_RUNTIMES, RelPath, Strict
from lambdaform.kinds.base import CheckContext, Composer, Kind, PackageSpec
from lambdaform.names import output, physical, tf_name

KEY = "layers"


def package_name(key: str) -> str:
    """The layer's zip among a stack's packages (``common_layer``); never a function key (they have no ``_``)."""
    return f"{tf_name(key)}_layer"


def is_key(ref: str) -> bool:
    """Whether a function's ``layers`` entry names a declared layer (else it is a layer version ARN)."""
    return not ref.startswith("arn:")


def function_layers(service: Any, function_key: str) -> list[str]:
    """The package names of the declared layers a function uses, in its order."""
    return [package_name(ref) for ref in service.functions[function_key].layers if is_key(ref)]


class Layer(Strict):
    """A layer built from a folder. Defaults: python3.12 on x86_64, binary wheels only."""

    source: RelPath = Field(description="Folder: a dependency manifest (installed under python/) and/or the "
                                        "files to ship as they are (e.g. a ready python/ tree).")
    compatible_runtimes: list[Literal[ZIP_RUNTIMES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["python3.12"], min_length=1, max_length=15,
        description="Runtimes the layer serves (python3.12 by default); a function with another runtime "
        "cannot use it.")
    compatible_architectures: list[Literal["x86_64", "arm64"]] = Field(
        default_factory=lambda: ["x86_64"], min_length=1, max_length=2,
        description="Architectures the layer serves (x86_64 by default).")
    description: str = Field(default="", max_length=256)
    allow_source_builds: bool = Field(
        default=False, description="Also build sdists that give pure-Python wheels; off: binary wheels only.")
    exclude: list[str] = Field(default_factory=list, description="Extra glob patterns left out of the zip.")


class Layers(Kind):
    key = KEY
    model = Layer
    phase = "resources"
    references = ("arn",)

    def present(self, service: Any) -> bool:
        # also when nothing is declared but a function names a layer key: the checks report it
        return bool(service.layers) or any(is_key(ref) for fn in service.functions.values() for ref in fn.layers)

    def checks(self, ctx: CheckContext) -> list[Problem]:
        service = ctx.service
        declared: dict[str, Layer] = service.layers
        problems = []
        for key, layer in declared.items():
            if not ctx.resolve(layer.source).is_dir():
                problems.append(Problem(f"{KEY}.{key}.source", f"folder '{layer.source}' does not exist "
                                                               f"(looked in {ctx.resolve(layer.source)})"))
        for fn_key, fn in service.functions.items():
            for index, ref in enumerate(fn.layers):
                if not is_key(ref):
                    continue
                where = f"functions.{fn_key}.layers.{index}"
                layer = declared.get(ref)
                if layer is None:
                    problems.append(Problem(where, f"layer '{ref}' is not declared under layers "
                                                   f"(declared: {', '.join(declared) or 'none'})"))
                elif fn.package == "image":
                    problems.append(Problem(where, "image functions cannot use layers: copy the files into the "
                                                   "image instead"))
                elif fn.runtime not in layer.compatible_runtimes:
                    problems.append(Problem(where, f"layer '{ref}' lists runtimes "
                                                   f"{', '.join(layer.compatible_runtimes)}, not {fn.runtime} "
                                                   f"(the runtime of function '{fn_key}')"))
                elif fn.architecture not in layer.compatible_architectures:
                    problems.append(Problem(where, f"layer '{ref}' lists architectures "
                                                   f"{', '.join(layer.compatible_architectures)}, not "
                                                   f"{fn.architecture} (the architecture of function '{fn_key}')"))
        return problems

    def packages(self, ctx: CheckContext) -> dict[str, PackageSpec]:
        from lambdaform.dependencies import Target

        specs = {}
        for key, layer in ctx.service.layers.items():
            targets = tuple(Target.from_runtime(runtime, architecture)
                            for runtime in layer.compatible_runtimes if runtime.startswith("python")
                            for architecture in layer.compatible_architectures)
            specs[package_name(key)] = PackageSpec(ctx.resolve(layer.source), tuple(layer.exclude), targets,
                                                   layer.allow_source_builds, layer=True)
        return specs

    def compose(self, stack: Composer) -> None:
        from lambdaform.literals import escape_literal
        from lambdaform.constructs.layer_version import LayerVersion, LayerVersionProps

        for key, layer in self.items(stack.service).items():
            construct = LayerVersion(stack, tf_name(key, "layer"), LayerVersionProps(
                name=physical(stack.service.project, stack.env, key),
                code=stack.zip_code(package_name(key), key),
                compatible_runtimes=tuple(layer.compatible_runtimes),
                compatible_architectures=tuple(layer.compatible_architectures),
                description=escape_literal(layer.description),
            ))
            stack.add_resource(self.key, key, construct)
            stack.output(output(key, "layer_version_arn"), construct.version_arn, f"Layer version ARN of '{key}'")


KIND = Layers()
