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


def _task(session: nox.Session, name: str, arch: str) -> None:
    """`galley <name> --arch <arch> [posargs]` (the default backend, auto, builds an arch the
    host toolchain has no std for in docker)."""
    session.run(sys.executable, "-m", "galley", name, "--arch", arch, *session.posargs)


@nox.session(python=False, tags=["cook"])
@nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)
def cook(session: nox.Session, arch: str) -> None:
    """Cook the example's dependencies for one arch."""
    _task(session, "cook", arch)


@nox.session(python=False, tags=["build"])
@nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)
def build(session: nox.Session, arch: str) -> None:
    """Build the example for one arch (cooks if needed)."""
    _task(session, "build", arch)


@nox.session(python=False, tags=["test"])
@nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)
def test(session: nox.Session, arch: str) -> None:
    """Run the example's tests for one arch (foreign arches under qemu-user)."""
    _task(session, "test", arch)


@nox.session(python=False, tags=["check"])
@nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)
def check(session: nox.Session, arch: str) -> None:
    """cargo check the example for one arch, on cooked dependencies."""
    _task(session, "check", arch)


@nox.session(python=False, tags=["verify"])
@nox.parametrize("arch", DEFAULT_MATRIX, ids=DEFAULT_MATRIX)
def verify(session: nox.Session, arch: str) -> None:
    """Verify the built artifacts of one arch."""
    _task(session, "verify", arch)


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
