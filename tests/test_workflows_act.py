"""The generated workflows, executed: a repository scaffolded by the installed wheel (``lambdaform init``, the
``hello`` blueprint, S3 remote state) runs its ``.github/workflows/terraform.yml`` under nektos/act in host mode
against a moto server, every third-party action replaced by a stand-in of ``tests/act/`` (tests/act_harness.py).

Assertions are on what a team would look at: moto's state (functions, roles, log groups, the state bucket)
and the pull request's comments as the fake GitHub API recorded them, not only act's exit code.

Harness notes (none of them changes the generated workflows):
* act runs each job in a fresh folder under the harness's cache; the checkout stand-in refuses a non-empty
  workspace and clones the test's repository at GITHUB_SHA, so Terraform state can only come from S3.
* The workflow_dispatch plan reports in the job summary and the plan step's ``exitcode`` output; act
  prints both in its log (``Summary - ...``, ``::set-output:: exitcode=...``), where the test reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from act_harness import ROLE_VARS, Act, ActRun, commit_all, git
from lambdaform.workflows import PLAN_COMMENT_MARKER, TERRAFORM_WORKFLOW
from support import build_distributions, venv_with_wheel, wheel_in

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

ENVIRONMENTS = ("dev", "prod")
REGION = "us-east-1"


def aws(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def act(tmp_path_factory, module_moto, tf):
    """The harness: the wheel built from this checkout, a virtualenv with pip holding it, the module's moto."""
    dist = build_distributions(tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("build-src"))
    wheels = tmp_path_factory.mktemp("wheels")
    shutil.copy2(wheel_in(dist), wheels)
    venv = venv_with_wheel(tmp_path_factory.mktemp("venv") / "v", wheel_in(dist), with_pip=True).parent
    config = Path(tf.env["TF_CLI_CONFIG_FILE"])
    tf_env = {"TF_CLI_CONFIG_FILE": str(config), "TF_PLUGIN_CACHE_DIR": str(config.parent / "plugin-cache")}
    harness = Act(tmp_path_factory.mktemp("act"), venv=venv, wheel_dir=wheels, moto=module_moto, tf_env=tf_env)
    started = time.monotonic()
    yield harness
    runs = ", ".join(f"{label} {run.seconds:.0f}s" for label, run in harness.history)
    print(f"\ntest_workflows_act: {time.monotonic() - started:.0f}s of act runs on this worker ({runs})")


def scaffold(act: Act, folder: Path, bucket: str, blueprint: str = "hello") -> Path:
    """``lambdaform init --state-bucket`` (installed wheel), the bucket created on moto, committed on main."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{act.venv / 'bin'}{os.pathsep}{env['PATH']}"
    repo = folder / "repo"
    proc = subprocess.run([str(act.venv / "bin" / "lambdaform"), "init", str(repo), "--blueprint", blueprint,
                           "--state-bucket", bucket], env=env, capture_output=True, text=True, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert (repo / TERRAFORM_WORKFLOW).is_file(), proc.stdout
    aws("s3", act.moto).create_bucket(Bucket=bucket)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", "https://github.com/acme/hello.git")
    commit_all(repo, "lambdaform init")
    return repo


def succeeded(run: ActRun, *jobs: str) -> None:
    assert run.returncode == 0, run.tail()
    assert not run.leftovers, f"processes of the act run outlived it:\n{run.tail()}"
    results = run.job_results()
    for job in jobs:
        assert results.get(job) == "succeeded", f"{job}: {results}\n{run.tail()}"


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def assert_clean_workspaces(act: Act, run: ActRun, at_least: int) -> None:
    """Each job that checked out did so into an empty workspace of its own (the stand-in refuses a non-empty
    one), and act removed them all after the run."""
    checkouts = jsonl(act.store / "checkouts.jsonl")
    assert len(checkouts) >= at_least, checkouts
    assert len({c["workspace"] for c in checkouts}) == len(checkouts), checkouts
    assert run.workspaces_left == ()
    assert not any(Path(c["workspace"]).exists() for c in checkouts)


def github_store(act: Act) -> dict:
    return json.loads((act.store / "github.json").read_text())


def pr_event(number: int, sha: str) -> dict:
    return {"number": number, "action": "synchronize",
            "pull_request": {"number": number, "head": {"ref": "feature", "sha": sha, "repo": {"fork": False}},
                             "base": {"ref": "main"}},
            "repository": {"full_name": "acme/hello", "name": "hello", "owner": {"login": "acme"}}}


def push_event(before: str, after: str) -> dict:
    return {"ref": "refs/heads/main", "before": before, "after": after,
            "repository": {"full_name": "acme/hello", "name": "hello", "owner": {"login": "acme"}}}


def dispatch_event(action: str, environment: str, **inputs: str) -> dict:
    return {"inputs": {"action": action, "environment": environment, **inputs}, "ref": "refs/heads/main",
            "repository": {"full_name": "acme/hello", "name": "hello", "owner": {"login": "acme"}}}


def test_pull_request_plans_every_environment_and_updates_its_comments_in_place(act, tmp_path):
    act.new_store("pull-request")
    repo = scaffold(act, tmp_path, "lf-act-pr-state")
    git(repo, "checkout", "-q", "-b", "feature")
    first = commit_all(repo, "feature: first push")
    functions_before = set(functions(act.moto))

    run = act.run(repo, "pull_request", pr_event(7, first), "pr-1")
    succeeded(run, *(f"plan ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)),
              *(f"comment ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)))
    assert_clean_workspaces(act, run, at_least=len(ENVIRONMENTS))  # every plan job checks out
    store = github_store(act)
    comments = {c["body"].splitlines()[0]: c for c in store["comments"]}
    assert sorted(comments) == sorted(PLAN_COMMENT_MARKER.format(environment=env) for env in ENVIRONMENTS)
    for env in ENVIRONMENTS:
        comment = comments[PLAN_COMMENT_MARKER.format(environment=env)]
        assert (comment["owner"], comment["repo"], comment["issue_number"]) == ("acme", "hello", 7)
        assert comment["user"]["type"] == "Bot"
        assert f"- `hello-{env}`: Plan: 7 to add, 0 to change, 0 to destroy." in comment["body"], comment["body"]
        assert "Changes to apply on merge." in comment["body"]
    routes = [call["route"] for call in store["calls"]]
    assert sorted(routes) == sorted(["issues.listComments", "issues.createComment"] * len(ENVIRONMENTS))
    roles = jsonl(act.store / "assumed-roles.jsonl")
    assert sorted(r["environment"] for r in roles) == sorted(ENVIRONMENTS)
    assert {r["role"] for r in roles} == {ROLE_VARS["AWS_PLAN_ROLE_ARN"]}
    assert set(functions(act.moto)) == functions_before, "a plan must not deploy anything"

    # A second push to the pull request: the same comments, updated in place.
    service = repo / "service.yaml"
    service.write_text(service.read_text().replace("memory_mb: 256", "memory_mb: 512"))
    second = commit_all(repo, "feature: more memory", ["service.yaml"])
    run = act.run(repo, "pull_request", pr_event(7, second), "pr-2")
    succeeded(run, *(f"plan ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)),
              *(f"comment ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)))
    store = github_store(act)
    assert len(store["comments"]) == len(ENVIRONMENTS)
    for comment in store["comments"]:
        before = comments[comment["body"].splitlines()[0]]
        assert comment["id"] == before["id"] and comment["updates"] == 1
        assert "memory_size" in comment["body"] and "512" in comment["body"]
    new_routes = [call["route"] for call in store["calls"]][len(routes):]
    assert sorted(new_routes) == sorted(["issues.listComments", "issues.updateComment"] * len(ENVIRONMENTS))


def functions(endpoint: str) -> dict[str, dict]:
    lam = aws("lambda", endpoint)
    return {f["FunctionName"]: lam.get_function_configuration(FunctionName=f["FunctionName"])
            for f in lam.list_functions()["Functions"]}


def leftovers(endpoint: str, prefix: str) -> dict[str, list[str]]:
    """Functions, IAM roles and log groups whose name carries ``prefix``."""
    return {
        "functions": [name for name in functions(endpoint) if name.startswith(prefix)],
        "roles": [r["RoleName"] for r in aws("iam", endpoint).list_roles()["Roles"] if r["RoleName"].startswith(prefix)],
        "log groups": [g["logGroupName"] for g in aws("logs", endpoint).describe_log_groups()["logGroups"]
                       if prefix in g["logGroupName"]],
    }


def plan_exitcodes(run: ActRun) -> list[str]:
    return [line.rsplit("exitcode=", 1)[1].strip() for line in run.output.splitlines()
            if "::set-output:: exitcode=" in line]


def test_push_deploys_every_environment_then_replans_clean_destroys_dev_and_deploys_again(act, tmp_path):
    act.new_store("main")
    bucket = "lf-act-main-state"
    repo = scaffold(act, tmp_path, bucket)
    assert not [name for name in functions(act.moto) if name.startswith("hello-")], "moto must start empty"
    base = git(repo, "rev-parse", "HEAD")

    run = act.run(repo, "push", push_event("0" * 40, base), "push-1")
    succeeded(run, *(f"apply ({env})" for env in ENVIRONMENTS))
    assert_clean_workspaces(act, run, at_least=len(ENVIRONMENTS))
    deployed = functions(act.moto)
    for env in ENVIRONMENTS:
        assert f"hello-{env}-hello" in deployed, sorted(deployed)
        assert all(leftovers(act.moto, f"hello-{env}").values()), leftovers(act.moto, f"hello-{env}")
    assert {r["role"] for r in jsonl(act.store / "assumed-roles.jsonl")} == {ROLE_VARS["AWS_APPLY_ROLE_ARN"]}
    # The workspaces are gone: the state lives in the bucket, one object per stack.
    keys = [o["Key"] for o in aws("s3", act.moto).list_objects_v2(Bucket=bucket).get("Contents", [])]
    for env in ENVIRONMENTS:
        assert [k for k in keys if f"hello-{env}" in k and k.endswith(".tfstate")], keys

    run = act.run(repo, "workflow_dispatch", dispatch_event("plan", "dev"), "replan-dev")
    succeeded(run, "plan (dev)")  # a one-entry matrix: act adds no index
    assert plan_exitcodes(run) == ["0"], f"the re-plan after apply is not clean:\n{run.tail()}"
    assert "- `hello-dev`: No changes. Your infrastructure matches the configuration." in run.output

    run = act.run(repo, "workflow_dispatch", dispatch_event("destroy", "dev"), "destroy-dev")
    succeeded(run, "destroy (dev)")
    assert "apply (dev)" not in run.job_results() and "destroy (prod)" not in run.job_results()
    assert leftovers(act.moto, "hello-dev") == {"functions": [], "roles": [], "log groups": []}
    assert "hello-prod-hello" in functions(act.moto)

    service = repo / "service.yaml"
    service.write_text(service.read_text().replace("DEFAULT_NAME: world", "DEFAULT_NAME: again"))
    again = commit_all(repo, "say hello again", ["service.yaml"])
    run = act.run(repo, "push", push_event(base, again), "push-2")
    succeeded(run, *(f"apply ({env})" for env in ENVIRONMENTS))
    deployed = functions(act.moto)
    for env in ENVIRONMENTS:
        assert deployed[f"hello-{env}-hello"]["Environment"]["Variables"]["DEFAULT_NAME"] == "again"


def test_a_job_without_its_role_variable_stops_before_terraform(act, tmp_path):
    """OIDC mode: the role comes from a repository variable; unset, the credentials step fails the job."""
    act.new_store("no-role")
    repo = scaffold(act, tmp_path, "lf-act-no-role-state")
    run = act.run(repo, "workflow_dispatch", dispatch_event("plan", "dev"), "no-role", variables={})
    assert run.returncode != 0 and run.job_results().get("plan (dev)") == "failed", run.tail()
    assert "❗  ::error::role-to-assume is empty" in run.output, run.tail()  # the step's error, not its echoed script
    assert "::set-output:: exitcode=" not in run.output, "terraform must not run without credentials"
    assert not run.leftovers


def test_an_image_service_from_an_empty_account_to_deployed_destroyed_and_deployed_again(act, tmp_path):
    """nl2sql-agent, the whole life: a pull request before anything exists plans cleanly (the service stacks
    wait for their first image); a push applies per environment the registry, pushes the image tagged with the
    commit (the fake docker puts a placeholder manifest into moto's ECR) and applies the service with that
    tag; a re-plan is clean; a manual destroy with delete_images leaves nothing of dev; the next push deploys
    dev again."""
    act.new_store("image")
    repo = scaffold(act, tmp_path, "lf-act-image-state", blueprint="nl2sql-agent")
    sha = git(repo, "rev-parse", "HEAD")
    assert not [n for n in functions(act.moto) if n.startswith("nl2sql-agent-")], "moto must start empty"

    git(repo, "checkout", "-q", "-b", "feature")
    feature = commit_all(repo, "feature: empty change")
    run = act.run(repo, "pull_request", pr_event(3, feature), "image-pr")
    succeeded(run, *(f"plan ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)),
              *(f"comment ({env})-{i}" for i, env in enumerate(ENVIRONMENTS, 1)))
    bodies = {c["body"].splitlines()[0]: c["body"] for c in github_store(act)["comments"]}
    for env in ENVIRONMENTS:
        body = bodies[PLAN_COMMENT_MARKER.format(environment=env)]
        assert f"- `nl2sql-agent-{env}-registry`: Plan: " in body, body
        assert f"- `nl2sql-agent-{env}`: Waits for the first image: nl2sql-agent-{env}-api:latest not in ECR yet" in body, body
        assert "Plan failed" not in body
    assert "- `nl2sql-agent-ci`: Plan: 1 to add" in bodies[PLAN_COMMENT_MARKER.format(environment="dev")]
    git(repo, "checkout", "-q", "main")

    run = act.run(repo, "push", push_event("0" * 40, sha), "image-push")
    succeeded(run, *(f"apply ({env})" for env in ENVIRONMENTS))
    assert_clean_workspaces(act, run, at_least=len(ENVIRONMENTS))
    ecr = aws("ecr", act.moto)
    deployed = functions(act.moto)
    for env in ENVIRONMENTS:
        name = f"nl2sql-agent-{env}-api"
        (pushed,) = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": sha}])["imageDetails"]
        repository_uri = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
        # the service stack resolves the commit's tag to its digest and deploys that
        image_uri = aws("lambda", act.moto).get_function(FunctionName=name)["Code"]["ImageUri"]
        assert image_uri == f"{repository_uri}@{pushed['imageDigest']}", image_uri
        assert deployed[name]["PackageType"] == "Image"
    builds = [c for c in jsonl(act.store / "docker.jsonl") if c["args"][:2] == ["buildx", "build"]]
    assert len(builds) == len(ENVIRONMENTS), builds
    roles = {r["role"] for r in jsonl(act.store / "assumed-roles.jsonl")}
    assert ROLE_VARS["AWS_APPLY_ROLE_ARN"] in roles and ROLE_VARS["AWS_DEPLOY_ROLE_ARN"] in roles, roles
    # dev and prod share the moto account: its one GitHub OIDC provider comes from the account's ci stack
    assert len(aws("iam", act.moto).list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1

    run = act.run(repo, "workflow_dispatch", dispatch_event("plan", "dev"), "image-replan")
    succeeded(run, "plan (dev)")
    assert plan_exitcodes(run) == ["0"], f"the re-plan after apply is not clean:\n{run.tail()}"

    run = act.run(repo, "workflow_dispatch", dispatch_event("destroy", "dev", delete_images="true"), "image-destroy")
    succeeded(run, "destroy (dev)")
    assert "kept nl2sql-agent-ci" in run.output, "prod still trusts the account's OIDC provider"
    assert leftovers(act.moto, "nl2sql-agent-dev") == {"functions": [], "roles": [], "log groups": []}
    assert not [r for r in ecr.describe_repositories()["repositories"] if r["repositoryName"].startswith("nl2sql-agent-dev-")]
    assert "nl2sql-agent-prod-api" in functions(act.moto)
    assert len(aws("iam", act.moto).list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1

    again = commit_all(repo, "after the destroy")
    run = act.run(repo, "push", push_event(sha, again), "image-push-2")
    succeeded(run, *(f"apply ({env})" for env in ENVIRONMENTS))
    (pushed,) = ecr.describe_images(repositoryName="nl2sql-agent-dev-api", imageIds=[{"imageTag": again}])["imageDetails"]
    assert aws("lambda", act.moto).get_function(FunctionName="nl2sql-agent-dev-api")["Code"]["ImageUri"].endswith(
        f"@{pushed['imageDigest']}")
