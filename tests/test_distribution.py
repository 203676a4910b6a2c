"""lambdaform as a tool a team installs: the wheel and sdist hold everything, and the installed wheel alone
takes a new repository from ``lambdaform init`` to a deployed, cleanly re-planned and destroyed service.

The installed wheel lives in a fresh virtualenv of its own. Its third-party dependencies (cdktf, the provider
binding, pydantic, ...) are not downloaded again: a ``.pth`` line points at this project's virtualenv's
site-packages, whose ``.pth`` files (the editable install of this checkout among them) are not processed,
so ``lambdaform`` itself can only come from the wheel - which the tests check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from lambdaform import __version__
from support import ROOT, build_distributions, venv_with_wheel, wheel_in

pytestmark = pytest.mark.slow

BLUEPRINTS = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
DEPLOYED = ("hello", "vela-runtime")
"""Blueprints the installed wheel deploys on the emulator (every example is deployed from the checkout by
tests/test_emulator.py; these two prove the installed tool does the same on its own)."""


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    return build_distributions(tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("build-src"))


def _wheel(dist: Path) -> Path:
    return wheel_in(dist)


def test_the_wheel_holds_the_tool_and_nothing_at_the_top_but_lambdaform(dist):
    names = zipfile.ZipFile(_wheel(dist)).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"lambdaform", f"lambdaform-{__version__}.dist-info"}, top
    for required in ("lambdaform/cli.py", "lambdaform/__main__.py", "lambdaform/constructs/function.py",
                     "lambdaform/_data/templates/Dockerfile.lambda.j2",
                     "lambdaform/_data/templates/workflows/terraform.yml.j2",
                     "lambdaform/_data/templates/scaffold/README.md.j2",
                     "lambdaform/_data/handlers/_kit/lambdaform_kit/logs.py"):
        assert required in names, required
    for blueprint in BLUEPRINTS:
        assert f"lambdaform/_data/examples/{blueprint}.yaml" in names
    handler_dirs = {name.split("/")[3] for name in names if name.startswith("lambdaform/_data/handlers/")}
    assert {"_kit", "hello", "api", "vela_runtime", "websocket", "deploy_hooks", "worker", "orders"} <= handler_dirs
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "lambdaform = lambdaform.cli:app" in zipfile.ZipFile(_wheel(dist)).read(entry_points).decode()


def test_the_sdist_builds_the_same_tool(dist):
    (sdist,) = dist.glob("lambdaform-*.tar.gz")
    names = tarfile.open(sdist).getnames()
    prefix = f"lambdaform-{__version__}/"
    for required in ("setup.py", "pyproject.toml", "main.py", "lambdaform/cli.py", "templates/scaffold/README.md.j2",
                     "handlers/hello/hello_app/handler.py", "examples/hello.yaml", "CHANGELOG.md"):
        assert prefix + required in names, required


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed (not editable); returns its bin folder."""
    return venv_with_wheel(tmp_path_factory.mktemp("venv") / "v", wheel_in(dist))


def _env(bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            **extra}


def run(bin_dir: Path, args: list[str], cwd: Path, timeout: int = 900, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(bin_dir / "lambdaform"), *args], cwd=cwd, env=_env(bin_dir, **env),
                          capture_output=True, text=True, timeout=timeout)
    return proc


def test_the_installed_wheel_is_the_lambdaform_that_runs(installed, tmp_path):
    proc = subprocess.run([str(installed / "python"), "-c", "import lambdaform, sys; print(lambdaform.__file__)"],
                          cwd=tmp_path, env=_env(installed), capture_output=True, text=True, check=True)
    assert proc.stdout.startswith(str(installed.parent)), proc.stdout
    assert not proc.stdout.startswith(str(ROOT))
    assert run(installed, ["--version"], tmp_path).stdout.strip() == f"lambdaform {__version__}"
    listing = run(installed, ["init", "--list"], tmp_path)
    assert listing.returncode == 0 and [line.split()[0] for line in listing.stdout.splitlines()] == BLUEPRINTS


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_init_validate_synth_hcl_workflows_from_the_installed_wheel(blueprint, installed, tmp_path):
    repo = tmp_path / "repo"
    proc = run(installed, ["init", str(repo), "--blueprint", blueprint, "--state-bucket", "acme-tfstate"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for expected in ("service.yaml", "README.md", ".gitignore", "cdktf.json", "package.json",
                     "requirements-lambdaform.txt", ".github/dependabot.yml", ".github/workflows/terraform.yml"):
        assert (repo / expected).is_file(), expected
    assert (repo / "requirements-lambdaform.txt").read_text().splitlines()[-1] == f"lambdaform=={__version__}"
    assert json.loads((repo / "package.json").read_text())["devDependencies"] == {"cdktf-cli": "0.21.0"}
    readme = (repo / "README.md").read_text()
    for command in ("lambdaform synth", "lambdaform plan --env dev", "lambdaform deploy --env dev"):
        assert command in readme
    for step in (["validate"], ["synth", "-q"], ["hcl", "--env", "dev", "--out", "hcl/dev", "-q"]):
        proc = run(installed, step, repo)
        assert proc.returncode == 0, f"{step}: {proc.stderr[-3000:]}"
    assert (repo / "cdktf.out" / "manifest.json").is_file() and (repo / "hcl" / "dev").is_dir()
    workflows = sorted((repo / ".github" / "workflows").glob("*.yml"))
    assert workflows
    for workflow in workflows:
        text = workflow.read_text()
        assert "main.py" not in text and "-e ." not in text, workflow.name
        assert "python -m pip install -r requirements-lambdaform.txt" in text
        assert 'lambdaform synth "$SERVICE_FILE"' in text
        assert f"Generated by lambdaform {__version__}" in text


@pytest.mark.emulator
@pytest.mark.parametrize("blueprint", DEPLOYED)
def test_the_installed_wheel_deploys_replans_clean_and_destroys(blueprint, installed, moto_endpoint, tmp_path):
    repo = tmp_path / "repo"
    assert run(installed, ["init", str(repo), "--blueprint", blueprint], tmp_path).returncode == 0
    common = ["--env", "dev", "--endpoint", moto_endpoint]
    deployed = run(installed, ["deploy", *common, "--yes", "--json"], repo)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert json.loads(deployed.stdout)["functions"][0]["name"].endswith("-dev-hello")
    replan = run(installed, ["plan", *common, "--detailed-exitcode"], repo)
    assert replan.returncode == 0, replan.stdout[-3000:] + replan.stderr[-3000:]
    destroyed = run(installed, ["destroy", *common, "--yes"], repo)
    assert destroyed.returncode == 0, destroyed.stderr[-3000:]


@pytest.mark.emulator
def test_npx_cdktf_synth_deploy_destroy_in_a_scaffolded_repository(installed, moto_endpoint, tf, tmp_path):
    """cdktf.json's app is the installed ``python -m lambdaform synth``; with LAMBDAFORM_ENDPOINT set the synth
    writes the emulator override, so cdktf's own deploy and destroy reach the emulator."""
    repo = tmp_path / "repo"
    assert run(installed, ["init", str(repo)], tmp_path).returncode == 0
    (repo / "node_modules").symlink_to(ROOT / "node_modules")  # the same pinned cdktf-cli, not downloaded again
    env = _env(installed, LAMBDAFORM_ENDPOINT=moto_endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_REGION="us-east-1", CI="1", TF_CLI_CONFIG_FILE=tf.env["TF_CLI_CONFIG_FILE"], CHECKPOINT_DISABLE="1")
    npx = shutil.which("npx")
    assert npx, "node/npx are required (make install)"
    import boto3

    lam = boto3.client("lambda", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    stack_dir = repo / "cdktf.out" / "stacks" / "hello-dev"
    for args in (["synth"], ["deploy", "hello-dev", "--auto-approve"], ["destroy", "hello-dev", "--auto-approve"]):
        proc = subprocess.run([npx, "--no-install", "cdktf", *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, f"cdktf {args}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        if args[0] == "synth":
            # Harness, not lambdaform: without a lock file cdktf runs `terraform providers lock`, which asks the
            # Terraform registry - unreachable here. An init against the provider mirror writes the lock file
            # (the reused synth keeps it), as a registry-connected machine's first deploy would.
            tf.run(["init", "-input=false", "-no-color"], cwd=stack_dir, extra_env={"TF_DATA_DIR": str(stack_dir / ".terraform")})
        deployed = "hello-dev-hello" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        if args[0] == "synth":
            assert (repo / "cdktf.out" / "stacks" / "hello-dev" / "zz_lambdaform_endpoint_override.tf.json").is_file()
        assert deployed == (args[0] == "deploy"), args
