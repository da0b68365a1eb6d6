"""Benchmark: `galley-chef prepare` (whole process) vs `cargo metadata --no-deps` on a synthetic
N-member workspace (cargo-chef's own prepare runs the latter first, then does its own work).

    .venv/bin/python benchmarks/prepare.py [--members 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bytecode import compile_galley


def make_workspace(root: Path, members: int) -> None:
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\nresolver = "2"\n')
    for index in range(members):
        crate = root / "crates" / f"member-{index:03d}"
        (crate / "src").mkdir(parents=True)
        dependency = f'member-{index - 1:03d} = {{ path = "../member-{index - 1:03d}" }}\n'
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "member-{index:03d}"\nversion = "0.1.{index}"\nedition = "2021"\n'
            f"[dependencies]\n{dependency if index else ''}"
        )
        (crate / "src" / "lib.rs").write_text("")
        if index % 10 == 0:
            (crate / "src" / "main.rs").write_text("fn main() {}\n")
            (crate / "tests").mkdir()
            (crate / "tests" / "it.rs").write_text("")
    lock = ["version = 3\n"]
    for index in range(members):
        deps = f'dependencies = ["member-{index - 1:03d}"]\n' if index else ""
        lock.append(f'\n[[package]]\nname = "member-{index:03d}"\nversion = "0.1.{index}"\n{deps}')
    (root / "Cargo.lock").write_text("".join(lock))


def timed(argv: list[str], cwd: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    chef = str(Path(sys.executable).with_name("galley-chef"))
    compile_galley()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_workspace(root, options.members)
        cargo = shutil.which("cargo") or "cargo"
        metadata = timed(
            [cargo, "metadata", "--no-deps", "--format-version", "1"], root, options.runs
        )
        prepare = timed([chef, "prepare", "--recipe-path", "recipe.json"], root, options.runs)
    m, p = statistics.median(metadata), statistics.median(prepare)
    print(f"workspace: {options.members} members, median of {options.runs} runs")
    print(
        f"cargo metadata --no-deps : {m:.3f} s (min {min(metadata):.3f}, max {max(metadata):.3f})"
    )
    print(f"galley-chef prepare      : {p:.3f} s (min {min(prepare):.3f}, max {max(prepare):.3f})")
    print(f"ratio prepare / metadata : {p / m:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
