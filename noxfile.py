"""nox sessions: `lint`, `unit` (fast: no cargo, no docker), `integration` and `tests` (both
tiers) for development; `cook`/`build`/`test`/`check`/`verify` per arch for CI.

`nox -t cook -l --json` lists one cook session per arch: the CI matrix (see ci/github-actions.yml).
The arch list comes from galley's arch table, the single source.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import nox

from galley.arch import DEFAULT_MATRIX

nox.needs_version = ">=2024.10.9"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Both tiers: tests/unit, then tests/integration (real cargo, dockerd, registry, qemu)."""
    session.run(sys.executable, "-m", "pytest", "tests/unit", "tests/integration", *session.posargs)


@nox.session(python=False)
def unit(session: nox.Session) -> None:
    """The fast tier: no cargo, no docker, no network (under a minute)."""
    session.run(sys.executable, "-m", "pytest", "tests/unit", *session.posargs)


@nox.session(python=False)
def integration(session: nox.Session) -> None:
    """The integration tier: real cargo, real dockerd, a real registry, real qemu."""
    session.run(sys.executable, "-m", "pytest", "tests/integration", *session.posargs)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy --strict."""
    session.run(sys.executable, "-m", "ruff", "check", ".")
    session.run(sys.executable, "-m", "ruff", "format", "--check", ".")
    session.run(sys.executable, "-m", "mypy")


#: The per-arch sessions: `<task>(<arch>)` runs `galley <task> --arch <arch> [posargs]` (the
#: default backend, auto, builds an arch the host toolchain has no std for in docker).
PER_ARCH = {
    "cook": "Cook the example's dependencies for one arch.",
    "build": "Build the example for one arch (cooks if needed).",
    "test": "Run the example's tests for one arch (foreign arches under qemu-user).",
    "check": "cargo check the example for one arch, on cooked dependencies.",
    "verify": "Verify the built artifacts of one arch.",
}


def _per_arch_session(task: str, doc: str) -> None:
    """Register the session `task(arch)` for every arch of the default matrix."""

    def run(session: nox.Session, arch: str) -> None:
        session.run(sys.executable, "-m", "galley", task, "--arch", arch, *session.posargs)

    run.__doc__ = doc
    parametrized = nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)(run)
    nox.session(name=task, python=False, tags=[task])(parametrized)


for _name, _doc in PER_ARCH.items():
    _per_arch_session(_name, _doc)


@nox.session(python=False, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (never part of the tests): galley against the alternatives, per arch.

    `nox -s bench -- --runs 3` (the default) takes 80 to 150 minutes, depending on the day;
    see benchmarks/compare.py.
    """
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = project["optional-dependencies"]["bench"]  # the chart's matplotlib
    session.run(sys.executable, "-m", "pip", "install", "--quiet", *extra)
    session.run(sys.executable, "benchmarks/compare.py", *session.posargs)
