"""An image service from an empty account, the way the generated terraform.yml runs it: every step is a
fresh copy of the repository (CI jobs share no workspace), and only the S3 state on the emulator links them.

1. pull request: the registry plans, the service stack "waits for the first image" (no failed plan);
2. push: ``deploy --stack registry``, push the image tagged with the commit, ``deploy --var api_image_tag``;
   a deploy before the image is pushed stops with what to do instead of terraform's data-source error;
3. a later plan is clean; 4. destroy leaves nothing of dev in ECR, Lambda or the state bucket (the
   account's ci stack, which prod trusts too, stays).

Harness: moto's ECR gets a placeholder manifest where CI runs ``docker buildx build --push`` (see
tests/test_emulator.py for that and the other moto gaps).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lambdaform.commands import scaffold
from lambdaform.console import Output
from lambdaform.deploy import WAITS_FOR_IMAGE, Deployment, RunOptions
from lambdaform.errors import ToolError
from lambdaform.loader import load_service
from test_emulator import client, harness_overrides, push_placeholder_image

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
BUCKET = "first-deploy-tfstate"
COMMIT = "3f2c1e0b9a8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e"


@pytest.fixture(scope="module")
def moto_endpoint(module_moto) -> str:
    """A moto of this module's own: the test keeps the account's ci stack (prod trusts it), which must not
    meet another test's account (its GitHub OIDC provider would already exist there)."""
    return module_moto


@pytest.fixture(scope="module")
def repository(tmp_path_factory, moto_endpoint) -> Path:
    client("s3", moto_endpoint).create_bucket(Bucket=BUCKET)
    folder = tmp_path_factory.mktemp("repo") / "nl2sql"
    scaffold(folder, "nl2sql-agent", state_bucket=BUCKET)
    return folder


def job(repository: Path, tmp_path: Path, endpoint: str, name: str, **options) -> Deployment:
    """A CI job: a clean copy of the repository (no .lambdaform/, no synth output) and a synthesized env."""
    workspace = tmp_path / name
    shutil.copytree(repository, workspace, ignore=shutil.ignore_patterns(".lambdaform", "cdktf.out"))
    deployment = Deployment(load_service(workspace / "service.yaml"),
                            RunOptions(env="dev", out=workspace / "cdktf.out", endpoint=endpoint, **options),
                            Output(quiet=True))
    deployment.synthesize()
    harness_overrides(deployment)
    return deployment


def test_an_image_service_goes_from_an_empty_account_to_deployed_and_back(repository, moto_endpoint, tmp_path):
    lam, ecr = client("lambda", moto_endpoint), client("ecr", moto_endpoint)
    # 1. pull request
    code, text = job(repository, tmp_path, moto_endpoint, "pr").plan(detailed_exitcode=True)
    assert code == 2
    registry, service = text.split("# stack nl2sql-agent-dev\n")
    assert "aws_ecr_repository." in registry and "will be created" in registry and "Plan: " in registry
    assert service.startswith(f"{WAITS_FOR_IMAGE}: nl2sql-agent-dev-api:latest not in ECR yet"), service

    # 2. push: registry, then (before any image) the service stack refuses with the way out, then the image
    job(repository, tmp_path, moto_endpoint, "push-registry", stacks=("registry",)).apply()
    early = job(repository, tmp_path, moto_endpoint, "push-early", variables={"api_image_tag": COMMIT})
    with pytest.raises(ToolError, match=f"deploys nl2sql-agent-dev-api:{COMMIT}, which is not in ECR yet"):
        early.apply_stack("nl2sql-agent-dev")
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "nl2sql-agent-dev-api"]
    digest = push_placeholder_image(moto_endpoint, "nl2sql-agent-dev-api", COMMIT)
    push_placeholder_image(moto_endpoint, "nl2sql-agent-dev-api", "latest")
    result = job(repository, tmp_path, moto_endpoint, "push-service", variables={"api_image_tag": COMMIT}).apply()
    (row,) = result.functions
    assert row.name == "nl2sql-agent-dev-api"
    assert lam.get_function(FunctionName=row.name)["Code"]["ImageUri"].endswith(f"@{digest}")

    # 3. the next pull request: latest and the commit's tag are the same image, nothing to change
    code, text = job(repository, tmp_path, moto_endpoint, "replan").plan(detailed_exitcode=True)
    assert code == 0, text

    # 4. destroy, as `destroy --delete-images` runs it: the images go just before the registry stack (the
    # service stack reads its image until destroyed); the account's ci stack stays (prod trusts it too)
    destroy = job(repository, tmp_path, moto_endpoint, "destroy")
    held = destroy.held_images()
    assert list(held) == ["nl2sql-agent-dev-api"]
    result = destroy.destroy(delete_images=held)
    assert result.images_deleted == 1 and "nl2sql-agent-ci" not in result.destroyed
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("nl2sql-agent-dev-")]
    assert not [r for r in ecr.describe_repositories()["repositories"] if r["repositoryName"].startswith("nl2sql-agent-dev-")]
    s3 = client("s3", moto_endpoint)
    states = {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
              for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert {key.rsplit("/", 1)[-1] for key in states} == {
        "nl2sql-agent-ci.tfstate", "nl2sql-agent-dev-registry.tfstate", "nl2sql-agent-dev.tfstate"}, \
        "state lives in the bucket, not in any job's workspace"
    for key, body in states.items():
        assert (b'"resources": []' in body) != key.endswith("nl2sql-agent-ci.tfstate"), key
    # and the provider goes when asked for by name
    job(repository, tmp_path, moto_endpoint, "destroy-ci", stacks=("nl2sql-agent-ci",)).destroy()
    assert client("iam", moto_endpoint).list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
