"""Benchmark: `python main.py synth service.yaml` with the light provider import vs the ordinary import.

The ordinary import of cdktf_cdktf_provider_aws loads all of its 2,135 submodules; lambdaform loads only
the ones its constructs use (lambdaform/constructs/_provider.py). Both variants run as whole processes, alternating
A B A B ..., in this one run, and the output of both is compared byte for byte. The figure that matters
is the ratio of medians (target: at most 0.25); absolute seconds depend on the machine's load.

    python bench/synth.py [--runs N] [--service FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.25


def run(service: Path, out: Path, full: bool) -> float:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("LAMBDAFORM_FULL_PROVIDER_IMPORT", None)
    if full:
        env["LAMBDAFORM_FULL_PROVIDER_IMPORT"] = "1"
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "main.py"), "synth", str(service), "--out", str(out), "-q"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service", type=Path, default=ROOT / "service.yaml")
    args = parser.parse_args()
    light, full = [], []
    with tempfile.TemporaryDirectory(prefix="lambdaform-bench-") as tmp:
        out_light, out_full = Path(tmp) / "light", Path(tmp) / "full"
        run(args.service, out_light, full=False)  # warm-up: jsii unpacks its assemblies once per machine
        for _ in range(args.runs):
            full.append(run(args.service, out_full, full=True))
            light.append(run(args.service, out_light, full=False))
        identical = digest(out_light / "stacks") == digest(out_full / "stacks")
    m_light, m_full = statistics.median(light), statistics.median(full)
    ratio = m_light / m_full
    print(f"synth {args.service.name}, {args.runs} runs each, alternating")
    print(f"  ordinary import : median {m_full:6.2f} s  (min {min(full):.2f}, max {max(full):.2f})")
    print(f"  light import    : median {m_light:6.2f} s  (min {min(light):.2f}, max {max(light):.2f})")
    print(f"  ratio light/ordinary: {ratio:.3f}  (target <= {TARGET})")
    print(f"  outputs byte-identical: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
