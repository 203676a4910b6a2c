"""Helpers shared by the tests: synthesize service files and read what came out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HANDLERS = ROOT / "handlers"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def synth_file(service_file: Path, out: Path, envs: list[str] | None = None, *, force: bool = False):
    from lambdaform.loader import load_service
    from lambdaform.synth import synthesize

    return synthesize(load_service(service_file), out, environments=envs, force=force)


def stack_json(out: Path, stack: str) -> dict[str, Any]:
    return json.loads((out / "stacks" / stack / "cdk.tf.json").read_text())


def resources(document: dict[str, Any], rtype: str) -> dict[str, Any]:
    return document.get("resource", {}).get(rtype, {})


def only(document: dict[str, Any], rtype: str) -> dict[str, Any]:
    items = resources(document, rtype)
    assert len(items) == 1, f"expected one {rtype}, found {sorted(items)}"
    return next(iter(items.values()))


def policy_of(resource: dict[str, Any], attribute: str = "policy") -> dict[str, Any]:
    return json.loads(resource[attribute])


def placeholder_manifest(layer: str | None = None) -> str:
    """A minimal image manifest, what the harness puts into moto's ECR where a real ``docker push`` would
    put an image (moto derives the digest from the layers: a ``layer`` hex digit tells images apart)."""
    layers = [] if layer is None else [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                        "size": 1, "digest": "sha256:" + layer * 64}]
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                                  "digest": "sha256:" + "0" * 64},
                       "layers": layers})


def push_placeholder_image(ecr, repository: str, tag: str = "latest", layer: str | None = None) -> str:
    """Put :func:`placeholder_manifest` into ``repository`` under ``tag`` with the boto3 ECR client ``ecr``;
    returns the image digest."""
    result = ecr.put_image(repositoryName=repository, imageManifest=placeholder_manifest(layer), imageTag=tag)
    return result["image"]["imageId"]["imageDigest"]


def write_service(folder: Path, text: str, handlers: tuple[str, ...] = ("vela_runtime",)) -> Path:
    """A service file in ``folder`` with copies of the named handler folders under ``folder/handlers``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in handlers:
        shutil.copytree(HANDLERS / name, folder / "handlers" / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "service.yaml"
    path.write_text(text)
    return path


class Lines:
    """The lines of a subprocess's text stream, read by a daemon thread so a test can wait for one with a
    deadline (a bare ``readline()`` waits forever when the line never comes)."""

    def __init__(self, stream) -> None:
        import queue
        import threading

        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        """The first line (not seen before) containing ``text``; fails at EOF or after ``timeout`` seconds."""
        import queue
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout:.0f}s:\n{''.join(self.seen)}") from None
            if line is None:
                self._queue.put(None)
                raise AssertionError(f"the stream ended without a line with {text!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 60) -> str:
        """Every line up to the end of the stream (or what came within ``timeout`` seconds)."""
        import queue
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)
                break
            self.seen.append(line)
        return "".join(self.seen)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def terraform_validate(tf, stack_dir: Path, data_dir: Path) -> None:
    """``terraform init -backend=false`` + ``validate`` of one synthesized stack (TF_DATA_DIR in ``data_dir``)."""
    env = {"TF_DATA_DIR": str(data_dir)}
    tf.run(["init", "-backend=false", "-input=false", "-no-color"], stack_dir, extra_env=env)
    proc = tf.run(["validate", "-no-color"], stack_dir, check=False, extra_env=env)
    assert proc.returncode == 0, f"{stack_dir.name}:\n{proc.stdout}{proc.stderr}"
    assert "The configuration is valid" in proc.stdout, proc.stdout


def json_values(value: Any) -> Any:
    """``value`` (a plan, or part of one) with every string that holds a JSON object or array replaced by
    ``{"(json)": parsed}``: the HCL export writes such attributes as ``jsonencode({...})``, whose text has
    sorted keys and no whitespace, so plans are compared by the documents' values; every other string,
    number and structure stays compared exactly."""
    if isinstance(value, dict):
        return {k: json_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_values(v) for v in value]
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, (dict, list)):
            return {"(json)": parsed}
    return value


def build_distributions(out: Path, build_dir: Path) -> Path:
    """Build lambdaform's sdist and wheel into ``out`` from a copy of what a clone of ROOT holds (a build writes
    build/ and *.egg-info into its source tree); returns ``out``."""
    source = build_dir / "lambdaform"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        origin = ROOT / relative
        if origin.is_file() and not origin.is_symlink():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / relative)
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def wheel_in(dist: Path) -> Path:
    (wheel,) = dist.glob("lambdaform-*.whl")
    return wheel


def venv_with_wheel(venv: Path, wheel: Path, *, with_pip: bool = False) -> Path:
    """A fresh virtualenv at ``venv`` with ``wheel`` installed (not editable, no dependencies); returns its bin
    folder, which has a ``lambdaform`` command.

    The dependencies (cdktf, the provider binding, pydantic, ...) are not downloaded again: a ``.pth`` line
    points at this project's virtualenv's site-packages, whose own ``.pth`` files (the editable install of this
    checkout among them) are not processed, so ``lambdaform`` itself can only come from the wheel. ``with_pip``
    gives the virtualenv its own pip (a workflow's ``python -m pip install`` runs in it)."""
    subprocess.run([sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # pip installs the wheel as a user's pip would (file modes kept: a blueprint's bootstrap stays executable)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    (site / "zz_lambdaform_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    bin_dir = venv / "bin"
    (bin_dir / "lambdaform").write_text(f"#!{python}\nimport sys\nfrom lambdaform.cli import app\nsys.exit(app())\n")
    (bin_dir / "lambdaform").chmod(0o755)
    return bin_dir
