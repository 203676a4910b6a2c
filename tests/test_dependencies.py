"""Dependencies of zip functions and layers (lambdaform.dependencies): real installs from PyPI with uv.

What a user relies on: the zip holds their code plus dependencies built for Lambda's platform (ELF machine
of the .so files, importable with nothing else on sys.path), the bytes are the same on every cold or warm
build, a warm build starts no uv and touches no network, and a package Lambda cannot run is refused with a
message that names it and the ways out.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from lambdaform import dependencies
from lambdaform.dependencies import (
    DIRECT_UPLOAD_LIMIT,
    UNZIPPED_LIMIT,
    DependencyError,
    DependencyToolError,
    Target,
    build_function_zip,
    build_layer_zip,
    check_sizes,
    find_manifest,
    needs_s3_upload,
    unzipped_size,
)
from lambdaform.errors import InputError
from lambdaform.packaging import Package, assemble_zip, build_zip, collect, compress_member, members, write_zip

SIX_HASH = "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
ELF_MACHINE = {"x86_64": 62, "arm64": 183}


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    """One uv download cache for the session (never the user's own)."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def cache(tmp_path, monkeypatch, uv_cache) -> Path:
    """A fresh lambdaform cache: every test starts cold."""
    folder = tmp_path / "lambdaform-cache"
    monkeypatch.setenv("LAMBDAFORM_CACHE_DIR", str(folder))
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    return folder


@pytest.fixture
def uv_calls(monkeypatch) -> list[list[str]]:
    """Every process lambdaform starts, recorded (and still run)."""
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(args, *rest, **kwargs):
        calls.append(list(args))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(dependencies.subprocess, "run", spy)
    return calls


def function(tmp_path: Path, files: dict[str, str], name: str = "fn") -> Path:
    source = tmp_path / name
    source.mkdir()
    for rel, text in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    return source


APP = "import requests, pydantic\n\ndef handler(event, context):\n    return {'ok': True}\n"
REQS = "requests==2.32.3\npydantic==2.9.2\n"


def extract(package: Package, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        archive.extractall(folder)
    return folder


def so_machines(package: Package) -> dict[str, int]:
    machines = {}
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        for name in archive.namelist():
            if name.endswith(".so"):
                header = archive.read(name)[:20]
                assert header[:4] == b"\x7fELF", name
                machines[name] = int.from_bytes(header[18:20], "little")
    return machines


# --- targets and manifests ------------------------------------------------------------------------------


def test_target_maps_lambda_runtimes_to_the_platform_their_os_runs():
    assert Target.from_runtime("python3.12", "arm64").python_platform == "aarch64-manylinux_2_34"
    assert Target.from_runtime("python3.13").python_platform == "x86_64-manylinux_2_34"
    # python3.10 / 3.11 run on Amazon Linux 2 (glibc 2.26): manylinux_2_34 wheels would not load there.
    assert Target.from_runtime("python3.11").python_platform == "x86_64-manylinux2014"
    assert Target.from_runtime("python3.10", "arm64").python_platform == "aarch64-manylinux2014"
    with pytest.raises(InputError, match="not a Python runtime"):
        Target.from_runtime("nodejs20.x")
    with pytest.raises(InputError, match="architecture"):
        Target("3.12", "ppc64le")  # type: ignore[arg-type]


def test_find_manifest_prefers_uv_lock_then_pyproject_dependencies_then_requirements(tmp_path):
    source = function(tmp_path, {"app.py": "", "requirements.txt": "six\n",
                                 "pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n"})
    manifest = find_manifest(source)
    assert manifest.kind == "requirements.txt" and manifest.excludes == ("requirements.txt",)
    (source / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\ndependencies = ['six']\n")
    assert find_manifest(source).kind == "pyproject.toml"
    (source / "uv.lock").write_text("version = 1\n")
    assert find_manifest(source).excludes == ("pyproject.toml", "uv.lock")
    (source / "requirements.txt").unlink()
    (source / "pyproject.toml").unlink()
    with pytest.raises(DependencyError, match="needs its pyproject.toml"):
        find_manifest(source)
    assert find_manifest(function(tmp_path, {"app.py": ""}, "plain")) is None


def test_a_function_without_manifest_packages_exactly_as_before(tmp_path, cache, uv_calls):
    source = function(tmp_path, {"app.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"})
    assert build_function_zip(source).data == build_zip(source).data
    assert uv_calls == []


def test_precompressed_members_give_the_same_bytes_as_the_zip_writer():
    entries = collect(Path(__file__).resolve().parent.parent / "lambdaform")
    written = write_zip(entries)
    assert assemble_zip([compress_member(rel, path) for rel, path in entries]).data == written.data
    assert assemble_zip(members(written)).data == written.data


# --- installs for Lambda's platform ---------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_compiled_and_pure_dependencies_are_built_for_the_lambda_architecture(tmp_path, cache, architecture):
    source = function(tmp_path, {"app.py": APP, "requirements.txt": REQS})
    package = build_function_zip(source, target=Target("3.12", architecture))
    names = set(package.files)
    assert {"app.py", "requests/__init__.py", "pydantic/__init__.py", "pydantic_core/__init__.py"} <= names
    machines = so_machines(package)
    assert any(name.startswith("pydantic_core/_pydantic_core.cpython-312") for name in machines)
    assert set(machines.values()) == {ELF_MACHINE[architecture]}
    # canonical: no bytecode, scripts, installer records or the manifest itself
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n or n.startswith("bin/")]
    assert not [n for n in names if n.rsplit("/", 1)[-1] in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}]
    assert "requirements.txt" not in names and ".lock" not in names
    assert "pydantic-2.9.2.dist-info/METADATA" in names and "pydantic-2.9.2.dist-info/WHEEL" in names
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    for local_path in (str(cache), str(tmp_path), sys.prefix):
        assert local_path.encode() not in everything


def test_the_x86_64_package_imports_with_nothing_else_on_sys_path(tmp_path, cache):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    source = function(tmp_path, {"app.py": APP, "requirements.txt": REQS})
    root = extract(build_function_zip(source, target=Target(version, "x86_64")), tmp_path / "unzipped")
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import app, pydantic, requests\n"
        "assert pydantic.__file__.startswith(sys.argv[1]), pydantic.__file__\n"
        "class M(pydantic.BaseModel):\n"
        "    n: int\n"
        "print(pydantic.VERSION, M(n='3').n, app.handler({}, None))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(root)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2.9.2", "3", "{'ok':", "True}"]


def test_two_cold_builds_on_separate_caches_give_identical_bytes(tmp_path, monkeypatch):
    source = function(tmp_path, {"app.py": APP, "requirements.txt": REQS})
    built = []
    for run in ("a", "b"):
        monkeypatch.setenv("LAMBDAFORM_CACHE_DIR", str(tmp_path / f"cache-{run}"))
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / f"uv-{run}"))
        built.append(build_function_zip(source, target=Target("3.12", "arm64")).data)
    assert built[0] == built[1]


def test_a_warm_build_starts_no_process_and_needs_no_network(tmp_path, cache, uv_calls, monkeypatch):
    source = function(tmp_path, {"app.py": APP, "requirements.txt": REQS})
    cold = build_function_zip(source, target=Target("3.12", "arm64"))
    assert uv_calls, "the cold build ran uv"
    uv_calls.clear()
    closed = "http://127.0.0.1:9"
    for name in ("UV_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.setenv(name, f"{closed}/simple")
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, closed)
    monkeypatch.setenv("UV_OFFLINE", "1")
    (source / "app.py").write_text(APP + "# changed code, same dependencies\n")
    warm = build_function_zip(source, target=Target("3.12", "arm64"))
    assert uv_calls == []
    assert warm.data != cold.data and set(warm.files) == set(cold.files)


def test_concurrent_builds_share_one_cache_safely(tmp_path, cache):
    source = function(tmp_path, {"app.py": "import six\n", "requirements.txt": "six==1.17.0\n"})
    results, errors = [], []

    def build():
        try:
            results.append(build_function_zip(source).data)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and len(results) == 3 and len(set(results)) == 1
    assert not [p for p in (cache / "trees").iterdir() if p.name.startswith(".tmp-")]


# --- manifests --------------------------------------------------------------------------------------------


def test_hashed_requirements_are_checked(tmp_path, cache):
    good = function(tmp_path, {"app.py": "", "requirements.txt": f"six==1.17.0 --hash={SIX_HASH}\n"}, "good")
    assert "six.py" in build_function_zip(good).files
    bad = function(tmp_path, {"app.py": "", "requirements.txt": "six==1.17.0 --hash=sha256:" + "0" * 64 + "\n"},
                   "bad")
    with pytest.raises(DependencyError, match="(?s)requirements.txt.*Hash mismatch for `six==1.17.0`"):
        build_function_zip(bad)
    # a hashed file is a lock: a transitive dependency without a pin and hash is refused, not fetched
    incomplete = function(tmp_path, {"app.py": "", "requirements.txt":
                                     "python-dateutil==2.9.0.post0 --hash=sha256:"
                                     "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427\n"}, "partial")
    with pytest.raises(DependencyError, match="(?s)`six`.*pin every dependency"):
        build_function_zip(incomplete)


def test_pyproject_dependencies(tmp_path, cache):
    source = function(tmp_path, {"app.py": "import six\n", "pyproject.toml":
                                 "[project]\nname = 'fn'\nversion = '0'\ndependencies = ['six==1.17.0']\n"})
    package = build_function_zip(source, target=Target("3.13", "arm64"))
    assert "six.py" in package.files and "pyproject.toml" not in package.files


def test_uv_lock_is_installed_as_locked(tmp_path, cache, monkeypatch):
    source = function(tmp_path, {"app.py": "import dateutil\n", "pyproject.toml": (
        "[project]\nname = 'fn'\nversion = '0'\nrequires-python = '>=3.10'\n"
        "dependencies = ['python-dateutil==2.9.0.post0']\n[dependency-groups]\ndev = ['iniconfig']\n")})
    from uv import find_uv_bin

    subprocess.run([find_uv_bin(), "lock", "--python", sys.executable, "--quiet"], cwd=source, check=True,
                   timeout=300)
    package = build_function_zip(source)
    names = set(package.files)
    assert {"dateutil/__init__.py", "six.py", "app.py"} <= names  # six: the locked transitive dependency
    assert not {"uv.lock", "pyproject.toml"} & names
    assert not [n for n in names if n.startswith("iniconfig")]  # dev group left out


# --- refusals -----------------------------------------------------------------------------------------


def test_a_package_without_any_wheel_is_refused_with_the_ways_out(tmp_path, cache):
    source = function(tmp_path, {"app.py": "", "requirements.txt": "docopt==0.6.2\n"})
    with pytest.raises(DependencyError) as caught:
        build_function_zip(source, target=Target("3.12", "arm64"))
    message = str(caught.value)
    assert isinstance(caught.value, InputError)  # the CLI exits 2
    for part in (str(source / "requirements.txt"), "docopt 0.6.2", "python3.12 arm64",
                 "aarch64-manylinux_2_34", "allow_source_builds: true", "pure-Python", "package: image"):
        assert part in message, (part, message)


def test_a_package_with_wheels_only_for_other_platforms_is_refused(tmp_path, cache):
    source = function(tmp_path, {"app.py": "", "requirements.txt": "pywin32==311\n"})
    with pytest.raises(DependencyError, match=r"pywin32 311 has no wheel for Lambda python3.12 x86_64 .*win_amd64"):
        build_function_zip(source)


def test_source_builds_allow_pure_python_sdists(tmp_path, cache):
    source = function(tmp_path, {"app.py": "import docopt\n", "requirements.txt": "docopt==0.6.2\n"})
    package = build_function_zip(source, target=Target("3.12", "arm64"), allow_source_builds=True)
    assert "docopt.py" in package.files and "docopt-0.6.2.dist-info/WHEEL" in package.files
    again = build_function_zip(source, target=Target("3.12", "arm64"), allow_source_builds=True)
    assert again.data == package.data


def test_a_source_file_clashing_with_a_dependency_is_an_error_naming_both(tmp_path, cache):
    source = function(tmp_path, {"app.py": "", "six.py": "# mine\n", "requirements.txt": "six==1.17.0\n"})
    with pytest.raises(DependencyError, match="source file six.py clashes with the dependency file six.py"):
        build_function_zip(source)


def test_pip_index_variables_are_passed_to_uv_only_when_uv_has_none():
    pip = {"PIP_INDEX_URL": "https://mirror.example/simple", "PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple"}
    assert dependencies._index_args(pip) == ["--index-url", "https://mirror.example/simple",
                                             "--extra-index-url", "https://a/simple",
                                             "--extra-index-url", "https://b/simple"]
    assert dependencies._index_args({**pip, "UV_INDEX_URL": "x", "UV_EXTRA_INDEX_URL": "y"}) == []
    assert dependencies._index_args({}) == []


def test_pip_configuration_files_do_not_apply_but_pip_index_variables_do(tmp_path, cache, monkeypatch):
    source = function(tmp_path, {"app.py": "", "requirements.txt": "six==1.17.0\n"})
    broken = tmp_path / "pip.conf"
    broken.write_text("[global]\nindex-url = file:///nonexistent/simple\nextra-index-url = file:///nope\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(broken))
    assert "six.py" in build_function_zip(source).files
    monkeypatch.setenv("LAMBDAFORM_CACHE_DIR", str(tmp_path / "cold-again"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # closed port: proves it is used
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    with pytest.raises(DependencyToolError, match="(?s)127.0.0.1:9/simple/six"):
        build_function_zip(source)


# --- layers -------------------------------------------------------------------------------------------


def test_a_layer_installs_under_python_and_is_built_once_for_two_functions(tmp_path, cache, uv_calls):
    layer = function(tmp_path, {"requirements.txt": "six==1.17.0\n", "python/shared_helpers.py": "X = 1\n"},
                     "layer")
    targets = [Target("3.12", "x86_64"), Target("3.12", "arm64")]  # pure Python: one zip serves both
    first = build_layer_zip(layer, targets)
    assert {"python/six.py", "python/shared_helpers.py", "python/six-1.17.0.dist-info/METADATA"} <= set(first.files)
    assert "requirements.txt" not in first.files
    runs = len(uv_calls)
    assert build_layer_zip(layer, targets).data == first.data  # the second function's use of it
    assert len(uv_calls) == runs


def test_a_layer_with_compiled_dependencies_serves_one_architecture(tmp_path, cache):
    layer = function(tmp_path, {"requirements.txt": "pydantic==2.9.2\n"}, "layer")
    one = build_layer_zip(layer, [Target("3.12", "arm64")])
    assert set(so_machines(one).values()) == {183}
    with pytest.raises(DependencyError, match=r"differ between python3.12 arm64 .* and python3.12 x86_64 .*"
                                              r"one layer per architecture"):
        build_layer_zip(layer, [Target("3.12", "arm64"), Target("3.12", "x86_64")])


def test_a_ready_python_tree_layer_is_zipped_as_is(tmp_path, cache, uv_calls):
    layer = function(tmp_path, {"python/helpers/__init__.py": "X = 1\n"}, "layer")
    package = build_layer_zip(layer, [Target("3.12", "arm64")])
    assert package.files == ("python/helpers/__init__.py",) and uv_calls == []


# --- sizes --------------------------------------------------------------------------------------------


def _zip_of_zeros(sizes: list[int]) -> Package:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index, size in enumerate(sizes):
            with archive.open(f"blob{index}", "w") as handle:
                chunk = b"\0" * (8 * 1024 * 1024)
                for offset in range(0, size, len(chunk)):
                    handle.write(chunk[: size - offset])
    return Package(data=buffer.getvalue(), files=tuple(f"blob{i}" for i in range(len(sizes))))


def test_function_and_layers_above_250_mb_unzipped_are_refused():
    function_pkg = _zip_of_zeros([150 * 1024 * 1024])
    layer = _zip_of_zeros([101 * 1024 * 1024])
    assert unzipped_size(function_pkg) == 150 * 1024 * 1024
    report = check_sizes(function_pkg, [])
    assert report.unzipped_bytes == 150 * 1024 * 1024 and not report.needs_s3_upload
    with pytest.raises(InputError) as caught:
        check_sizes(function_pkg, [layer], name="functions.api")
    message = str(caught.value)
    assert UNZIPPED_LIMIT == 262_144_000
    for part in ("functions.api", "251.0 MB unzipped", "150.0 MB", "layers 101.0 MB", "250.0 MB", "layers",
                 "package: image"):
        assert part in message, (part, message)


def test_a_zip_above_50_mb_needs_an_s3_upload(tmp_path, cache):
    source = function(tmp_path, {"app.py": "", "requirements.txt": "six==1.17.0\n"})
    (source / "model.bin").write_bytes(os.urandom(51 * 1024 * 1024))  # incompressible
    package = build_function_zip(source)
    assert len(package.data) > DIRECT_UPLOAD_LIMIT and needs_s3_upload(package)
    report = check_sizes(package)
    assert report.needs_s3_upload and report.zipped_bytes == len(package.data)
    small = build_function_zip(function(tmp_path, {"app.py": ""}, "small"))
    assert not check_sizes(small, [package]).needs_s3_upload
    assert check_sizes(small, [package]).layers_needing_s3_upload == (0,)
