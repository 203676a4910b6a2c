"""CLI behaviour through typer's CliRunner: exit codes, messages, nothing written on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from main import app
from support import EXAMPLE_FILES, ROOT, Lines, process_alive

INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
runner = CliRunner()


def expectation(path: Path) -> tuple[str, str]:
    header = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    fields = dict(line[2:].split(":", 1) for line in header[:2])
    return fields["expect-path"].strip(), fields["expect-reason"].strip()


def test_the_corpus_is_large_enough():
    assert len(INVALID) >= 60


@pytest.mark.parametrize("service_file", INVALID, ids=lambda p: p.stem)
def test_invalid_service_file_exits_2_with_path_and_reason_and_writes_nothing(service_file, tmp_path):
    path, reason = expectation(service_file)
    out = tmp_path / "out"
    result = runner.invoke(app, ["synth", str(service_file), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert str(service_file.resolve()) in message
    assert reason in message, message
    if path:
        assert re.search(rf"(^|\s){re.escape(path)}: ", message, re.M), f"field path {path!r} missing:\n{message}"
    assert "Traceback" not in result.output + message
    assert result.stdout == ""
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_validate_reports_every_problem_at_once(tmp_path):
    service = tmp_path / "service.yaml"
    service.write_text("project: x_bad\nregion: mars\nfunctions: {}\n")
    result = runner.invoke(app, ["validate", str(service)])
    assert result.exit_code == 2
    assert "project:" in result.stderr and "region:" in result.stderr


@pytest.mark.parametrize("service_file", [ROOT / "service.yaml", *EXAMPLE_FILES], ids=lambda p: p.name)
def test_examples_validate(service_file):
    result = runner.invoke(app, ["validate", str(service_file)])
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout


def test_synth_writes_stacks_and_reports_them(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["synth", str(ROOT / "examples" / "vela-runtime.yaml"), "--out", str(out), "--env", "dev"])
    assert result.exit_code == 0, result.stderr
    assert (out / "stacks" / "vela-hello-dev" / "cdk.tf.json").is_file()
    assert not (out / "stacks" / "vela-hello-prod").exists()
    assert "vela-hello-dev" in result.stdout
    assert "lambdaform: synth: done" in result.stderr, "progress goes to stderr, plain when not a terminal"


def test_synth_quiet_prints_no_progress(tmp_path):
    result = runner.invoke(app, ["synth", str(ROOT / "examples" / "vela-runtime.yaml"), "-o", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0 and result.stderr == ""


def test_unknown_environment_is_invalid_input(tmp_path):
    result = runner.invoke(app, ["synth", str(ROOT / "service.yaml"), "--env", "staging", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "environment 'staging' is not defined (defined: dev, prod)" in result.stderr
    assert not (tmp_path / "o").exists()


def test_missing_service_file(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_list_shows_resources_per_stack():
    result = runner.invoke(app, ["list", str(ROOT / "service.yaml"), "--env", "dev", "--json", "-q"])
    assert result.exit_code == 0, result.stderr
    listing = json.loads(result.stdout)
    assert list(listing) == ["nl2sql-agent-ci", "nl2sql-agent-dev-registry", "nl2sql-agent-dev"]
    assert listing["nl2sql-agent-ci"] == ["aws_iam_openid_connect_provider.github_oidc"]
    assert "aws_ecr_repository.api_ecr" in listing["nl2sql-agent-dev-registry"]
    assert "aws_lambda_function.api_function" in listing["nl2sql-agent-dev"]
    assert "data.aws_ecr_image.api_image" in listing["nl2sql-agent-dev"]


def test_schema_is_json_schema_of_the_service_file():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Service"
    assert "project" in schema["required"]
    function = schema["$defs"]["Function"]["properties"]
    assert function["memory_mb"]["maximum"] == 10240 and function["timeout_seconds"]["maximum"] == 900


@pytest.mark.parametrize("blueprint", [p.stem for p in EXAMPLE_FILES])
def test_init_scaffolds_a_standalone_service_that_validates(blueprint, tmp_path):
    target = tmp_path / "new-service"
    result = runner.invoke(app, ["init", str(target), "--blueprint", blueprint])
    assert result.exit_code == 0, result.stderr
    text = (target / "service.yaml").read_text()
    assert "../handlers" not in text
    validated = runner.invoke(app, ["validate", str(target / "service.yaml")])
    assert validated.exit_code == 0, validated.stderr


def test_workflows_refuse_local_state_and_say_what_to_add(tmp_path):
    target = tmp_path / "svc"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    result = runner.invoke(app, ["workflows", str(target / "service.yaml"), "--repo-root", str(target)])
    assert result.exit_code == 2, result.stdout
    assert "state.backend: local state (dev, prod) does not survive a CI job" in result.stderr
    assert "state:\n  backend: s3\n  bucket: <a bucket you own>\n  key_prefix: hello\n" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (target / ".github" / "workflows").exists(), "nothing half-written"


def test_init_with_a_state_bucket_writes_remote_state_and_the_workflows(tmp_path):
    from lambdaform.workflows import user_test_command

    bare, remote = tmp_path / "bare", tmp_path / "remote"
    result = runner.invoke(app, ["init", str(bare)])
    assert result.exit_code == 0 and "no GitHub workflows yet: CI needs remote state" in result.stdout
    assert not (bare / ".github" / "workflows").exists() and (bare / ".github" / "dependabot.yml").exists()
    assert "lambdaform workflows" in (bare / "README.md").read_text()
    result = runner.invoke(app, ["init", str(remote), "--state-bucket", "acme-hello-tfstate"])
    assert result.exit_code == 0, result.stderr
    service = yaml.safe_load((remote / "service.yaml").read_text())
    assert service["state"] == {"backend": "s3", "bucket": "acme-hello-tfstate", "key_prefix": "hello"}
    terraform = yaml.safe_load((remote / ".github/workflows/terraform.yml").read_text())
    # the test job runs the command the scaffold's README gives as its test command
    command = terraform["jobs"]["test"]["steps"][-1]["run"].strip()
    assert command == user_test_command() and f"```bash\n{command}\n```" in (remote / "README.md").read_text()
    proc = subprocess.run(["bash", "-c", command.replace("lambdaform ", f"{sys.executable} -m lambdaform ")],
                          cwd=remote, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    bad = runner.invoke(app, ["init", str(tmp_path / "bad"), "--state-bucket", "Not_A_Bucket"])
    assert bad.exit_code == 2 and "--state-bucket: 'Not_A_Bucket' is not an S3 bucket name" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_init_refuses_a_non_empty_folder_and_unknown_blueprint(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    result = runner.invoke(app, ["init", str(tmp_path / "x"), "--blueprint", "nope"])
    assert result.exit_code == 2 and "unknown blueprint 'nope'" in result.stderr


def test_deploy_without_terminal_refuses_without_yes(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBDAFORM_ENDPOINT", "http://127.0.0.1:9")
    result = runner.invoke(app, ["deploy", str(ROOT / "examples" / "vela-runtime.yaml"), "--env", "dev",
                                 "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert not (tmp_path / "o").exists(), "nothing is synthesized before confirmation"


def test_deploy_without_credentials_is_an_auth_error(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "LAMBDAFORM_ENDPOINT",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = runner.invoke(app, ["deploy", str(ROOT / "examples" / "vela-runtime.yaml"), "--yes", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Auth error: no AWS credentials found" in result.stderr


def test_plan_detailed_exitcode_maps_invalid_input_to_1(tmp_path):
    bad = tmp_path / "service.yaml"
    bad.write_text("project: [\n")
    result = runner.invoke(app, ["plan", str(bad), "--detailed-exitcode", "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    result = runner.invoke(app, ["plan", str(bad), "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 2


def test_bad_endpoint_and_var_are_invalid_input(tmp_path):
    example = str(ROOT / "examples" / "vela-runtime.yaml")
    result = runner.invoke(app, ["plan", example, "--endpoint", "localhost:5000"])
    assert result.exit_code == 2 and "must be an http(s) URL" in result.stderr
    result = runner.invoke(app, ["plan", example, "--endpoint", "http://127.0.0.1:9", "--var", "novalue"])
    assert result.exit_code == 2 and "--var takes NAME=VALUE" in result.stderr


class Emulator:
    """`main.py emulator` on a free port, its stdout and stderr read line by line with deadlines."""

    def __init__(self) -> None:
        import subprocess
        import sys

        from conftest import free_port

        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "emulator", "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout, self.stderr = Lines(self.proc.stdout), Lines(self.proc.stderr)

    def moto_pid(self) -> int:
        """moto's PID, from the line the emulator logs as soon as moto is started (before it answers)."""
        line = self.stderr.wait_for("starting moto (pid ")
        return int(re.search(r"\(pid (\d+)\)", line).group(1))

    def stop(self, sig) -> int:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=120)
        return self.proc.returncode

    def close(self) -> None:
        """Whatever happened in the test: no emulator and no moto left behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)


def wait_until_gone(pid: int, timeout: float = 60) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture()
def emulator():
    started = Emulator()
    yield started
    started.close()


def test_emulator_command_serves_a_configured_moto_until_interrupted(emulator):
    import signal
    import urllib.request

    moto = emulator.moto_pid()
    emulator.stdout.wait_for(f"emulator ready: http://127.0.0.1:{emulator.port}")
    config = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{emulator.port}/moto-api/config", timeout=30).read())
    assert config["lambda"]["use_docker"] is False
    assert emulator.stop(signal.SIGINT) == 130, emulator.stderr.rest()
    assert not process_alive(moto), "moto outlived the emulator command"


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_while_moto_starts_stops_it_too(emulator, signame):
    """Ctrl-C or SIGTERM before moto answers (moto is still importing): exit 130, moto gone."""
    import signal

    moto = emulator.moto_pid()
    assert emulator.stop(getattr(signal, signame)) == 130, emulator.stderr.rest()
    assert "interrupted" in emulator.stderr.rest()
    assert not process_alive(moto), "moto outlived the emulator command"


def test_sigterm_while_serving_stops_moto(emulator):
    import signal

    moto = emulator.moto_pid()
    emulator.stdout.wait_for("emulator ready:")
    assert emulator.stop(signal.SIGTERM) == 130, emulator.stderr.rest()
    assert "Traceback" not in emulator.stderr.rest()
    assert not process_alive(moto), "moto outlived the emulator command"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_sigkill_of_the_emulator_takes_moto_down(emulator):
    """SIGKILL runs no cleanup at all: the kernel's parent-death signal is what stops moto then."""
    import signal

    moto = emulator.moto_pid()
    emulator.stdout.wait_for("emulator ready:")
    emulator.stop(signal.SIGKILL)
    assert wait_until_gone(moto), "moto outlived a SIGKILLed emulator"


def test_state_bucket_never_writes_a_second_state_section():
    from lambdaform.commands import _with_state
    from lambdaform.errors import InputError

    assert _with_state("project: x\nenvironments: {dev: {}}\n", "x", "b") == (
        "project: x\n# Terraform state in S3, so CI jobs (which start from an empty workspace) share it.\n"
        "state:\n  backend: s3\n  bucket: b\n  key_prefix: x\nenvironments: {dev: {}}\n")
    with pytest.raises(InputError, match="has its own state: section"):
        _with_state("project: x\nstate: {backend: local}\n", "x", "b")
