"""Backends: where dependencies are cooked and the real code is built.

Every backend does the same few things for the arches given to it (`Backend`); operations.py
never asks which one it has. `assign` chooses them once per command: the configured one for
every arch, or with `auto` the local backend for the arches whose std the host toolchain has
and docker for the others.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from galley import host_toolchain
from galley.arch import Arch
from galley.chef.recipe import Recipe
from galley.errors import GalleyError
from galley.options import Backend as BackendName
from galley.options import Settings
from galley.plan import Plan, Work
from galley.results import ArchResult
from galley.store import Store

if TYPE_CHECKING:  # verify loads only for its own command
    from galley.verify import Report


class Planned(Protocol):
    """A backend's plan for one arch: the common Plan, plus what the backend needs."""

    @property
    def plan(self) -> Plan: ...


P = TypeVar("P", bound=Planned)


class Backend(Protocol[P]):
    """What a backend does. Each method gets the plans (`P`) that `plans` made for it."""

    @property
    def name(self) -> BackendName: ...

    def plans(
        self, settings: Settings, recipe: Recipe, arches: Sequence[Arch], work: Work = "build"
    ) -> list[P]:
        """A plan per arch for `work` (the toolchain checked, the key computed)."""
        ...

    def cook(self, planned: P, store: Store) -> ArchResult:
        """A cache hit, or the dependencies cooked and published."""
        ...

    def build(self, planned: P, store: Store, dist_dir: Path) -> ArchResult:
        """Cook if needed, build the real sources on top, publish `<dist>/<arch>`."""
        ...

    def run(self, planned: P, store: Store, extra: Sequence[str]) -> ArchResult:
        """Cook if needed, run `cargo test|check|clippy` (the plan's work) on the real
        sources; `extra` goes after `--`. Tests that fail raise TestsFailed."""
        ...

    def prune(
        self, settings: Settings, older_than: float | None, keep: int | None, dry_run: bool
    ) -> None:
        """What the backend keeps beyond galley's cache dir (images, builder caches)."""
        ...

    def discard_rebuild(self, settings: Settings) -> None:
        """What a from-scratch rebuild (verify --reproducible) left behind."""
        ...

    def verify_work(
        self, settings: Settings, arches: Sequence[Arch], repair: bool, report: Report
    ) -> None:
        """Check the dependency artifacts the backend restored from the cache into where it
        builds (for any of `arches` it built): each one that differs is a problem, or with
        `repair` restored (a note)."""
        ...


def named(name: BackendName) -> Backend[Any]:
    """The backend called `name` (`auto` prunes and discards as the local one does); each
    module is imported when its backend is first needed."""
    if name == "docker":
        from galley.backends.docker import DockerBackend

        return DockerBackend()
    from galley.backends.local import LocalBackend

    return LocalBackend()


def every() -> list[Backend[Any]]:
    """One of each backend (each finds what it left in the cache dir)."""
    return [named("local"), named("docker")]


Assignment = list[tuple[Backend[Any], Settings, list[Arch]]]


def assign(settings: Settings, arches: Sequence[Arch]) -> Assignment:
    """The backend of each arch: the configured one; with `auto`, local for the arches whose
    std the host toolchain has, docker for the others (said on stderr, with the reason)."""
    if settings.backend != "auto":
        return [(named(settings.backend), settings, list(arches))]
    reason = "no std for it on the host"
    try:
        triples = [settings.triple(arch) for arch in arches]
        host = host_toolchain.get(settings.cargo, settings.workspace, triples)
    except GalleyError as exc:  # no usable Rust on the host: docker builds every arch
        host, reason = None, str(exc)
    local = [arch for arch in arches if host and host.has_std(settings.triple(arch))]
    docker = [arch for arch in arches if arch not in local]
    for arch in docker:
        why = _why_docker(settings.triple(arch), host.release if host else None) or reason
        print(f"galley: {arch.name}: {why}; the docker backend builds it", file=sys.stderr)
    found: Assignment = []
    for name, chosen in (("local", local), ("docker", docker)):
        if chosen:
            with_backend = settings.replace(backend=name)
            found.append((named(with_backend.backend), with_backend, chosen))
    return found


def _why_docker(triple: str, release: str | None) -> str | None:
    """Why a musl target goes to docker: the host toolchain has no std for it, and galley
    builds one from source only in its docker builders (None for any other target)."""
    if release is None or not triple.endswith("-musl"):
        return None
    return (
        f"the host toolchain (rustc {release}) has no std for {triple} (`rustup target add "
        f"{triple}` would build it here), and galley builds std from source only in docker"
    )
