"""galley's fixed cost per command, against the floor of any Python program that asks the
toolchain and runs cargo through `sh` (the evidence for issue #38's target).

Four whole commands, interleaved, wall clock; the median of the rounds:

- `python`: the interpreter alone (`python -c pass`);
- `floor, subprocess`: a Python program that asks `rustc -vV` and `cargo -V` at once and then
  runs cargo, through `subprocess`;
- `floor, sh`: the same program through galley.shell, which is built on `sh`;
- `galley test`: `galley test --arch amd64 --backend local --profile dev` on the example, its
  dependencies cooked.

In all four, cargo is a stand-in that answers `-V` as cargo does and does nothing else, so
what is timed is what the program does around cargo: this is the time added to every `cargo test`.

    .venv/bin/python benchmarks/startup.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bytecode import compile_galley  # noqa: E402
from benchmarks.compare import timed  # noqa: E402
from benchmarks.tests import copy_example, galley_test  # noqa: E402

#: cargo's stand-in: real cargo for `-V`, and while NOOP is unset (the untimed first run cooks).
STAND_IN = """#!/bin/sh
case "$1" in -V|--version) exec cargo "$@";; esac
[ -n "$NOOP" ] && exit 0
exec cargo "$@"
"""

SH_FLOOR = "floor, sh (galley.shell)"
FLOOR_SH = """
import os, sys
from galley import shell
shell.capture_together([["rustc", "-vV"], [sys.argv[1], "-V"]])
shell.run([sys.argv[1], "test"], echo=False)
os._exit(0)
"""

FLOOR_SUBPROCESS = """
import os, subprocess, sys
queries = [subprocess.Popen(argv, stdout=subprocess.PIPE)
           for argv in (["rustc", "-vV"], [sys.argv[1], "-V"])]
for query in queries:
    query.communicate()
subprocess.run([sys.argv[1], "test"], check=True)
os._exit(0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    compile_galley()
    with tempfile.TemporaryDirectory(prefix="galley-startup-bench-") as directory:
        root = Path(directory)
        workspace = copy_example(root / "agent")
        cargo = root / "bin" / "cargo"
        cargo.parent.mkdir()
        cargo.write_text(STAND_IN)
        cargo.chmod(0o755)
        (workspace / "galley.toml").write_text(f'cargo = "{cargo}"\n')
        env = {"GALLEY_CACHE_DIR": str(root / "cache")}
        galley = galley_test("dev")
        print("startup: first run (cook, and cargo building the tests)", file=sys.stderr)
        timed(galley, workspace, env)
        commands = {
            "python": [sys.executable, "-c", "pass"],
            "floor, subprocess": [sys.executable, "-c", FLOOR_SUBPROCESS, str(cargo)],
            SH_FLOOR: [sys.executable, "-c", FLOOR_SH, str(cargo)],
            "galley test": galley,
        }
        env |= {"NOOP": "1", "PYTHONPATH": str(REPO)}
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.rounds):
            for name, argv in commands.items():
                seconds[name].append(timed(argv, workspace, env)[0])
    print(f"whole commands, median (min) of {options.rounds} rounds:")
    for name, times in seconds.items():
        print(f"  {name:26} {statistics.median(times) * 1000:6.1f} ms ({min(times) * 1000:.1f})")
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    above = medians["galley test"] - medians[SH_FLOOR]
    print(f"galley test above the sh floor: {above * 1000:.1f} ms")


if __name__ == "__main__":
    main()
