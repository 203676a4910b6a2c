"""Fuzz the loader: whatever the file holds, it either loads or raises ServiceFileError - nothing else."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdaform.commands import scaffold
from lambdaform.loader import ServiceFileError, load_service
from support import EXAMPLE_FILES

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=40))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)), max_leaves=25)
KNOWN_KEYS = ["project", "region", "functions", "environments", "tables", "buckets", "queues", "secrets", "ci",
              "state", "registry", "tags", "websocket", "deploy_hooks", "alarms", "source", "handler", "memory_mb",
              "timeout_seconds", "url", "auth", "access", "environment", "package", "runtime"]


def check(path):
    try:
        load_service(path)
    except ServiceFileError as exc:
        assert exc.problems, "an error must say what is wrong"
        for problem in exc.problems:
            assert isinstance(problem.path, str) and problem.reason


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_random_bytes(raw, tmp_path):
    path = tmp_path / "service.yaml"
    path.write_bytes(raw)
    check(path)


@SETTINGS
@given(doc=documents)
def test_random_yaml_documents(doc, tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    check(path)


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(KNOWN_KEYS), documents, max_size=6))
def test_random_documents_with_known_keys(doc, tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(doc))
    check(path)


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


@SETTINGS
@given(data=st.data())
def test_mutated_examples(scaffolds, data):
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
    check(path)
