"""Benchmark: packaging a zip function with dependencies, `sam build` + SAM's zip step vs lambdaform.

The function folder is `app.py` importing requests and pydantic, with `requirements.txt` pinning
`requests==2.32.3` and `pydantic==2.9.2` (pydantic_core is compiled). For each architecture (arm64, x86_64;
runtime python3.11, the Python SAM finds here) and each state (cold: fresh caches for both tools; warm: the
caches of a previous run), both tools run as whole processes, alternating A B A B ..., and the medians and
their ratio (lambdaform / SAM) are printed.

- SAM: `sam build` (aws-sam-cli from PyPI in its own virtualenv, `.bench-venv-sam/`, created here on first
  use) followed by SAM's own zip step (`samcli.lib.package.utils.make_zip_with_lambda_permissions`, what
  `sam package`/`sam deploy` run before uploading). Cold: a fresh build dir and a fresh pip cache, no
  `--cached`. Warm: `--cached` with the cache dir and build dir of the previous run. pip's config files
  are ignored (`PIP_CONFIG_FILE=/dev/null`) so SAM, like uv, reads from PyPI.
- lambdaform: `build_function_zip` in a fresh Python process. Cold: fresh `LAMBDAFORM_CACHE_DIR` and
  `UV_CACHE_DIR`. Warm: the caches of the previous run.

Targets: cold <= 0.25x and warm <= 0.1x SAM's time on arm64.

    python bench/packaging.py [--runs N] [--arch arm64 --arch x86_64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAM_VENV = ROOT / ".bench-venv-sam"
SAM_VERSION = "1.170.0"
RUNTIME = "python3.11"
TARGETS = {"cold": 0.25, "warm": 0.1}

APP = "import pydantic\nimport requests\n\n\ndef handler(event, context):\n    return {'ok': True}\n"
REQUIREMENTS = "requests==2.32.3\npydantic==2.9.2\n"
TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: {runtime}
      Architectures: [{arch}]
"""
SAM_ZIP = ("import sys\nfrom samcli.lib.package.utils import make_zip_with_lambda_permissions\n"
           "make_zip_with_lambda_permissions(sys.argv[2], sys.argv[1])\n")
LAMBDAFORM_ZIP = ("import sys\nfrom pathlib import Path\n"
                  "from lambdaform.dependencies import Target, build_function_zip\n"
                  "package = build_function_zip(Path(sys.argv[1]), target=Target.from_runtime(sys.argv[3], sys.argv[2]))\n"
                  "Path(sys.argv[4]).write_bytes(package.data)\n")


def ensure_sam() -> Path:
    sam = SAM_VENV / "bin" / "sam"
    if not sam.exists():
        print(f"creating {SAM_VENV.relative_to(ROOT)} with aws-sam-cli=={SAM_VERSION} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(SAM_VENV)], check=True)
        subprocess.run([str(SAM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"aws-sam-cli=={SAM_VERSION}"], check=True)
    return sam


def sam_env(pip_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_CACHE_DIR=str(pip_cache), SAM_CLI_TELEMETRY="0",
               PATH=f"{SAM_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env


def run_sam(work: Path, arch: str, state: str, run: int) -> tuple[float, Path]:
    project = work / f"sam-{arch}"
    caches = project / ("warm" if state == "warm" else f"cold-{run}")
    build, cache, pip_cache = caches / "build", caches / "cache", caches / "pip"
    args = [str(SAM_VENV / "bin" / "sam"), "build", "--template", str(project / "template.yaml"),
            "--build-dir", str(build)]
    if state == "warm":
        args += ["--cached", "--cache-dir", str(cache)]
    out = caches / "function"
    start = time.perf_counter()
    subprocess.run(args, cwd=project, env=sam_env(pip_cache), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run([str(SAM_VENV / "bin" / "python"), "-c", SAM_ZIP, str(build / "Fn"), str(out)], check=True)
    return time.perf_counter() - start, out.with_suffix(".zip")


def run_lambdaform(work: Path, arch: str, state: str, run: int) -> tuple[float, Path]:
    project = work / f"lf-{arch}"
    caches = project / ("warm" if state == "warm" else f"cold-{run}")
    caches.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LAMBDAFORM_CACHE_DIR": str(caches / "lambdaform"), "UV_CACHE_DIR": str(caches / "uv")}
    out = caches / "function.zip"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", LAMBDAFORM_ZIP, str(project / "fn"), arch, RUNTIME, str(out)],
                   cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start, out


def lay_out(work: Path, arch: str) -> None:
    for tool in ("sam", "lf"):
        fn = work / f"{tool}-{arch}" / "fn"
        fn.mkdir(parents=True)
        (fn / "app.py").write_text(APP)
        (fn / "requirements.txt").write_text(REQUIREMENTS)
        (fn.parent / "template.yaml").write_text(TEMPLATE.format(runtime=RUNTIME, arch=arch))


def describe(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        count = len(archive.infolist())
        unzipped = sum(info.file_size for info in archive.infolist())
    return f"{count} files, {path.stat().st_size / 1e6:.2f} MB zipped, {unzipped / 1e6:.2f} MB unzipped"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--arch", action="append", choices=["arm64", "x86_64"])
    args = parser.parse_args()
    archs = args.arch or ["arm64", "x86_64"]
    ensure_sam()
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="lambdaform-bench-packaging-") as tmp:
        work = Path(tmp)
        for arch in archs:
            lay_out(work, arch)
            times: dict[tuple[str, str], list[float]] = {}
            outputs: dict[str, Path] = {}
            for state in ("cold", "warm"):
                if state == "warm":  # the warm caches: one build each, not timed
                    run_sam(work, arch, "warm", 0)
                    run_lambdaform(work, arch, "warm", 0)
                for run in range(args.runs):
                    for tool, runner in (("sam", run_sam), ("lambdaform", run_lambdaform)):
                        seconds, outputs[tool] = runner(work, arch, state, run)
                        times.setdefault((tool, state), []).append(seconds)
                    if state == "cold":  # keep the disk small: drop this run's caches
                        shutil.rmtree(work / f"sam-{arch}" / f"cold-{run}", ignore_errors=True)
                        shutil.rmtree(work / f"lf-{arch}" / f"cold-{run}", ignore_errors=True)
            print(f"\n{arch} ({RUNTIME}), {args.runs} alternating runs each")
            for tool in ("sam", "lambdaform"):
                print(f"  {tool:10s} output: {describe(outputs[tool])}")
            for state in ("cold", "warm"):
                sam, lf = statistics.median(times[("sam", state)]), statistics.median(times[("lambdaform", state)])
                ratio = lf / sam
                ok = ratio <= TARGETS[state]
                if arch == "arm64":
                    verdicts.append(ok)
                print(f"  {state}: sam build + zip median {sam:7.2f} s | lambdaform median {lf:6.2f} s | "
                      f"ratio {ratio:.3f} (target <= {TARGETS[state]}) {'ok' if ok else 'MISSED'}")
                print(f"        sam runs: {' '.join(f'{t:.2f}' for t in times[('sam', state)])}; lambdaform runs: "
                      f"{' '.join(f'{t:.2f}' for t in times[('lambdaform', state)])}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
