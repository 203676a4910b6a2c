"""A synth never repeats work: unchanged inputs reuse the previous output without starting jsii, and a
change in any one input synthesizes anew."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from lambdaform import synth as synth_module
from lambdaform.loader import load_service
from lambdaform.synth import KEY_FILE, input_key, synthesize
from support import ROOT, write_service

SERVICE = """\
project: cached
environments: {dev: {}, prod: {}}
functions:
  hello: {runtime: provided.al2023, source: handlers/vela_runtime, handler: app.velac}
"""


@pytest.fixture()
def service(tmp_path):
    return write_service(tmp_path / "svc", SERVICE)


def key_of(path, out):
    loaded = load_service(path)
    return input_key(loaded, out.resolve(), list(loaded.environments))


def test_unchanged_input_reuses_the_output_and_says_so(service, tmp_path):
    out = tmp_path / "out"
    first = synthesize(load_service(service), out)
    assert not first.reused and (out / KEY_FILE).is_file()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    again = synthesize(load_service(service), out)
    assert again.reused
    assert again.stacks == first.stacks and again.packages == first.packages
    assert (out / "manifest.json").stat().st_mtime_ns == stamp, "the output was not rewritten"
    forced = synthesize(load_service(service), out, force=True)
    assert not forced.reused and (out / "manifest.json").stat().st_mtime_ns != stamp


def test_a_reused_synth_does_not_start_jsii(service, tmp_path):
    out = tmp_path / "out"
    synthesize(load_service(service), out)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from lambdaform.loader import load_service; from lambdaform.synth import synthesize;"
        "r = synthesize(load_service(sys.argv[2]), sys.argv[3]);"
        "print(r.reused, any(m == 'jsii' or m.startswith(('jsii.', 'cdktf')) for m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), str(service), str(out)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "False"]


def test_every_input_is_part_of_the_key(service, tmp_path, monkeypatch):
    out = tmp_path / "out"
    base = key_of(service, out)
    assert key_of(service, out) == base, "the key is stable"
    assert key_of(service, tmp_path / "elsewhere") != base, "output folder"

    text = service.read_text()
    service.write_text(text.replace("project: cached", "project: cached2"))
    assert key_of(service, out) != base, "service file"
    service.write_text(text)
    assert key_of(service, out) == base

    program = service.parent / "handlers" / "vela_runtime" / "app.velac"
    original = program.read_bytes()
    program.write_bytes(original + b"\n")
    assert key_of(service, out) != base, "handler tree"
    program.write_bytes(original)
    manifest = service.parent / "handlers" / "vela_runtime" / "requirements.txt"
    manifest.write_text("six==1.16.0\n")
    assert key_of(service, out) != base, "dependency manifest"
    manifest.unlink()
    assert key_of(service, out) == base

    real_version = metadata.version
    for dist in ("lambdaform", "cdktf-cdktf-provider-aws", "cdktf"):
        monkeypatch.setattr(synth_module.metadata, "version",
                            lambda name, d=dist: "9.9.9" if name == d else real_version(name))
        assert key_of(service, out) != base, dist
    monkeypatch.setattr(synth_module.metadata, "version", real_version)

    code = sorted(synth_module._code_files())
    monkeypatch.setattr(synth_module, "_code_files", lambda: code[:-1])
    assert key_of(service, out) != base, "lambdaform's own code and templates"


def test_a_changed_input_synthesizes_anew(service, tmp_path):
    out = tmp_path / "out"
    synthesize(load_service(service), out)
    program = service.parent / "handlers" / "vela_runtime" / "app.velac"
    program.write_bytes(program.read_bytes() + b"\n")
    again = synthesize(load_service(service), out)
    assert not again.reused
    stored = json.loads((out / KEY_FILE).read_text())
    assert stored["key"] == key_of(service, out)


def test_a_damaged_output_is_not_reused(service, tmp_path):
    out = tmp_path / "out"
    first = synthesize(load_service(service), out)
    (first.stack_dir("cached-dev") / "cdk.tf.json").unlink()
    assert not synthesize(load_service(service), out).reused
    assert (first.stack_dir("cached-dev") / "cdk.tf.json").is_file()
