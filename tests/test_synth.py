"""Synth output: deterministic bytes, per-handler hashes, atomic writes, rendered Dockerfiles that lint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, stack_json, synth_file, write_service

SERVICE = """
project: twin
environments: {dev: {}, prod: {}}
functions:
  one: {runtime: provided.al2023, source: handlers/one, handler: app.velac}
  two: {runtime: provided.al2023, source: handlers/two, handler: app.velac}
"""


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture()
def twin(tmp_path):
    service = write_service(tmp_path / "svc", SERVICE)
    for name in ("one", "two"):
        shutil.copytree(tmp_path / "svc" / "handlers" / "vela_runtime", tmp_path / "svc" / "handlers" / name)
    return service


def test_two_synths_of_unchanged_input_are_byte_identical(twin, tmp_path):
    out = tmp_path / "out"
    synth_file(twin, out)
    first = tree_digest(out)
    # touch every source file: new mtimes must not change a byte of the output
    for path in (twin.parent / "handlers").rglob("*"):
        if path.is_file():
            os.utime(path, (time.time() + 100, time.time() + 100))
    synth_file(twin, out, force=True)  # a real second synth, not the reuse of the first
    assert tree_digest(out) == first
    assert "stacks/twin-dev/assets/one.zip" in first


def test_changing_one_handler_changes_only_its_own_hash(twin, tmp_path):
    out = tmp_path / "out"
    synth_file(twin, out)
    before = {stack: stack_json(out, stack) for stack in ("twin-dev", "twin-prod")}
    program = twin.parent / "handlers" / "two" / "app.velac"
    program.write_text(program.read_text() + "\n# changed\n")
    synth_file(twin, out)
    for stack, old in before.items():
        new = stack_json(out, stack)
        old_fns, new_fns = old["resource"]["aws_lambda_function"], new["resource"]["aws_lambda_function"]
        assert new_fns["one_function"]["source_code_hash"] == old_fns["one_function"]["source_code_hash"]
        assert new_fns["two_function"]["source_code_hash"] != old_fns["two_function"]["source_code_hash"]
        old_fns["two_function"].pop("source_code_hash")
        new_fns["two_function"].pop("source_code_hash")
        assert new == old, "nothing else in the stack may change"


def test_failed_synth_leaves_previous_output_and_no_temporary_folder(twin, tmp_path, monkeypatch):
    from lambdaform import synth as synth_module

    out = tmp_path / "out"
    synth_file(twin, out)
    before = tree_digest(out)

    def explode(*args, **kwargs):
        raise RuntimeError("boom while rendering")

    monkeypatch.setattr(synth_module, "_render_docker", explode)
    with pytest.raises(RuntimeError, match="boom"):
        synth_file(twin, out, force=True)
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "svc"]


def _start_synth(tmp_path: Path) -> subprocess.Popen:
    """``main.py synth`` of a two-function service into ``tmp_path/out``, in a process group of its own."""
    service = write_service(tmp_path / "svc", SERVICE.replace("handlers/one", "handlers/vela_runtime")
                            .replace("handlers/two", "handlers/vela_runtime"))
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "synth", str(service), "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True,
    )


@pytest.mark.parametrize("target", ["process", "group"])
def test_sigint_during_synth_leaves_no_partial_output(tmp_path, target):
    """Ctrl-C in the middle of a synth: no output folder, no temporary folder, exit 130, no traceback.
    ``process``: the signal reaches lambdaform only (``kill -INT``); ``group``: the whole process group, jsii's
    node process included, as Ctrl-C on a terminal does."""
    proc = _start_synth(tmp_path)
    # wait until the temporary folder exists (the synth is under way), then interrupt
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "synth never started writing"
        time.sleep(0.02)
    if target == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc"]


def test_sigint_while_node_writes_the_stacks_leaves_no_partial_output(tmp_path):
    """Ctrl-C while jsii's node process writes the stacks (app.synth): the signal is held until node is
    done, then the temporary folder goes. Raising mid-call used to race node and leave the folder behind."""
    proc = _start_synth(tmp_path)
    seen = []
    for line in proc.stderr:  # progress lines, plain off a terminal
        seen.append(line)
        if "synthesizing Terraform JSON" in line:
            proc.send_signal(signal.SIGINT)
            break
    stdout, stderr = proc.communicate(timeout=60)
    assert any("synthesizing Terraform JSON" in line for line in seen), "".join(seen) + stderr
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc"]


def test_deferred_interrupts_hold_the_signal_until_the_block_ends():
    from lambdaform.synth import deferred_interrupts

    finished = False
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts() as interrupts:
            os.kill(os.getpid(), signal.SIGINT)
            # wait until the handler has recorded it (a busy machine may take a while), then go on
            deadline = time.monotonic() + 60
            while not interrupts.received:
                assert time.monotonic() < deadline, "SIGINT was never recorded"
                time.sleep(0.01)
            finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_between_the_restores_still_restores_every_handler(monkeypatch):
    """SIGINT right after its own handler is restored, before SIGTERM's is: the interrupt still comes,
    and SIGTERM does not keep the block's recording handler (which would ignore every later SIGTERM)."""
    from lambdaform.synth import deferred_interrupts

    sigterm_before = signal.getsignal(signal.SIGTERM)
    real_signal = signal.signal
    fired = []

    def signal_then_interrupt(sig, handler):
        old = real_signal(sig, handler)
        if sig == signal.SIGINT and handler is signal.default_int_handler and not fired:
            fired.append(sig)
            os.kill(os.getpid(), signal.SIGINT)
        return old

    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            monkeypatch.setattr(signal, "signal", signal_then_interrupt)
    monkeypatch.undo()
    assert fired
    assert signal.getsignal(signal.SIGTERM) is sigterm_before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_dockerfile_is_rendered_beside_the_stacks_and_lints_clean(tmp_path):
    out = tmp_path / "out"
    result = synth_file(ROOT / "service.yaml", out, envs=["dev"])
    dockerfile = out / "docker" / "api" / "Dockerfile.lambda"
    assert dockerfile in result.artifacts
    text = dockerfile.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12 AS builder" in text
    assert "COPY nl2sql_api ${LAMBDA_TASK_ROOT}/nl2sql_api" in text
    assert 'CMD ["nl2sql_api.lambda_handler.handler"]' in text
    assert "--platform linux/amd64 --provenance=false --sbom=false" in text
    ignore = (out / "docker" / "api" / "Dockerfile.lambda.dockerignore").read_text()
    assert "__pycache__" in ignore and "tests" in ignore
    hadolint = Path(sys.executable).with_name("hadolint")
    lint = subprocess.run([str(hadolint), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    broken = tmp_path / "Dockerfile.bad"
    broken.write_text("FROM python\nRUN cd /tmp && apt-get install curl\n")
    assert subprocess.run([str(hadolint), str(broken)], capture_output=True).returncode != 0


@pytest.mark.slow
def test_npx_cdktf_synth_gives_the_same_result_through_cdktf_json(tmp_path):
    """`npx cdktf synth` runs cdktf.json's app, which is `python main.py synth` (the active environment's
    python, whatever its folder is called: no `.venv/` assumed): same bytes as the CLI itself."""
    npx = shutil.which("npx")
    assert npx, "node/npx are required (make install)"
    assert ".venv" not in json.loads((ROOT / "cdktf.json").read_text())["app"]
    # an activated environment: its python first on PATH
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "CI": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([npx, "--no-install", "cdktf", "synth", "--output", str(tmp_path / "via-cdktf")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    synth_file(ROOT / "service.yaml", tmp_path / "via-main")
    assert tree_digest(tmp_path / "via-cdktf" / "stacks") == tree_digest(tmp_path / "via-main" / "stacks")
    assert json.loads((tmp_path / "via-cdktf" / "manifest.json").read_text())["stacks"].keys() == {
        "nl2sql-agent-ci", "nl2sql-agent-dev", "nl2sql-agent-dev-registry", "nl2sql-agent-prod",
        "nl2sql-agent-prod-registry"}
