"""Benchmark: `galley-chef prepare` (whole process) vs `cargo metadata --no-deps` (cargo-chef's own
prepare runs the latter first, then does its own work).

    .venv/bin/python benchmarks/prepare.py [--members 300] [--runs 5]   # a synthetic workspace
    .venv/bin/python benchmarks/prepare.py --corpus [--runs 7]          # tests/corpus/*.tar.gz

The two commands run interleaved (their order alternates from run to run), with
RUSTUP_TOOLCHAIN=stable unless it is set (some snapshots pin toolchains that may not be
installed). The corpus mode unpacks each snapshot to a temporary directory, times both commands
there and prints the medians per workspace and the ratio of their sums. The load average before
and after is printed too: on a busy machine both commands slow down, Python's start-up more.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bytecode import compile_galley  # noqa: E402

CORPUS = REPO / "tests" / "corpus"
METADATA = ["metadata", "--no-deps", "--format-version", "1", "--offline"]


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


def run_once(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds the whole process took; its output is discarded, a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"prepare.py: {' '.join(argv)} failed in {cwd}:\n{done.stderr.decode()[-2000:]}")
    return seconds


def interleaved(
    first: list[str], second: list[str], cwd: Path, runs: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Times of `first` and `second` run alternately, the one that starts swapping each run."""
    times: tuple[list[float], list[float]] = ([], [])
    for run in range(runs):
        order = (0, 1) if run % 2 == 0 else (1, 0)
        for which in order:
            argv = (first, second)[which]
            times[which].append(run_once(argv, cwd, env))
    return times


def synthetic(members: int, runs: int, chef: str, cargo: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_workspace(root, members)
        prepare_argv = [chef, "prepare", "--recipe-path", "recipe.json"]
        prepare, metadata = interleaved(prepare_argv, [cargo, *METADATA], root, runs, env)
    m, p = statistics.median(metadata), statistics.median(prepare)
    print(f"workspace: {members} members, median of {runs} interleaved runs")
    print(
        f"cargo metadata --no-deps : {m:.3f} s (min {min(metadata):.3f}, max {max(metadata):.3f})"
    )
    print(f"galley-chef prepare      : {p:.3f} s (min {min(prepare):.3f}, max {max(prepare):.3f})")
    print(f"ratio prepare / metadata : {p / m:.2f} (target <= 1.5)")


def unpack(archive: Path, into: Path) -> Path:
    """The workspace root of a corpus snapshot (`owner+name/` inside its archive)."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / archive.name.removesuffix(".tar.gz")


def corpus(directory: Path, runs: int, chef: str, cargo: str, env: dict[str, str]) -> None:
    archives = sorted(directory.glob("*.tar.gz"))
    if not archives:
        sys.exit(f"prepare.py: no *.tar.gz in {directory}")
    print(f"whole process, median of {runs} interleaved runs per workspace, bytecode compiled\n")
    print(f"{'workspace':<36} {'Cargo.lock':>10} {'prepare':>8} {'cargo':>8} {'ratio':>6}")
    sums = [0.0, 0.0]
    with tempfile.TemporaryDirectory(prefix="galley-bench-") as scratch:
        recipe = os.path.join(scratch, "recipe.json")
        for archive in archives:
            root = unpack(archive, Path(scratch))
            prepare = [chef, "prepare", "--recipe-path", recipe]
            times = interleaved(prepare, [cargo, *METADATA], root, runs, env)
            p, m = statistics.median(times[0]), statistics.median(times[1])
            sums[0] += p
            sums[1] += m
            lock = root / "Cargo.lock"
            size = f"{lock.stat().st_size // 1024} KiB" if lock.exists() else "-"
            print(f"{root.name:<36} {size:>10} {p:>7.3f}s {m:>7.3f}s {p / m:>6.2f}")
    ratio = sums[0] / sums[1]
    print(f"{'sum':<36} {'':>10} {sums[0]:>7.3f}s {sums[1]:>7.3f}s {ratio:>6.2f}")
    print(f"\nratio prepare / metadata, summed: {ratio:.2f} (target <= 1.5, goal <= 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=300, help="synthetic workspace size")
    parser.add_argument("--runs", type=int, help="per command (default 5, with --corpus 7)")
    parser.add_argument(
        "--corpus", nargs="?", const=CORPUS, type=Path, help=f"snapshots dir (default {CORPUS})"
    )
    options = parser.parse_args()
    chef = str(Path(sys.executable).with_name("galley-chef"))
    cargo = shutil.which("cargo") or "cargo"
    env = {"RUSTUP_TOOLCHAIN": "stable", **os.environ}
    compile_galley()
    version = subprocess.run([cargo, "-V"], env=env, capture_output=True, text=True, check=True)
    print(f"cargo: {cargo} ({version.stdout.strip()}), RUSTUP_TOOLCHAIN={env['RUSTUP_TOOLCHAIN']}")
    print(f"load average before: {_load()}")
    if options.corpus is not None:
        corpus(options.corpus, options.runs or 7, chef, cargo, env)
    else:
        synthetic(options.members, options.runs or 5, chef, cargo, env)
    print(f"load average after: {_load()}")


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    main()
