"""Fuzz the loader: whatever the file holds, it either loads or raises ServiceFileError - nothing else.

What loads must also be sound: every environment's model round-trips through its JSON dump
(``Service.model_validate(model.model_dump(mode="json", by_alias=True)) == model``), and a bounded sample of
the loaded files per test (synthesizing each hypothesis example would take seconds with jsii) is synthesized,
every stack's JSON parsing and naming every function of its environment."""

from __future__ import annotations

import copy

import pytest
import yaml
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdaform.commands import scaffold
from lambdaform.loader import LoadedService, ServiceFileError, load_service
from lambdaform.service import Service
from support import EXAMPLE_FILES, synth_file

SYNTH_SAMPLE = 3  # loaded files synthesized per test
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=40))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)), max_leaves=25)
KNOWN_KEYS = ["project", "region", "functions", "environments", "tables", "buckets", "queues", "secrets", "ci",
              "state", "registry", "tags", "websocket", "deploy_hooks", "alarms", "source", "handler", "memory_mb",
              "timeout_seconds", "url", "auth", "access", "environment", "package", "runtime"]


def check(path: Path) -> LoadedService | None:
    """Load ``path``: a clear ServiceFileError, or a service whose every environment round-trips."""
    try:
        loaded = load_service(path)
    except ServiceFileError as exc:
        assert exc.problems, "an error must say what is wrong"
        for problem in exc.problems:
            assert isinstance(problem.path, str) and problem.reason
        return None
    assert loaded.environments, "a loaded service has at least one environment"
    for env, model in loaded.environments.items():
        again = Service.model_validate(model.model_dump(mode="json", by_alias=True))
        assert again == model, f"environment {env} does not round-trip"
    return loaded


class Sample:
    """Up to SYNTH_SAMPLE loaded files of one test, kept (the test reuses its path) and synthesized at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Path] = []

    def keep(self, path: Path, loaded: LoadedService | None) -> None:
        if loaded is not None and len(self.files) < SYNTH_SAMPLE:
            kept = path.with_name(f"sample-{len(self.files)}-{path.name}")
            kept.write_bytes(path.read_bytes())
            self.files.append(kept)

    def synthesize(self, out: Path) -> None:
        for index, path in enumerate(self.files):
            loaded = load_service(path)
            result = synth_file(path, out / str(index))
            for env, stacks in result.stacks.items():
                named = set()
                for stack in stacks:
                    doc = json.loads((result.stack_dir(stack) / "cdk.tf.json").read_text())
                    named |= {fn["function_name"] for fn in doc.get("resource", {}).get("aws_lambda_function", {})
                              .values()}
                service = loaded.environments[env]
                missing = {service.function_name(env, key) for key in service.functions} - named
                assert not missing, f"{path.name} {env}: no aws_lambda_function for {sorted(missing)}"


def test_random_bytes(tmp_path):
    sample = Sample(tmp_path)

    @SETTINGS
    @given(raw=st.binary(max_size=300))
    def run(raw):
        path = tmp_path / "service.yaml"
        path.write_bytes(raw)
        sample.keep(path, check(path))

    run()
    sample.synthesize(tmp_path / "out")


def test_random_yaml_documents(tmp_path):
    sample = Sample(tmp_path)

    @SETTINGS
    @given(doc=documents)
    def run(doc):
        path = tmp_path / "service.yaml"
        path.write_text(yaml.safe_dump(doc))
        sample.keep(path, check(path))

    run()
    sample.synthesize(tmp_path / "out")


def test_random_documents_with_known_keys(tmp_path):
    sample = Sample(tmp_path)

    @SETTINGS
    @given(doc=st.dictionaries(st.sampled_from(KNOWN_KEYS), documents, max_size=6))
    def run(doc):
        path = tmp_path / "service.yaml"
        path.write_text(yaml.safe_dump(doc))
        sample.keep(path, check(path))

    run()
    sample.synthesize(tmp_path / "out")


@pytest.fixture(scope="module")
def scaffolds(tmp_path_factory):
    out = {}
    for example in EXAMPLE_FILES:
        folder = tmp_path_factory.mktemp(example.stem)
        scaffold(folder / "svc", example.stem)
        out[example.stem] = folder / "svc"
    return out


def paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from paths(value, (*prefix, index))


def test_mutated_examples(scaffolds, tmp_path):
    """Mutations of the examples: most still load, so this is where the round-trip and synth oracles bite."""
    sample = Sample(tmp_path)

    @SETTINGS
    @given(data=st.data())
    def run(data):
        name = data.draw(st.sampled_from(sorted(scaffolds)))
        folder = scaffolds[name]
        doc = yaml.safe_load((folder / "service.yaml").read_text())
        mutated = copy.deepcopy(doc)
        for _ in range(data.draw(st.integers(1, 3))):
            candidates = [p for p in paths(mutated) if p]
            target = data.draw(st.sampled_from(candidates))
            parent = mutated
            for part in target[:-1]:
                parent = parent[part]
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[target[-1]] = data.draw(documents)
            elif action == "delete" and isinstance(parent, dict):
                del parent[target[-1]]
            elif isinstance(parent, dict):
                parent[data.draw(st.sampled_from(KNOWN_KEYS + ["zzz"]))] = data.draw(documents)
        path = folder / "mutated.yaml"
        path.write_text(yaml.safe_dump(mutated))
        sample.keep(path, check(path))

    run()
    assert sample.files, "no mutation loaded: the oracles were never exercised"
    sample.synthesize(tmp_path / "out")
