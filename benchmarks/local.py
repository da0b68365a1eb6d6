"""Benchmark: the local backend vs plain cargo on the example workspace, in one run.

- cold:  `galley build` with an empty cache  vs  plain `cargo build --release` with an empty target
- warm:  `galley build` after a one-line edit  vs  the floor: plain `cargo build --release` after
         the same edit with dependencies already built
- no-op: `galley build` with nothing changed (galley's own overhead)

    .venv/bin/python benchmarks/local.py [--runs 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "agent"
EDIT_FILE = Path("crates/agent/src/main.rs")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def edit(workspace: Path, counter: int) -> None:
    path = workspace / EDIT_FILE
    text = path.read_text()
    start = text.index('const GREETING: &str = "')
    end = text.index('";', start)
    path.write_text(text[:start] + f'const GREETING: &str = "ready {counter}' + text[end:])


def measure(runs: int, action: Callable[[int], float]) -> dict[str, float]:
    values = [action(i) for i in range(runs)]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    galley = [sys.executable, "-m", "galley", "build", "--arch", "amd64"]
    cargo = ["cargo", "build", "--release", "--locked"]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        ws = root / "ws"
        shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("target"))

        def plain_cold(i: int) -> float:
            shutil.rmtree(ws / "target", ignore_errors=True)
            return run(cargo, ws)

        def galley_cold(i: int) -> float:
            cache = root / f"cache-cold-{i}"
            return run(galley, ws, {"GALLEY_CACHE_DIR": str(cache)})

        results["plain cargo, cold"] = measure(options.runs, plain_cold)
        results["galley, cold"] = measure(options.runs, galley_cold)

        def floor(i: int) -> float:
            edit(ws, 100 + i)
            return run(cargo, ws)

        warm_env = {"GALLEY_CACHE_DIR": str(root / "cache-cold-0")}
        run(galley, ws, warm_env)

        def galley_warm(i: int) -> float:
            edit(ws, 200 + i)
            return run(galley, ws, warm_env)

        results["floor: plain cargo after a one-line edit"] = measure(options.runs, floor)
        results["galley, one-line edit"] = measure(options.runs, galley_warm)
        results["galley, no-op"] = measure(options.runs, lambda i: run(galley, ws, warm_env))
    ratios = {
        "cold: galley / plain": results["galley, cold"]["median"]
        / results["plain cargo, cold"]["median"],
        "warm: galley / floor": results["galley, one-line edit"]["median"]
        / results["floor: plain cargo after a one-line edit"]["median"],
    }
    print(f"| scenario (median of {options.runs}) | median s | min | max |")
    print("|---|---|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value['median']:.2f} | {value['min']:.2f} | {value['max']:.2f} |")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}")
    if options.json:
        options.json.write_text(json.dumps({"results": results, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
