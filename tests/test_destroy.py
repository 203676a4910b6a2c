"""destroy on a moto server: the account's shared GitHub OIDC provider stays while another environment uses
it, and ECR repositories that hold images are refused, deleted with --delete-images, or force-deleted.

Harness, as in tests/test_emulator.py: image functions need an image in ECR, so a minimal image manifest is
put into moto's ECR between the registry stack and the service stack (what `docker push` does for real).
"""

from __future__ import annotations

import boto3
import pytest
from typer.testing import CliRunner

from lambdaform.console import Output
from lambdaform.deploy import Deployment, RunOptions
from lambdaform.loader import load_service
from main import app
import support
from support import write_service

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
runner = CliRunner()

SHELF = """
project: shelf
account_id: '123456789012'          # moto's account: allowed_account_ids passes
environments:
  dev: {registry: {force_delete: true}}
  prod: {}
ci: {repository: acme/shelf}
functions:
  api: {package: image, source: handlers/api, handler: nl2sql_api.lambda_handler.handler, memory_mb: 256}
"""


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def push_placeholder_image(endpoint: str, repository: str, tag: str = "latest", layer: str = "0") -> None:
    """Moto derives the image digest from the layers, so ``layer`` tells images apart."""
    support.push_placeholder_image(client("ecr", endpoint), repository, tag, layer)


def repositories(endpoint: str) -> set[str]:
    return {r["repositoryName"] for r in client("ecr", endpoint).describe_repositories()["repositories"]}


def functions(endpoint: str) -> set[str]:
    return {f["FunctionName"] for f in client("lambda", endpoint).list_functions()["Functions"]}


def oidc_providers(endpoint: str) -> list[str]:
    return [p["Arn"] for p in client("iam", endpoint).list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def deploy_with_image(service_file, env: str, endpoint: str, out) -> list[str]:
    deployment = Deployment(load_service(service_file), RunOptions(env=env, out=out, endpoint=endpoint),
                            Output(quiet=True))
    deployment.synthesize()
    for stack in deployment.stacks:
        deployment.apply_stack(stack)
        if stack.endswith("-registry"):
            push_placeholder_image(endpoint, f"shelf-{env}-api")
    return deployment.stacks


def test_destroy_keeps_the_shared_oidc_provider_and_handles_images(module_moto, tmp_path):
    service_file = write_service(tmp_path / "svc", SHELF, handlers=("api",))
    out = tmp_path / "out"
    assert deploy_with_image(service_file, "dev", module_moto, out) == ["shelf-ci", "shelf-dev-registry", "shelf-dev"]
    assert deploy_with_image(service_file, "prod", module_moto, out) == ["shelf-prod-registry", "shelf-prod"]
    assert len(oidc_providers(module_moto)) == 1, "two environments of one account, one provider"
    roles = {r["RoleName"]: r for r in client("iam", module_moto).list_roles()["Roles"]}
    trusted = {role: r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]
               for role, r in roles.items() if role in ("shelf-dev-ci-deploy", "shelf-prod-ci-deploy")}
    assert set(trusted) == {"shelf-dev-ci-deploy", "shelf-prod-ci-deploy"}
    assert set(trusted.values()) == set(oidc_providers(module_moto))
    common = ["--endpoint", module_moto, "-o", str(out), "--yes", "-q"]

    # prod holds an image and has no force_delete: refused before anything is touched
    refused = runner.invoke(app, ["destroy", str(service_file), "--env", "prod", *common])
    assert refused.exit_code == 2, refused.output
    assert "shelf-prod-api (1 image)" in refused.stderr and "--delete-images" in refused.stderr
    assert "registry.force_delete: true" in refused.stderr and "Traceback" not in refused.stderr
    assert {"shelf-dev-api", "shelf-prod-api"} <= functions(module_moto)
    assert {"shelf-dev-api", "shelf-prod-api"} <= repositories(module_moto)

    # dev: force_delete lets terraform delete the image; the provider stays for prod
    dev = runner.invoke(app, ["destroy", str(service_file), "--env", "dev", *common])
    assert dev.exit_code == 0, dev.output
    lines = dev.stdout.splitlines()
    assert lines[0] == "destroyed dev: shelf-dev, shelf-dev-registry"
    assert "terraform deleted 1 image with the ECR repositories (registry.force_delete)" in lines
    kept = [line for line in lines if line.startswith("kept shelf-ci")]
    assert kept == [f"kept shelf-ci: the GitHub OIDC provider of account 123456789012, also used by prod; "
                    f"remove it with: lambdaform destroy {service_file} --env dev --stack shelf-ci"]
    assert "shelf-dev-api" not in functions(module_moto) and "shelf-dev-api" not in repositories(module_moto)
    assert len(oidc_providers(module_moto)) == 1

    # prod with --delete-images: the images go first, then every stack
    prod = runner.invoke(app, ["destroy", str(service_file), "--env", "prod", "--delete-images", *common])
    assert prod.exit_code == 0, prod.output
    assert prod.stdout.splitlines()[0] == "destroyed prod: shelf-prod, shelf-prod-registry (after deleting 1 image)"
    assert not {"shelf-prod-api"} & (functions(module_moto) | repositories(module_moto))

    # the kept stack goes when named
    ci = runner.invoke(app, ["destroy", str(service_file), "--env", "dev", "--stack", "shelf-ci", *common])
    assert ci.exit_code == 0, ci.output
    assert ci.stdout.splitlines() == ["destroyed dev: shelf-ci"]
    assert oidc_providers(module_moto) == []


def test_destroy_refuses_a_repository_with_images_before_synthesizing(module_moto, tmp_path):
    """The message names the repository, the count and both ways out; nothing is synthesized or destroyed.
    The repository is made with boto3 here: the refusal needs nothing but the repository and its images."""
    service_file = write_service(tmp_path / "svc", SHELF.replace("project: shelf", "project: crate"),
                                 handlers=("api",))
    ecr = client("ecr", module_moto)
    ecr.create_repository(repositoryName="crate-prod-api")
    push_placeholder_image(module_moto, "crate-prod-api", tag="v1")
    push_placeholder_image(module_moto, "crate-prod-api", tag="v2")  # same digest, two tags: one image
    push_placeholder_image(module_moto, "crate-prod-api", tag="v3", layer="1")
    out = tmp_path / "out"
    result = runner.invoke(app, ["destroy", str(service_file), "--env", "prod", "--endpoint", module_moto,
                                 "-o", str(out), "--yes"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        "error: Config error: ECR repository crate-prod-api (2 images) still holds images, and terraform cannot delete "
        "a repository that is not empty; nothing was destroyed. Pass --delete-images to delete them first, or set "
        f"registry.force_delete: true in {service_file} to let terraform delete them with the repository")
    assert not out.exists(), "refused before synthesizing"
    assert len(ecr.list_images(repositoryName="crate-prod-api")["imageIds"]) == 3
    # --delete-images counts images, not tags (nothing of crate-prod is deployed: its stacks destroy nothing)
    deleted = runner.invoke(app, ["destroy", str(service_file), "--env", "prod", "--endpoint", module_moto,
                                  "-o", str(out), "--yes", "--delete-images", "-q"])
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.splitlines()[0] == "destroyed prod: crate-prod, crate-prod-registry (after deleting 2 images)"
    assert ecr.list_images(repositoryName="crate-prod-api")["imageIds"] == []
    ecr.delete_repository(repositoryName="crate-prod-api")
