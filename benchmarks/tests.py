"""`galley test` after a one-line edit of a test, against plain `cargo test` with the
dependencies already built (its floor), in the same minutes (issue #38's target: 1.2 times at most).

The example is copied twice: galley tests one copy (local backend, its own cache dir), cargo
the other (its own target dir). After an untimed first run of each, every round edits one line
of `crates/rustjail/tests/basic.rs` in both copies and times galley's `test` (the installed
`galley` program, as users run it), then cargo's, alternating which goes first. Whole commands,
wall clock; the median of the rounds.

    .venv/bin/python benchmarks/tests.py [--rounds 9] [--profile dev]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bytecode import compile_galley  # noqa: E402
from benchmarks.compare import timed  # noqa: E402

EDITED = Path("crates/rustjail/tests/basic.rs")


def edit(workspace: Path, round_: int) -> None:
    """One line of a test changed: a comment the compiler still reads."""
    path = workspace / EDITED
    lines = path.read_text().splitlines(keepends=True)
    if lines[0].startswith("// round"):
        lines = lines[1:]
    path.write_text("".join([f"// round {round_}\n", *lines]))


def installed_galley() -> Path:
    """The `galley` program installed beside this Python (the venv's console script)."""
    program = Path(sys.executable).with_name("galley")
    if not program.is_file():
        sys.exit(f"bench: {program} is missing (ci/provision installs galley in .venv)")
    return program


def copy_example(destination: Path) -> Path:
    """A copy of the example workspace at `destination`, without its build outputs."""
    ignore = shutil.ignore_patterns("target", "dist")
    return Path(shutil.copytree(REPO / "examples" / "agent", destination, ignore=ignore))


def galley_test(profile: str) -> list[str]:
    """The timed command: the installed galley's `test` of amd64 with the local backend."""
    return [str(installed_galley()), "test", "--arch", "amd64", "--backend", "local",
            "--profile", profile]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--profile", default="dev")
    options = parser.parse_args()
    compile_galley()
    with tempfile.TemporaryDirectory(prefix="galley-tests-bench-") as directory:
        root = Path(directory)
        ours, theirs = copy_example(root / "galley"), copy_example(root / "cargo")
        env = {"GALLEY_CACHE_DIR": str(root / "cache")}  # over os.environ
        galley = galley_test(options.profile)
        profile = ["--release"] if options.profile == "release" else ["--profile", options.profile]
        cargo = ["cargo", "test", "--locked", "--no-fail-fast", *profile]
        print("tests: first runs (cook, and cargo building every dependency)", file=sys.stderr)
        timed(galley, ours, env)
        timed(cargo, theirs, env)
        ratios: list[float] = []
        pairs: list[tuple[float, float]] = []
        for round_ in range(1, options.rounds + 1):
            edit(ours, round_)
            edit(theirs, round_)
            if round_ % 2:  # alternate which goes first
                ours_seconds = timed(galley, ours, env)[0]
                theirs_seconds = timed(cargo, theirs, env)[0]
            else:
                theirs_seconds = timed(cargo, theirs, env)[0]
                ours_seconds = timed(galley, ours, env)[0]
            pair = (ours_seconds, theirs_seconds)
            pairs.append(pair)
            ratios.append(pair[0] / pair[1])
            print(f"round {round_}: galley {pair[0]:.2f} s, cargo {pair[1]:.2f} s, "
                  f"ratio {pair[0] / pair[1]:.2f}", file=sys.stderr)  # fmt: skip
    median = statistics.median(ratios)
    print(f"galley test after a one-line edit / cargo test (dependencies built): median "
          f"{median:.2f} over {len(ratios)} rounds (min {min(ratios):.2f}, max "
          f"{max(ratios):.2f}); galley {statistics.median(p[0] for p in pairs):.2f} s, "
          f"cargo {statistics.median(p[1] for p in pairs):.2f} s (target <= 1.2)")  # fmt: skip


if __name__ == "__main__":
    main()
