"""Benchmark: galley against the alternatives, per arch, on the example workspace, in one run.

Systems (each builds the example's `agent` workspace for the arch, in release):
  naive       a Dockerfile: vendored deps, `COPY src`, `cargo build` (the layer cache only)
  cachemount  the same Dockerfile with a BuildKit cache mount on the target dir
  galley-local  `galley build` on the host (amd64 only: the host has no foreign Rust std)
  galley-docker `galley build --backend docker` (cross mode)
  floor       cargo compiling only the workspace crates after the edit, dependencies built:
              the host's cargo (amd64) and the builder image's cargo in `docker run` (per arch)

Scenarios, run in this order by every system (one sequence per system per run):
  cold     no cache of any kind (images, cache mounts and galley caches removed)
  no-op    the same build again, nothing changed
  edit     a one-line source edit (the greeting string in crates/agent/src/main.rs)
  pulled   galley-docker only: the cook and warm images only in the registry (`build --push`
           after the cold build), local images, builder cache and galley cache dir removed
           (a new machine), then the same kind of edit
  bump     a dependency bump: `humantime = "2"` added to crates/rustjail (one new crate)

Every figure is the median of --runs runs (min and max kept); every ratio is computed within
each run, from figures measured in the same minutes, and reported as the median of the runs
(min and max kept). Writes benchmarks/results/compare.{json,md,png} (see report.py; the chart
of the run in benchmarks/README.md is kept in git, the rest is not), and after each run
compare.partial.json: the runs finished so far (`report.py compare.partial.json` reads it).

    .venv/bin/python benchmarks/compare.py [--runs 3] [--arch amd64 --arch arm64]
                                           [--system naive ...] [--out benchmarks/results]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import report  # noqa: E402
from benchmarks.bytecode import compile_galley  # noqa: E402
from galley import arch as arches  # noqa: E402

DOCKER = "/usr/bin/docker"
REGISTRY = "127.0.0.1:5000"
EDIT_FILE = "crates/agent/src/main.rs"
BUMP_FILE = "crates/rustjail/Cargo.toml"
SYSTEMS = ("naive", "cachemount", "galley-local", "galley-docker", "floor")
DOCKERFILE = """ARG BUILDER
FROM ${{BUILDER}}
COPY cargo-config.toml /usr/local/cargo/config.toml
COPY vendor /vendor
COPY src /src
WORKDIR /src
RUN {mount}cargo build --release --locked --offline --target {triple} \\
    && mkdir -p /out && cp target/{triple}/release/kata-agent /out/
"""
CARGO_CONFIG = '[source.crates-io]\nreplace-with = "v"\n[source.v]\ndirectory = "/vendor"\n'


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall time of a command (its stdout returned; stderr to a log file on failure). The
    page cache's dirty data is written back first (not timed): a step's writes (a cold build's
    layers, a 3 GB cook image pushed to the registry) must not be flushed during the next one."""
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, text=True, capture_output=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"bench: {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def quiet(argv: list[str]) -> None:
    subprocess.run(argv, capture_output=True, check=False)


@dataclass
class Sources:
    """The example's base files and the two changes the scenarios apply."""

    base: Path
    bumped_manifest: str
    bumped_lock: str

    @classmethod
    def make(cls, root: Path) -> Sources:
        base = root / "base"
        shutil.copytree(
            REPO / "examples" / "agent", base, ignore=shutil.ignore_patterns("target", "dist")
        )
        bumped = root / "bumped"
        shutil.copytree(base, bumped)
        manifest = bumped / BUMP_FILE
        text = manifest.read_text()
        assert "[dependencies]\n" in text
        manifest.write_text(text.replace("[dependencies]\n", '[dependencies]\nhumantime = "2"\n'))
        subprocess.run(
            ["cargo", "update", "--offline", "--workspace"],
            cwd=bumped,
            check=True,
            capture_output=True,
        )
        return cls(base, manifest.read_text(), (bumped / "Cargo.lock").read_text())

    def reset(self, workspace: Path) -> None:
        """The workspace as the example is (target dirs kept)."""
        for name in (EDIT_FILE, BUMP_FILE, "Cargo.lock"):
            (workspace / name).write_text((self.base / name).read_text())

    def copy(self, destination: Path) -> Path:
        shutil.copytree(self.base, destination)
        return destination

    def bump(self, workspace: Path) -> None:
        (workspace / BUMP_FILE).write_text(self.bumped_manifest)
        (workspace / "Cargo.lock").write_text(self.bumped_lock)


def edit(workspace: Path, text: str) -> None:
    path = workspace / EDIT_FILE
    source = path.read_text()
    start = source.index('const GREETING: &str = "') + len('const GREETING: &str = "')
    path.write_text(source[:start] + text + source[source.index('";', start) :])


@dataclass
class Figures:
    """seconds[system][scenario] = one value per run; galley's own JSON details per run."""

    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    details: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(
        self, system: str, scenario: str, value: float, detail: dict[str, Any] | None = None
    ) -> None:
        self.seconds.setdefault(system, {}).setdefault(scenario, []).append(round(value, 3))
        if detail is not None:
            self.details.setdefault(system, {}).setdefault(scenario, []).append(detail)
        log(f"{system:14} {scenario:7} {value:7.2f} s")


class Arch:
    """Everything one arch's systems need: workspaces, the builder image, a vendor dir."""

    def __init__(self, name: str, root: Path, sources: Sources, builder: str) -> None:
        self.name, self.root, self.sources, self.builder = name, root / name, sources, builder
        self.triple = arches.get(name).triple()
        self.root.mkdir()
        self.vendor = self.root / "vendor"
        subprocess.run(
            [
                "cargo",
                "vendor",
                "--respect-source-config",
                "--offline",
                "--versioned-dirs",
                str(self.vendor),
            ],
            cwd=self._bumped_copy(),
            check=True,
            capture_output=True,
        )

    def _bumped_copy(self) -> Path:
        """A workspace with the bump applied: its vendor dir serves both lockfiles."""
        path = self.sources.copy(self.root / "vendor-ws")
        self.sources.bump(path)
        return path

    def context(self, system: str, mount: str = "") -> Path:
        """A docker build context: Dockerfile, cargo config, vendor/ (hard links), src/."""
        context = self.root / system
        if not context.exists():
            shutil.copytree(self.vendor, context / "vendor", copy_function=os.link)
            (context / "cargo-config.toml").write_text(CARGO_CONFIG)
            (context / "Dockerfile").write_text(DOCKERFILE.format(mount=mount, triple=self.triple))
            self.sources.copy(context / "src")
        return context


def docker_build(context: Path, builder: str, tag: str, no_cache: bool = False) -> float:
    argv = [DOCKER, "build", "--network=none", "--build-arg", f"BUILDER={builder}", "-t", tag]
    seconds, _ = timed(
        [*argv, *(["--no-cache"] if no_cache else []), "."], context, {"DOCKER_BUILDKIT": "1"}
    )
    return seconds


def run_dockerfile(arch: Arch, figures: Figures, run: int, system: str) -> None:
    """naive / cachemount: cold, no-op, edit, bump with `docker build`."""
    mount = ""
    if system == "cachemount":
        mount = f"--mount=type=cache,id=galley-bench-{arch.name},target=/src/target "
    context = arch.context(system, mount)
    src = context / "src"
    arch.sources.reset(src)
    quiet([DOCKER, "builder", "prune", "-af"])
    tag = f"galley-bench-{system}:{arch.name}"
    figures.add(system, "cold", docker_build(context, arch.builder, tag, no_cache=True))
    figures.add(system, "no-op", docker_build(context, arch.builder, tag))
    edit(src, f"edit {run}")
    figures.add(system, "edit", docker_build(context, arch.builder, tag))
    arch.sources.bump(src)
    figures.add(system, "bump", docker_build(context, arch.builder, tag))


def galley(
    arch: Arch, workspace: Path, cache: Path, backend: str, *extra: str
) -> tuple[float, dict[str, Any]]:
    argv = [
        sys.executable,
        "-m",
        "galley",
        "build",
        "--arch",
        arch.name,
        "--backend",
        backend,
        "--json",
        *extra,
    ]
    seconds, out = timed(argv, workspace, {"GALLEY_CACHE_DIR": str(cache)})
    result = json.loads(out)["results"][0]
    keep = ("cache", "seconds", "cook_seconds", "phases", "seeded_from", "compiled", "up_to_date")
    return seconds, {k: result[k] for k in keep if k in result}


def forget_cook_images(arch: str) -> None:
    """Remove every galley cook image of the arch (local tags and registry-named tags)."""
    listed = subprocess.run(
        [
            DOCKER,
            "images",
            "--filter",
            f"label=galley.arch={arch}",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if listed:
        quiet([DOCKER, "image", "rm", "-f", *listed])


def run_galley(arch: Arch, figures: Figures, run: int, backend: str) -> None:
    """galley-local / galley-docker: cold, no-op, edit, (pulled), bump."""
    system = f"galley-{backend}"
    workspace = arch.root / system
    if not workspace.exists():
        arch.sources.copy(workspace)
    arch.sources.reset(workspace)
    cache = arch.root / f"cache-{system}-{run}"
    if backend == "docker":
        forget_cook_images(arch.name)
        quiet([DOCKER, "builder", "prune", "-af"])
    figures.add(system, "cold", *galley(arch, workspace, cache, backend))
    if backend == "docker":  # share the cook and warm images (not timed)
        timed(
            [
                sys.executable,
                "-m",
                "galley",
                "build",
                "--arch",
                arch.name,
                "--backend",
                "docker",
                "--registry",
                REGISTRY,
                "--push",
            ],
            workspace,
            {"GALLEY_CACHE_DIR": str(cache)},
        )
    figures.add(system, "no-op", *galley(arch, workspace, cache, backend))
    edit(workspace, f"edit {run}")
    figures.add(system, "edit", *galley(arch, workspace, cache, backend))
    if backend == "docker":
        forget_cook_images(arch.name)
        quiet([DOCKER, "builder", "prune", "-af"])
        edit(workspace, f"pulled {run}")
        new_machine_cache = cache.with_name(cache.name + "-pulled")
        pulled = galley(arch, workspace, new_machine_cache, backend, "--registry", REGISTRY)
        figures.add(system, "pulled", *pulled)
    arch.sources.bump(workspace)
    figures.add(system, "bump", *galley(arch, workspace, cache, backend))


def run_floor(arch: Arch, figures: Figures, run: int) -> None:
    """cargo compiling only the workspace crates after the edit (dependencies built once)."""
    context = arch.context("floor")
    src = context / "src"
    docker_run = [
        DOCKER,
        "run",
        "--rm",
        "--network=none",
        "-v",
        f"{src}:/src",
        "-v",
        f"{arch.vendor}:/vendor:ro",
        "-v",
        f"{context / 'cargo-config.toml'}:/usr/local/cargo/config.toml:ro",
        "-w",
        "/src",
        arch.builder,
        "cargo",
        "build",
        "--release",
        "--locked",
        "--offline",
        "--target",
        arch.triple,
    ]
    host = ["cargo", "build", "--release", "--locked", "--offline"]
    if run == 0:  # dependencies built once, not timed
        timed(docker_run, src)
        if arch.name == arches.host().name:
            timed([*host, "--target-dir", "target-host"], src)
    edit(src, f"floor builder {run}")
    figures.add("floor-builder", "edit", timed(docker_run, src)[0])
    if arch.name == arches.host().name:
        edit(src, f"floor host {run}")
        figures.add("floor", "edit", timed([*host, "--target-dir", "target-host"], src)[0])


def builder_image(name: str) -> str:
    """The galley cross builder image (built offline by galley if missing)."""
    out = subprocess.run(
        [sys.executable, "-m", "galley", "builder-image", "--arch", name, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["image"])


def python_start() -> dict[str, float]:
    """Process start-up costs, measured apart from any task (median of 5)."""

    def median(argv: list[str]) -> float:
        return statistics.median(timed(argv, REPO)[0] for _ in range(5))

    return {
        "python -c pass": median([sys.executable, "-c", "pass"]),
        "import galley's CLI": median([sys.executable, "-c", "import galley.program"]),
        "galley --help": median([sys.executable, "-m", "galley", "--help"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--arch", action="append", choices=["amd64", "arm64"])
    parser.add_argument("--system", action="append", choices=SYSTEMS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    options = parser.parse_args()
    names = options.arch or ["amd64", "arm64"]
    systems = options.system or list(SYSTEMS)
    started = time.time()
    compile_galley()
    figures = {name: Figures() for name in names}
    steps: dict[str, Callable[[Arch, Figures, int], None]] = {
        "naive": lambda a, f, r: run_dockerfile(a, f, r, "naive"),
        "cachemount": lambda a, f, r: run_dockerfile(a, f, r, "cachemount"),
        "galley-local": lambda a, f, r: run_galley(a, f, r, "local"),
        "galley-docker": lambda a, f, r: run_galley(a, f, r, "docker"),
        "floor": run_floor,
    }
    options.out.mkdir(parents=True, exist_ok=True)
    partial = options.out / "compare.partial.json"
    with tempfile.TemporaryDirectory(prefix="galley-bench-") as directory:
        root = Path(directory)
        sources = Sources.make(root)
        archs = [Arch(name, root, sources, builder_image(name)) for name in names]
        for run in range(options.runs):
            for arch in archs:
                for system in systems:
                    if system == "galley-local" and arch.name != arches.host().name:
                        continue  # the host's Rust has no std for a foreign arch
                    log(f"run {run + 1}/{options.runs} {arch.name} {system}")
                    steps[system](arch, figures[arch.name], run)
            # A bench stopped between runs keeps the runs it finished.
            write_json(partial, results(figures, run + 1, started))
    document = results(figures, options.runs, started) | {"startup": python_start()}
    write_json(options.out / "compare.json", document)
    partial.unlink()
    report.write(document, options.out)


def results(figures: dict[str, Figures], runs: int, started: float) -> dict[str, Any]:
    """The figures of the runs done so far, with how they were made."""
    return {
        "command": " ".join(["benchmarks/compare.py", *sys.argv[1:]]),
        "runs": runs,
        "minutes": round((time.time() - started) / 60, 1),
        "machine": report.machine(),
        "arches": {n: {"seconds": f.seconds, "details": f.details} for n, f in figures.items()},
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
