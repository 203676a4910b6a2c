"""`terraform validate` accepts every stack of every environment of every example and of service.yaml."""

from __future__ import annotations

import pytest

from support import EXAMPLE_FILES, ROOT, synth_file, terraform_validate, write_service

SERVICE_FILES = [*EXAMPLE_FILES, ROOT / "service.yaml"]


@pytest.mark.slow
@pytest.mark.parametrize("service_file", SERVICE_FILES, ids=lambda p: p.name)
def test_every_stack_passes_terraform_validate(service_file, tf, tmp_path):
    result = synth_file(service_file, tmp_path / "out")
    stacks = [stack for env_stacks in result.stacks.values() for stack in env_stacks]
    assert len(result.stacks) >= 2 and stacks, result.stacks  # every environment, not only the first
    if service_file.name == "service.yaml":
        assert stacks[0] == "nl2sql-agent-ci", "the account's OIDC provider stack is validated too"
    for stack in stacks:
        terraform_validate(tf, result.stack_dir(stack), tmp_path / f"tf-data-{stack}")


@pytest.mark.slow
def test_ci_stacks_of_two_accounts_pass_terraform_validate(tf, tmp_path):
    """The account's GitHub OIDC provider stack (one per account) validates, and so do the service stacks that
    look it up; service.yaml's single ci stack is covered by the test above."""
    service = write_service(tmp_path / "svc", """
project: accts
environments: {dev: {account_id: '111111111111'}, prod: {account_id: '222222222222'}}
ci: {repository: acme/api, terraform_roles: true}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
""")
    result = synth_file(service, tmp_path / "out")
    assert result.stacks == {"dev": ["accts-ci-111111111111", "accts-dev"], "prod": ["accts-ci-222222222222", "accts-prod"]}
    for stack in (s for env_stacks in result.stacks.values() for s in env_stacks):
        terraform_validate(tf, result.stack_dir(stack), tmp_path / f"tf-data-{stack}")
