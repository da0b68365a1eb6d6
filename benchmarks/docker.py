"""Benchmark: the docker backend per arch, in one run, on the example workspace.

Scenarios: cold (no cook image), warm (one-line edit, cook image reused), pulled (cook image
only in the registry, local image and builder cache removed), and a naive Dockerfile
(`COPY . .` then `cargo build`) rebuilt after the same one-line edit.

    .venv/bin/python benchmarks/docker.py [--arch amd64 --arch arm64] [--json out.json]
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from galley import arch as arches  # noqa: E402
from galley.chef import prepare  # noqa: E402

DOCKER = "/usr/bin/docker"
REGISTRY = "127.0.0.1:5000"
NAIVE = """ARG BUILDER
FROM ${BUILDER}
COPY cargo-config.toml /usr/local/cargo/config.toml
COPY . /src
WORKDIR /src
RUN cargo build --release --locked --offline --target %s
"""


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def edit(workspace: Path, text: str) -> None:
    path = workspace / "crates/agent/src/main.rs"
    source = path.read_text()
    start = source.index('const GREETING: &str = "')
    path.write_text(
        source[:start] + f'const GREETING: &str = "{text}' + source[source.index('";', start) :]
    )


def forget(workspace: Path) -> None:
    digest = prepare(workspace).digest()
    ids = subprocess.run([DOCKER, "images", "-q", "--filter", f"label=galley.recipe={digest}"],
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    if ids:
        subprocess.run([DOCKER, "image", "rm", "-f", *set(ids)], capture_output=True)


def bench_arch(name: str, root: Path) -> dict[str, float]:
    workspace = root / f"ws-{name}"
    shutil.copytree(REPO / "examples" / "agent", workspace, ignore=shutil.ignore_patterns("target"))
    env = {"GALLEY_CACHE_DIR": str(root / f"cache-{name}")}
    galley = [sys.executable, "-m", "galley", "build", "--backend", "docker", "--arch", name]
    forget(workspace)
    figures = {"cold": timed(galley, workspace, env)}
    edit(workspace, "warm")
    figures["warm (one-line edit)"] = timed(galley, workspace, env)
    timed([*galley[:-4], "cook", "--backend", "docker", "--arch", name, "--registry", REGISTRY,
           "--push"], workspace, env)  # fmt: skip
    forget(workspace)
    subprocess.run([DOCKER, "builder", "prune", "-af"], capture_output=True, check=True)
    edit(workspace, "pulled")
    figures["pulled from registry"] = timed([*galley, "--registry", REGISTRY], workspace, env)
    figures.update(naive(workspace, name))
    return figures


def naive(workspace: Path, name: str) -> dict[str, float]:
    """The naive Dockerfile: vendored sources + `COPY . .` + `cargo build`, after an edit."""
    vendor = next(workspace.parent.glob(f"cache-{name}/vendor/*/vendor"))
    context = workspace.parent / f"naive-{name}"
    shutil.copytree(workspace, context, ignore=shutil.ignore_patterns("target", "dist"))
    shutil.copytree(vendor, context / "vendor")
    (context / "cargo-config.toml").write_text(
        '[source.crates-io]\nreplace-with = "v"\n[source.v]\ndirectory = "/src/vendor"\n'
    )
    target = arches.get(name).triple()
    (context / "Dockerfile").write_text(NAIVE % target)
    builder = subprocess.run(
        [DOCKER, "images", "--format", "{{.Repository}}:{{.Tag}}", "galley-builder"],
        capture_output=True,
        text=True,
        check=True,
    )
    tag = next(t for t in builder.stdout.split() if t.startswith("galley-builder:cross-"))
    build = [DOCKER, "build", "--network=none", "--build-arg", f"BUILDER={tag}", "-t",
             f"galley-naive:{name}", "."]  # fmt: skip
    env = {"DOCKER_BUILDKIT": "1"}
    timed(build, context, env)
    edit(context, "naive edit")
    return {"naive Dockerfile, one-line edit": timed(build, context, env)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", default=None)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="galley-bench-") as directory:
        for name in options.arch or ["amd64", "arm64"]:
            results[name] = bench_arch(name, Path(directory))
    print("| arch | scenario | seconds | ratio to cold |")
    print("|---|---|---|---|")
    for name, figures in results.items():
        for scenario, seconds in figures.items():
            print(f"| {name} | {scenario} | {seconds:.1f} | {seconds / figures['cold']:.3f} |")
        ratio = figures["naive Dockerfile, one-line edit"] / figures["warm (one-line edit)"]
        print(f"{name}: naive warm / galley warm = {ratio:.1f}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
