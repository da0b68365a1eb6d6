"""Paired edit builds: galley at another commit against this checkout, same minutes.

A full benchmark takes 80+ minutes and this machine's speed drifts by 10-20 % within it, more
than a change of galley's own overhead. Here each one-line edit of the example is built by the
other commit's galley and then by this one's, alternating, and what each spent besides cargo's
own compile (cargo's `Finished … in` line) is compared pair by pair.

    .venv/bin/python benchmarks/pairs.py --against HEAD~1 [--arch amd64] [--pairs 8]
        [--backend docker|local]

Each side has its own cache dir; with docker both share the daemon's cook image and build cache
mount (same key), so the first, untimed build of each side only fills its cache dir (local: it
cooks the side's own entry).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bytecode import compile_galley  # noqa: E402
from benchmarks.compare import Sources, edit  # noqa: E402

FINISHED = re.compile(r"Finished .* in ([0-9.]+)s")


def build(tree: Path, workspace: Path, cache: Path, arch: str, backend: str) -> tuple[float, float]:
    """(wall seconds, cargo's own seconds) of `galley build` from `tree`'s package."""
    env = {**os.environ, "PYTHONPATH": str(tree), "GALLEY_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "galley", "build", "--arch", arch, "--backend", backend]
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"pairs: galley from {tree} failed:\n{done.stderr[-3000:]}")
    found = FINISHED.findall(done.stderr)
    return seconds, float(found[-1]) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="the other commit (any git revision)")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--backend", choices=("docker", "local"), default="docker")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="galley-pairs-") as directory:
        root = Path(directory)
        other = root / "against"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), options.against],
                       cwd=REPO, check=True, capture_output=True)  # fmt: skip
        for tree in (other, REPO):
            compile_galley(tree / "galley")
        try:
            trees = {"against": other, "this": REPO}
            run_pairs(root, trees, options.arch, options.pairs, options.backend)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=REPO,
                           check=False, capture_output=True)  # fmt: skip


def run_pairs(root: Path, trees: dict[str, Path], arch: str, pairs: int, backend: str) -> None:
    workspace = Sources.make(root).copy(root / "workspace")
    caches = {name: root / f"cache-{name}" for name in trees}
    for name, tree in trees.items():  # untimed: fills each side's cache dir
        build(tree, workspace, caches[name], arch, backend)
    besides: dict[str, list[float]] = {name: [] for name in trees}
    for run in range(pairs):
        for name, tree in trees.items():
            edit(workspace, f"pair {run} {name} {time.time()}")
            seconds, cargo = build(tree, workspace, caches[name], arch, backend)
            besides[name].append(seconds - cargo)
            print(f"{name:8} {seconds:6.2f} s, cargo {cargo:5.2f} s, "
                  f"besides cargo {seconds - cargo:5.2f} s", flush=True)  # fmt: skip
    for name, values in besides.items():
        print(f"{name:8} besides cargo: mean {statistics.mean(values):.3f} s, median "
              f"{statistics.median(values):.3f} s, min {min(values):.3f} s")  # fmt: skip
    shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    main()
