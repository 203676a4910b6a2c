"""`terraform validate` accepts every stack of every environment of every example and of service.yaml."""

from __future__ import annotations

import pytest

from support import EXAMPLE_FILES, ROOT, synth_file, terraform_validate

SERVICE_FILES = [*EXAMPLE_FILES, ROOT / "service.yaml"]


@pytest.mark.slow
@pytest.mark.parametrize("service_file", SERVICE_FILES, ids=lambda p: p.name)
def test_every_stack_passes_terraform_validate(service_file, tf, tmp_path):
    result = synth_file(service_file, tmp_path / "out")
    stacks = [stack for env_stacks in result.stacks.values() for stack in env_stacks]
    assert len(result.stacks) >= 2 and stacks, result.stacks  # every environment, not only the first
    for stack in stacks:
        terraform_validate(tf, result.stack_dir(stack), tmp_path / f"tf-data-{stack}")
