"""Benchmark: an unchanged re-synth (the previous output is reused) against a cold synth (``--force``).

Both run as whole processes of ``python main.py synth SERVICE --out X``, alternating cold, reuse, cold,
reuse ... in this one run, into the same folder: a cold synth always rebuilds (stacks through jsii, the
packages), the reuse that follows finds the input key unchanged and starts no jsii. The figure that
matters is the ratio of medians (target: at most 0.1); absolute seconds depend on the machine's load.

    python bench/resynth.py [--runs N] [--service FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.1


def run(service: Path, out: Path, force: bool) -> float:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    command = [sys.executable, str(ROOT / "main.py"), "synth", str(service), "--out", str(out), "-q"]
    start = time.perf_counter()
    subprocess.run(command + (["--force"] if force else []), check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service", type=Path, default=ROOT / "service.yaml")
    args = parser.parse_args()
    cold, reuse = [], []
    with tempfile.TemporaryDirectory(prefix="lambdaform-bench-") as tmp:
        out = Path(tmp) / "out"
        run(args.service, out, force=True)  # warm-up: jsii unpacks its assemblies, dependency caches fill
        for _ in range(args.runs):
            cold.append(run(args.service, out, force=True))
            reuse.append(run(args.service, out, force=False))
    m_cold, m_reuse = statistics.median(cold), statistics.median(reuse)
    ratio = m_reuse / m_cold
    print(f"synth {args.service.name}, {args.runs} runs each, alternating")
    print(f"  cold (--force)    : median {m_cold:6.2f} s  (min {min(cold):.2f}, max {max(cold):.2f})")
    print(f"  unchanged (reuse) : median {m_reuse:6.2f} s  (min {min(reuse):.2f}, max {max(reuse):.2f})")
    print(f"  ratio reuse/cold: {ratio:.3f}  (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
