"""The docker backend: offline builder images, cook images keyed by the cache key, builds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from galley.arch import Arch
from galley.backends.docker import backend, prune
from galley.backends.docker.backend import DockerPlan
from galley.backends.docker.client import detect, require_daemon
from galley.chef.recipe import Recipe
from galley.options import Backend as BackendName
from galley.options import Settings
from galley.plan import Work
from galley.results import ArchResult
from galley.store import Store
from galley.verify import Report


class DockerBackend:
    """Builder images, cook images (shared through a registry), builds on top of them."""

    name: BackendName = "docker"

    def plans(
        self, settings: Settings, recipe: Recipe, arches: Sequence[Arch], work: Work = "build"
    ) -> list[DockerPlan]:
        return backend.plans(settings, recipe, list(arches), settings.mode, work)

    def cook(self, planned: DockerPlan, store: Store) -> ArchResult:
        return backend.cook(planned, planned.plan.settings.push)

    def build(self, planned: DockerPlan, store: Store, dist_dir: Path) -> ArchResult:
        settings = planned.plan.settings
        return backend.build(planned, settings.push, settings.cache_dir / "docker", dist_dir)

    def run(self, planned: DockerPlan, store: Store, extra: Sequence[str]) -> ArchResult:
        settings = planned.plan.settings
        return backend.run(planned, settings.push, settings.cache_dir / "docker", extra)

    def prune(
        self, settings: Settings, older_than: float | None, keep: int | None, dry_run: bool
    ) -> None:
        docker = detect(settings.client, settings.cache_dir)
        require_daemon(docker)
        prune.prune(docker, older_than, keep, dry_run)

    def discard_rebuild(self, settings: Settings) -> None:
        backend.forget_cook_images(settings)

    def verify_work(
        self, settings: Settings, arches: Sequence[Arch], repair: bool, report: Report
    ) -> None:
        backend.verify_mounts(settings, arches, repair, report)
