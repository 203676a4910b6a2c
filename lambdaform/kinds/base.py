"""The one interface every kind of the service file plugs in through.

A *kind* is something a user can declare at the top level of the service file: a resource (``tables``,
``buckets``, ``queues``, ...) or a blueprint section (``websocket``, ``deploy_hooks``, ``alarms``). A kind has
three parts behind :class:`Kind`:

* its **model**: the pydantic class of what the user writes (one item of a ``key -> item`` mapping, or the
  whole section);
* its **checks**: rules that span the file or touch the disk, reported as :class:`~lambdaform.errors.Problem`
  with field paths;
* its **composition**: what it adds to a stack (:meth:`Kind.compose`), and for resources the grants and
  references functions ask it for.

The loader, the model and the stack composer only ever loop over :data:`lambdaform.kinds.KINDS`; none of them
names a kind. Nothing here imports cdktf or the service model: a kind's :meth:`compose` imports its
constructs when it runs, so validating a file never loads the provider binding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from lambdaform.errors import Problem


@dataclass(frozen=True)
class PackageSpec:
    """A folder to package as a canonical zip, with everything that decides its bytes (equal specs give equal
    zips, so a synth builds each distinct spec once and environments share it)."""

    source: Path
    exclude: tuple[str, ...] = ()
    targets: tuple[Any, ...] = ()
    """:class:`lambdaform.dependencies.Target` platforms its Python dependencies are installed for (a
    function: its runtime and architecture; a layer: its runtimes x architectures). Empty: the folder as it
    is, no dependencies installed (non-Python runtimes)."""
    allow_source_builds: bool = False
    """Dependencies may come from sdists that build pure-Python wheels."""
    layer: bool = False
    """A layer: dependencies go under ``python/`` and the handler kit is not added."""

    def build(self) -> Any:
        """The canonical zip (:class:`lambdaform.packaging.Package`)."""
        from lambdaform import dependencies, packaging

        if self.layer and self.targets:
            return dependencies.build_layer_zip(self.source, self.targets, self.exclude, self.allow_source_builds)
        if not self.targets:
            return packaging.build_zip(self.source, self.exclude)
        return dependencies.build_function_zip(self.source, self.exclude, self.targets[0], self.allow_source_builds)


@dataclass(frozen=True)
class CheckContext:
    """What a kind's checks may look at: one environment's resolved service, the file's base model (to tell
    an environment's own mistakes from the file's) and the folder relative paths start from."""

    root: Path
    env: str
    service: Any
    """The environment's :class:`~lambdaform.service.Service`."""
    base: Any
    """The file's base :class:`~lambdaform.service.Service` (before environment overrides)."""

    def resolve(self, relative: str) -> Path:
        return (self.root / relative).resolve()


class Composer(Protocol):
    """What a kind may use of the service stack it composes into (:class:`lambdaform.stacks.ServiceStack`)."""

    service: Any
    env: str
    key: Any
    """The environment's customer managed KMS key construct, or ``None`` (``encryption_key: aws-managed``)."""
    functions: dict[str, Any]
    packages: dict[str, Any]

    def output(self, name: str, value: str, description: str, sensitive: bool = False) -> None: ...

    def zip_code(self, package: str, prefix: str) -> Any:
        """Where the zip ``package`` deploys from (:class:`modules.artifacts.ZipLocation`): its asset file,
        or an artifact bucket object under ``prefix/`` above Lambda's 50 MB direct-upload limit."""
        ...

    def grant(self, function_key: str, name: str, statements: list[dict]) -> Any: ...

    def add_resource(self, kind: str, key: str, construct: Any) -> None: ...

    resources: dict[str, dict[str, Any]]

    def account(self) -> tuple[Any, Any]: ...


class Kind:
    """Base of every kind. Subclasses set the class attributes and override what they need."""

    key: ClassVar[str]
    """The top-level key in the service file (``tables``, ``websocket``, ...)."""
    model: ClassVar[type[BaseModel]]
    shape: ClassVar[Literal["map", "section"]] = "map"
    """``map``: ``key -> item`` (each item a ``model``); ``section``: one optional ``model``."""
    description: ClassVar[str] = ""
    phase: ClassVar[Literal["resources", "sections"]] = "sections"
    """``resources`` compose before the functions (functions refer to them), ``sections`` after."""
    map_key_type: ClassVar[Any] = None
    """The type of a ``map`` kind's keys; :data:`lambdaform.fields.Name` unless set."""

    # -- resources ----------------------------------------------------------------------------------
    access_key: ClassVar[str | None] = None
    """The key an ``access:`` entry uses for this kind (``table``), or ``None`` when it grants nothing."""
    access_prefix: ClassVar[bool] = False
    """Whether ``access:`` entries may limit the grant to a key ``prefix`` (buckets)."""
    references: ClassVar[tuple[str, ...]] = ()
    """Attributes an environment value may refer to: ``${tables.<key>.name}``."""

    def present(self, service: Any) -> bool:
        return bool(getattr(service, self.key))

    def items(self, service: Any) -> Mapping[str, Any]:
        """The declared items of a ``map`` kind (``{}`` for sections)."""
        value = getattr(service, self.key)
        return value if self.shape == "map" and value else {}

    def checks(self, ctx: CheckContext) -> list[Problem]:
        """Cross-field and on-disk rules; the model has already validated each field."""
        return []

    def packages(self, ctx: CheckContext) -> dict[str, PackageSpec]:
        """Extra zips the kind's own functions need, by package name (names with ``_`` never clash with
        function keys, which cannot contain one)."""
        return {}

    def compose(self, stack: Composer) -> None:
        """Add the kind's resources to the stack (resources call ``stack.add_resource`` for each item)."""

    def provides_functions(self, service: Any) -> bool:
        """Whether the kind deploys functions of its own (a service needs at least one function)."""
        return False
