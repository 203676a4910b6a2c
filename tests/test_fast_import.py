"""The light provider import (lambdaform/constructs/_provider.py) must not change a byte of the synthesized output."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from support import ROOT


def tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def synth(service, out, full):
    env = {**os.environ}
    env.pop("LAMBDAFORM_FULL_PROVIDER_IMPORT", None)
    if full:
        env["LAMBDAFORM_FULL_PROVIDER_IMPORT"] = "1"
    probe = ("import runpy, sys; sys.argv = ['main.py', 'synth', %r, '--out', %r, '-q']\n"
             "try:\n    runpy.run_path(%r, run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
             "import lambdaform.constructs as constructs\nprint('MODE', constructs.IMPORT_MODE, len([m for m in sys.modules "
             "if m.startswith('cdktf_cdktf_provider_aws.')]))") % (str(service), str(out), str(ROOT / "main.py"))
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    mode, count = proc.stdout.strip().splitlines()[-1].split()[1:]
    return mode, int(count)


@pytest.mark.slow
@pytest.mark.parametrize("service", [ROOT / "service.yaml", ROOT / "examples" / "websocket-sensors.yaml"],
                         ids=lambda p: p.name)
def test_light_and_ordinary_import_synthesize_identical_bytes(service, tmp_path):
    light_mode, light_count = synth(service, tmp_path / "light", full=False)
    full_mode, full_count = synth(service, tmp_path / "full", full=True)
    assert (light_mode, full_mode) == ("light", "full")
    assert full_count > 2000, "the ordinary import loads every submodule"
    assert light_count < 200, f"the light import loaded {light_count} of the 2,135 submodules"
    assert tree(tmp_path / "light" / "stacks") == tree(tmp_path / "full" / "stacks")
