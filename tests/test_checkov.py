"""checkov on the synthesized JSON of every example: no failed checks beyond the documented skips."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from support import EXAMPLE_FILES, ROOT, synth_file, write_service

CONFIG = ROOT / ".checkov.yaml"
CHECKOV = Path(os.environ.get("LAMBDAFORM_CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov"))


def checkov(stack_dir: Path, *, config: bool = True) -> list[dict]:
    assert CHECKOV.is_file(), f"checkov not installed at {CHECKOV}; run `make install`"
    args = [str(CHECKOV), "-d", str(stack_dir), "--framework", "terraform_json", "-o", "json", "--quiet"]
    if config:
        args += ["--config-file", str(CONFIG)]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    reports = json.loads(proc.stdout)
    failed = []
    for report in reports if isinstance(reports, list) else [reports]:
        failed += report.get("results", {}).get("failed_checks", [])
    return failed


def test_every_skip_has_a_reason():
    lines = CONFIG.read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s+- CKV", line)]
    assert skips
    for index in skips:
        check = lines[index].split("-", 1)[1].strip()
        reason = lines[index - 1].strip()
        assert reason.startswith(f"# {check}: ") and len(reason) > len(check) + 20, f"{check} has no reason"


@pytest.mark.slow
@pytest.mark.parametrize("service", [ROOT / "service.yaml", *EXAMPLE_FILES], ids=lambda p: p.name)
def test_examples_pass_checkov(service, tmp_path):
    result = synth_file(service, tmp_path / "out")
    for stacks in result.stacks.values():
        for stack in stacks:
            failed = checkov(result.stack_dir(stack))
            assert not failed, "\n".join(f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in failed)


@pytest.mark.slow
def test_checkov_does_fail_an_insecure_choice(tmp_path):
    """The scan can fail: AWS managed keys instead of the service key fail KMS checks."""
    service = write_service(tmp_path / "svc", """
project: lax
encryption_key: aws-managed
environments: {dev: {}}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac, environment: {A: b}}
""")
    result = synth_file(service, tmp_path / "out")
    failed = {f["check_id"] for f in checkov(result.stack_dir("lax-dev"))}
    assert {"CKV_AWS_158", "CKV_AWS_173"} <= failed
