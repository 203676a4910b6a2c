"""Read a service file: YAML -> per-environment :class:`Service` models, or one :class:`ServiceFileError`.

Errors name the file, the field path and the reason, e.g.::

    service.yaml: functions.api.memory_mb: must be >= 128 (got -5)

Nothing here writes to disk; the CLI turns a :class:`ServiceFileError` into exit code 2.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lambdaform import functions_checks
from lambdaform.errors import InputError, Problem, ServiceFileError
from lambdaform.kinds import KINDS, CheckContext, PackageSpec, by_key, reference_pattern
from lambdaform import names
from lambdaform.names import physical
from lambdaform.service import Service
from lambdaform.triggers import TAG_PREFIX, TRIGGERS, uses

__all__ = ["CiStack", "LoadedService", "Problem", "ServiceFileError", "load_service", "parse_yaml"]

MAX_FILE_BYTES = 1_000_000
NOT_OVERRIDABLE = ("project", "environments")


@dataclass(frozen=True)
class CiStack:
    """The stack creating one account's GitHub OIDC provider, once for every environment deploying there."""

    name: str
    """``<project>-ci``, or ``<project>-ci-<account_id>`` when the environments span several accounts."""
    account_id: str | None
    environments: tuple[str, ...]
    """The environments whose CI roles trust the provider, in file order; the first one owns the stack (it
    is among that environment's stacks, with its provider settings and state backend)."""

    @property
    def owner(self) -> str:
        return self.environments[0]


@dataclass(frozen=True)
class LoadedService:
    """A validated service file: the base model and one resolved model per environment."""

    path: Path
    base: Service
    environments: dict[str, Service] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The folder that relative paths in the file are relative to."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def select(self, envs: Iterable[str] | None = None) -> dict[str, Service]:
        """The named environments' models (all, in file order, when ``envs`` is empty); an unknown name is
        an :class:`~lambdaform.errors.InputError` naming the defined ones. The one place that check lives."""
        chosen = list(envs or self.environments)
        for env in chosen:
            if env not in self.environments:
                raise InputError(f"{self.path}: environment '{env}' is not defined "
                                 f"(defined: {', '.join(self.environments)})")
        return {env: self.environments[env] for env in chosen}

    def accounts(self) -> dict[str | None, list[str]]:
        """Account id -> its environments in file order; environments without ``account_id`` share ``None``."""
        groups: dict[str | None, list[str]] = {}
        for env, service in self.environments.items():
            groups.setdefault(service.account_id, []).append(env)
        return groups

    def ci_stacks(self) -> list[CiStack]:
        """One stack per account whose environments use GitHub OIDC and let lambdaform create the provider
        (``ci.create_oidc_provider`` false in any of them: the provider exists already, no stack)."""
        groups = self.accounts()
        found = []
        for account_id, envs in groups.items():
            users = [env for env in envs if (ci := self.environments[env].ci) is not None and ci.mode == "github-oidc"]
            if users and all(self.environments[env].ci.create_oidc_provider for env in users):  # type: ignore[union-attr]
                project = self.environments[users[0]].project
                found.append(CiStack(name=names.ci_stack(project, account_id if len(groups) > 1 else None),
                                     account_id=account_id, environments=tuple(users)))
        return found

    def ci_stack(self, env: str) -> CiStack | None:
        """The CI stack whose provider ``env``'s CI roles trust (created by its owner), if lambdaform makes one."""
        return next((stack for stack in self.ci_stacks() if env in stack.environments), None)

    def stack_names(self, env: str) -> list[str]:
        """``env``'s stacks in apply order, as synth creates them (the CI stack only for its owner)."""
        service = self.environments[env]
        ci = self.ci_stack(env)
        return names.stacks(service.project, env, with_registry=bool(service.image_functions),
                            ci=ci.name if ci is not None and ci.owner == env else None)

    def check_context(self, env: str) -> CheckContext:
        return CheckContext(root=self.root, env=env, service=self.environments[env], base=self.base)

    def package_specs(self, env: str) -> dict[str, PackageSpec]:
        """Every zip one environment needs: its zip functions' folders plus the kinds' own packages."""
        service = self.environments[env]
        specs = {key: function_package(self.resolve(fn.source), fn)
                 for key, fn in service.functions.items() if fn.package == "zip"}
        ctx = self.check_context(env)
        for kind in KINDS:
            if kind.present(service):
                specs.update(kind.packages(ctx))
        return specs


def function_package(source: Path, fn: Any) -> PackageSpec:
    """A zip function's package: with its Python dependencies (python runtimes), else the folder as it is."""
    if not fn.runtime.startswith("python"):
        return PackageSpec(source, tuple(fn.exclude))
    from lambdaform.dependencies import Target

    return PackageSpec(source, tuple(fn.exclude), (Target.from_runtime(fn.runtime, fn.architecture),),
                       fn.allow_source_builds)


# --- YAML -------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(path: Path) -> dict:
    """The file's single YAML mapping, or :class:`ServiceFileError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ServiceFileError(path, [Problem("", "file not found")]) from None
    except IsADirectoryError:
        raise ServiceFileError(path, [Problem("", "is a folder, expected a YAML service file")]) from None
    except OSError as exc:
        raise ServiceFileError(path, [Problem("", f"cannot be read ({exc.strerror})")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ServiceFileError(path, [Problem("", f"is larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceFileError(path, [Problem("", f"is not UTF-8 text (byte {exc.start})")]) from None
    try:
        documents = list(yaml.load_all(text, Loader=_UniqueKeyLoader))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ServiceFileError(path, [Problem("", f"invalid YAML: {where}{exc.problem or exc}")]) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise ServiceFileError(path, [Problem("", f"invalid YAML: {exc}")]) from None
    documents = [d for d in documents if d is not None]
    if not documents:
        raise ServiceFileError(path, [Problem("", "is empty")])
    if len(documents) > 1:
        raise ServiceFileError(path, [Problem("", "holds several YAML documents; expected one")])
    document = documents[0]
    if not isinstance(document, dict):
        raise ServiceFileError(path, [Problem("", f"top level must be a mapping, not {_kind(document)}")])
    return document


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


# --- validation -------------------------------------------------------------------------------------


def _field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every field name in the model tree, for "did you mean" suggestions."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for info in model.model_fields.values():
        for candidate in _models_in(info.annotation):
            names |= _field_names(candidate, seen)
    return names


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)


_KNOWN_FIELDS = sorted(_field_names(Service))


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        # a key valid elsewhere (another trigger kind's option) is no hint for itself
        hint = difflib.get_close_matches(key, [f for f in _KNOWN_FIELDS if f != key], n=1, cutoff=0.6)
        return "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
    if kind == "trigger_kind":
        value = error.get("input")
        keys = list(value) if isinstance(value, dict) else []
        kinds = [trigger.key for trigger in TRIGGERS]
        if len(keys) == 1:
            hint = difflib.get_close_matches(str(keys[0]), kinds, n=1, cutoff=0.6)
            return (f"unknown trigger kind '{keys[0]}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
                    + f" (kinds: {', '.join(kinds)})")
        return f"a trigger is a one-key mapping naming its kind ({', '.join(kinds)}), got {_kind(value)}" + (
            f" with keys {', '.join(map(str, keys))}" if keys else "")
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "int_type", "int_parsing",
                "string_type", "bool_type", "bool_parsing", "literal_error", "string_pattern_mismatch",
                "string_too_long", "string_too_short", "dict_type", "list_type", "model_type", "float_type"}:
        message += f" (got {error.get('input')!r})" if not isinstance(error.get("input"), (dict, list)) else ""
    return message


def _problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"]
               if not (isinstance(p, str) and (p.startswith(("function-", TAG_PREFIX)) or "[" in p))]
        path = _dotted(loc)
        problems.append(Problem(f"{prefix}{path}" if path else prefix.rstrip("."), _reason(item)))
    return problems


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` onto ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _validate(path: Path, document: dict) -> LoadedService:
    try:
        base = Service.model_validate(document)
    except ValidationError as exc:
        raise ServiceFileError(path, _problems(exc)) from None

    problems: list[Problem] = []
    environments: dict[str, Service] = {}
    for env, override in document.get("environments", {"dev": {}, "prod": {}}).items():
        where = f"environments.{env}"
        override = override or {}
        for key in NOT_OVERRIDABLE:
            if key in override:
                problems.append(Problem(f"{where}.{key}", "cannot be overridden per environment"))
        if problems:
            continue
        try:
            environments[env] = Service.model_validate(_merge(document, override))
        except ValidationError as exc:
            # The base validated, so whatever fails here comes from this environment's overrides.
            problems.extend(_problems(exc, prefix=f"{where}."))
    if problems:
        raise ServiceFileError(path, _dedupe(problems))
    loaded = LoadedService(path=path, base=base, environments=environments)
    cross = _cross_checks(loaded)
    if cross:
        raise ServiceFileError(path, cross)
    return loaded


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.reason) not in seen:
            seen.add((p.path, p.reason))
            out.append(p)
    return out


def _reference_checks(service: Service) -> list[Problem]:
    problems: list[Problem] = []
    for key, fn in service.functions.items():
        for var, value in fn.environment.items():
            for kind_key, target, attribute in reference_pattern().findall(value):
                where = f"functions.{key}.environment.{var}"
                kind = by_key(kind_key)
                declared = kind.items(service)
                if target not in declared:
                    problems.append(Problem(where, f"refers to {kind_key}.{target}, which is not declared "
                                                   f"(declared: {', '.join(declared) or 'none'})"))
                elif attribute not in kind.references:
                    problems.append(Problem(where, f"{kind_key} have {', '.join(kind.references)}, not '{attribute}'"))
        for var, secret in fn.secrets.items():
            if secret not in service.secrets:
                declared = ", ".join(service.secrets) or "none"
                problems.append(Problem(f"functions.{key}.secrets.{var}",
                                        f"'{secret}' is not declared under secrets (declared: {declared})"))
            if var in fn.environment:
                problems.append(Problem(f"functions.{key}.secrets.{var}", "also set in environment; choose one"))
        for index, access in enumerate(fn.access):
            kind_key, target = access.target()
            declared = by_key(kind_key).items(service)
            if target not in declared:
                problems.append(Problem(f"functions.{key}.access.{index}.{by_key(kind_key).access_key}",
                                        f"'{target}' is not declared under {kind_key} "
                                        f"(declared: {', '.join(declared) or 'none'})"))
    return problems


def _ci_stack_checks(loaded: LoadedService) -> list[Problem]:
    """A CI stack's name must not be an environment's own stack name (an environment called ``ci``)."""
    problems = []
    for stack in loaded.ci_stacks():
        for env, service in loaded.environments.items():
            if stack.name in names.stacks(service.project, env, with_registry=True):
                problems.append(Problem(f"environments.{env}", f"its stacks would be named like {stack.name}, the "
                                        "stack of the account's GitHub OIDC provider; rename the environment"))
    return problems


def _cross_checks(loaded: LoadedService) -> list[Problem]:
    """Rules that span fields or touch the disk: name lengths, folders and files that must exist."""
    problems: list[Problem] = _ci_stack_checks(loaded)
    for env, service in loaded.environments.items():
        problems += _reference_checks(service)
        ctx = loaded.check_context(env)
        problems += functions_checks.checks(ctx)
        for kind in KINDS:
            if kind.present(service):
                problems += kind.checks(ctx)
        for trigger in TRIGGERS:
            found = uses(service)[trigger.key]
            if found:
                problems += trigger.checks(ctx, found)
        for key, fn in service.functions.items():
            name = physical(service.project, env, key)
            where = f"functions.{key}"
            if len(name) > 64:
                problems.append(Problem(where, f"function name '{name}' is longer than Lambda's 64 characters"))
            source = loaded.resolve(fn.source)
            if not source.is_dir():
                problems.append(Problem(f"{where}.source", f"folder '{fn.source}' does not exist (looked in {source})"))
                continue
            if fn.dockerfile is not None and not loaded.resolve(fn.dockerfile).is_file():
                problems.append(Problem(f"{where}.dockerfile", f"file '{fn.dockerfile}' does not exist"))
            for required in fn.required_files:
                if not (source / required).is_file():
                    problems.append(Problem(f"{where}.required_files", f"'{required}' is missing in {fn.source}"))
            if fn.package == "image" and fn.dockerfile is None and not (source / "requirements.txt").is_file():
                problems.append(Problem(f"{where}.source", f"image functions need {fn.source}/requirements.txt "
                                        "for the rendered Dockerfile.lambda (or set dockerfile:)"))
            if fn.package == "zip" and fn.runtime.startswith("provided"):
                bootstrap = source / "bootstrap"
                if not bootstrap.is_file():
                    problems.append(Problem(f"{where}.source", f"custom runtime needs an executable 'bootstrap' in {fn.source}"))
                elif not bootstrap.stat().st_mode & 0o111:
                    problems.append(Problem(f"{where}.source", f"'bootstrap' in {fn.source} is not executable (chmod +x)"))
    return _dedupe(problems)


def load_service(path: Path | str) -> LoadedService:
    """Parse and validate a service file; raise :class:`ServiceFileError` listing what is wrong."""
    path = Path(path).expanduser().resolve()
    return _validate(path, parse_yaml(path))
