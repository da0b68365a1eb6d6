"""Issue #37's benchmark: a CI fleet of four runners sharing the registry (not run in CI).

Each runner is a `dockerd` of its own in a network namespace of its own (benchmarks/runners.py)
with its own galley cache dir and its own copy of the workspace; all share the registry on
127.0.0.1:5000 under a repository new to this run (nothing of an earlier run is found there).
Runner 1 builds the arches cold with `--push`: base image (debootstrap), builder images, cooks,
builds. Runners 2-4 start with no image at all, one after the other: they build the same
commit (builders and cook images pulled), then each a one-line edit of its own. Reported per
runner and step: time, compiles (cook misses), bytes pulled from the registry, and the builder
and cook image sizes; across the fleet, each cache key must have been cooked exactly once.

Runner 1's namespace has a veth and NAT to the outside (its builder builds need the Debian
mirror); runners 2-4 have none, as their builds run with --network=none.

    .venv/bin/python benchmarks/fleet.py [--workspace examples/agent] [--arch amd64 --arch arm64]
        [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.runners import Runner, runner
from galley.units import format_size

REPO = Path(__file__).resolve().parent.parent
REGISTRY = "127.0.0.1:5000"
EDIT_FILE = Path("crates/agent/src/main.rs")
EDIT_FROM = 'GREETING: &str = "ready"'


def galley(
    runner_: Runner, workspace: Path, cache: Path, *args: str
) -> tuple[float, list[dict[str, Any]]]:
    """`galley build --json` on `runner_`'s daemon: (seconds, results)."""
    env = {**os.environ, **runner_.env, "GALLEY_CACHE_DIR": str(cache)}
    log = cache.parent / f"{runner_.name}.log"
    started = time.monotonic()
    with log.open("a") as err:
        done = subprocess.run(
            [sys.executable, "-m", "galley", "build", "--json", *args], cwd=workspace, env=env,
            stdout=subprocess.PIPE, stderr=err, text=True, check=False,
        )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{runner_.name}: galley build failed; see {log}")
    return seconds, list(json.loads(done.stdout)["results"])


def step(
    runner_: Runner, name: str, workspace: Path, cache: Path, args: list[str]
) -> dict[str, Any]:
    before = dict(runner_.counts)
    seconds, results = galley(runner_, workspace, cache, *args)
    return {
        "runner": runner_.name, "step": name, "seconds": round(seconds, 1),
        "misses": sum(r["cache"] == "miss" for r in results),
        "pulled_bytes": runner_.counts["pulled"] - before["pulled"],
        "pushed_bytes": runner_.counts["pushed"] - before["pushed"],
        "results": [
            {key: r.get(key) for key in ("arch", "key", "cache", "builder", "builder_image",
                                         "builder_size", "size", "compiled", "seconds")}
            for r in results
        ],
    }  # fmt: skip


def edit(workspace: Path, number: int) -> None:
    path = workspace / EDIT_FILE
    text = path.read_text()
    if EDIT_FROM not in text:
        sys.exit(f"{path}: no {EDIT_FROM!r} to edit")
    path.write_text(text.replace(EDIT_FROM, f'GREETING: &str = "edited by runner {number}"'))


def run(workspace: Path, arches: list[str], work: Path) -> dict[str, Any]:
    repository = f"fleet-{int(time.time())}"
    config = f'[docker]\nregistry = "{REGISTRY}"\nrepository = "{repository}"\n'
    args = ["--backend", "docker", *[a for arch in arches for a in ("--arch", arch)]]
    steps = []
    for number in range(1, 5):
        name = f"runner{number}"
        tree = work / name / "ws"
        shutil.copytree(workspace, tree, ignore=shutil.ignore_patterns("target", "dist"))
        (tree / "galley.toml").write_text(config)
        cache = work / name / "cache"
        network = 1 if number == 1 else None  # only runner 1 builds builders (apt)
        print(f"fleet: {name} starting", file=sys.stderr)
        with runner(f"fleet{number}", work / name / "daemon", network=network) as daemon:
            if number == 1:
                steps.append(step(daemon, "cold, --push", tree, cache, [*args, "--push"]))
            else:
                steps.append(step(daemon, "same commit", tree, cache, args))
                edit(tree, number)
                steps.append(step(daemon, "one-line edit", tree, cache, args))
        print(f"fleet: {name}: {steps[-1]['seconds']} s", file=sys.stderr)
    misses = Counter(
        (r["arch"], r["key"]) for s in steps for r in s["results"] if r["cache"] == "miss"
    )
    cold = steps[0]["seconds"]
    fresh = [s["seconds"] for s in steps if s["step"] == "same commit"]
    return {
        "workspace": str(workspace), "arches": arches, "repository": repository,
        "steps": steps,
        "cooks_per_key": {f"{arch} {key[:12]}": n for (arch, key), n in misses.items()},
        "every_key_cooked_once": bool(misses) and set(misses.values()) == {1},
        "fresh_over_cold": [round(seconds / cold, 3) for seconds in fresh],
    }  # fmt: skip


def markdown(report: dict[str, Any], command: str) -> str:
    lines = [
        f"Fleet of 4 runners, `{command}`; workspace {report['workspace']}, arches "
        f"{', '.join(report['arches'])}.",
        "",
        "| runner | step | time | compiles (cook misses) | pulled | builder images | cook images |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        builders = ", ".join(
            f"{r['arch']} {format_size(r['builder_size'] or 0)} ({r['builder']})"
            for r in s["results"]
        )
        cooks = ", ".join(f"{r['arch']} {format_size(r['size'] or 0)} ({r['cache']})"
                          for r in s["results"])  # fmt: skip
        lines.append(
            f"| {s['runner']} | {s['step']} | {s['seconds']:.1f} s | {s['misses']} | "
            f"{format_size(s['pulled_bytes'])} | {builders} | {cooks} |"
        )
    ratios = ", ".join(f"{r:.2f}" for r in report["fresh_over_cold"])
    lines += [
        "",
        f"A fresh runner's build (builder pull included) over runner 1's cold build: {ratios} "
        "(target ≤ 0.25, goal ≤ 0.1).",
        f"Cooks per key across the fleet: {report['cooks_per_key']} (each must be 1: "
        f"{'yes' if report['every_key_cooked_once'] else 'NO'}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "examples" / "agent")
    parser.add_argument("--arch", action="append", dest="arches")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    options = parser.parse_args()
    arches = options.arches or ["amd64", "arm64"]
    command = "python benchmarks/fleet.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="galley-fleet-", dir="/var/tmp") as work:
        report = run(options.workspace.resolve(), arches, Path(work))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "fleet.json").write_text(json.dumps(report, indent=1) + "\n")
    (options.out / "fleet.md").write_text(markdown(report, command.strip()))
    print(markdown(report, command.strip()))
    check = subprocess.run(["/usr/bin/docker", "run", "--rm", "--network", "bridge",
                            report["steps"][0]["results"][0]["builder_image"], "true"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    answer = "yes" if check.returncode == 0 else "NO: " + check.stderr.strip()
    print(
        f"fleet: the main daemon runs a bridged container after the run: {answer}", file=sys.stderr
    )


if __name__ == "__main__":
    main()
