"""Runtimes: every one the service file accepts, the pinned AWS provider accepts too; newer ones are refused
before terraform, with the reason."""

from __future__ import annotations

import pytest

from lambdaform.errors import ServiceFileError
from lambdaform.fields import PROVIDER_6_RUNTIMES, ZIP_RUNTIMES
from lambdaform.loader import load_service
from support import stack_json, synth_file, terraform_validate, write_service


def _service(runtimes) -> str:
    lines = ["project: rt", "environments: {dev: {}}", "encryption_key: aws-managed", "functions:"]
    for index, runtime in enumerate(runtimes):
        handler = "app.velac" if runtime.startswith("provided") else "app.handler"
        lines.append(f"  f{index}: {{runtime: {runtime}, source: handlers/vela_runtime, handler: {handler}}}")
    return "\n".join(lines) + "\n"


def test_the_accepted_runtimes_are_the_current_ones():
    assert {"python3.10", "python3.13", "nodejs20.x", "nodejs22.x", "provided.al2", "provided.al2023",
            "java21", "ruby3.3", "ruby3.4"} <= set(ZIP_RUNTIMES)
    assert not {"python3.9", "nodejs18.x", *PROVIDER_6_RUNTIMES} & set(ZIP_RUNTIMES)


@pytest.mark.parametrize("runtime", PROVIDER_6_RUNTIMES)
def test_a_runtime_newer_than_the_provider_is_refused_with_the_reason(runtime, tmp_path):
    path = write_service(tmp_path / "svc", _service([runtime]))
    with pytest.raises(ServiceFileError) as caught:
        load_service(path)
    (problem,) = caught.value.problems
    assert problem.path == "functions.f0.runtime"
    assert f"{runtime} needs the AWS provider 6.x" in problem.reason and "5.100.0" in problem.reason


@pytest.mark.slow
def test_terraform_validate_accepts_every_runtime_the_file_accepts(tf, tmp_path):
    path = write_service(tmp_path / "svc", _service(ZIP_RUNTIMES))
    out = tmp_path / "out"
    synth_file(path, out)
    document = stack_json(out, "rt-dev")
    assert sorted(fn["runtime"] for fn in document["resource"]["aws_lambda_function"].values()) == sorted(ZIP_RUNTIMES)
    terraform_validate(tf, out / "stacks" / "rt-dev", tmp_path / "tf-data")
