"""The task collection: prepare, cook, build, cache-prune, verify.

Loaded by the repo's `tasks.py` (`invoke cook --arch arm64`) and by the installed `galley`
program (same tasks, any Rust repo). Flags override `galley.toml`; every user error ends as one
line and a non-zero exit (invoke's Exit), never a traceback.
"""

from __future__ import annotations

import functools
import json as jsonlib
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task, task

from galley import config, interrupts, operations, results
from galley.errors import ConfigError, GalleyError, describe_os_error, error_line
from galley.units import parse_count, parse_duration, parse_size

F = TypeVar("F", bound=Callable[..., Any])


class _Task(Task[Any]):
    """invoke's Task, but a repeatable flag needs a value like any other: invoke reads a bare
    `--arch` as no arch at all, so `--arch $UNSET` built the default arch."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            if argument.kind is list:
                argument.raw_value = None  # "no value yet": the parser then demands one
        return arguments


def _task(**options: Any) -> Callable[[Callable[..., Any]], _Task]:
    """invoke's @task for galley's tasks: long flags only, repeatable flags need a value."""
    decorator: Callable[[Callable[..., Any]], _Task] = task(
        klass=_Task, auto_shortflags=False, **options
    )
    return decorator


COMMON_HELP = {
    "workspace": "Rust workspace directory (default: galley.toml's, else the cwd)",
    "dist": "output directory (default: dist/)",
    "config": "path of galley.toml (default: found from the cwd upward)",
    "cache_dir": "cache directory (default: $GALLEY_CACHE_DIR or ~/.cache/galley)",
}
ARCH_HELP = {
    "arch": "architecture, repeatable: amd64 arm64 s390x ppc64le riscv64 (aliases accepted)",
    "profile": "cargo profile (default: release)",
    "features": "cargo feature, repeatable",
    "no_default_features": "cargo --no-default-features (cook and build)",
    "all_features": "cargo --all-features (cook and build)",
    "bin": "only this binary (or package) and the crates it needs: recipe, cook, build, dist",
    "backend": "auto (local where the host toolchain has the target's std, else docker), local"
    " or docker",
    "chef": "builtin, cargo-chef or auto",
    "json": "print one JSON document on stdout",
    "mode": "docker: cross (native speed) or emulate (qemu, builder image of the arch)",
    "registry": "docker: share cook images through this registry (host:port)",
    "push": "docker: push new cook images to the registry",
    "builder_image": "docker: use this builder image instead of building one offline",
}


def _exits(function: F) -> F:
    """Turn GalleyError into invoke's Exit: one line on stderr, the error's exit code."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        interrupts.stop_on_sigterm()
        try:
            return function(*args, **kwargs)
        except GalleyError as exc:
            raise Exit(error_line(str(exc)), code=exc.exit_code) from None
        except OSError as exc:  # a path the user gave that cannot be used
            raise Exit(error_line(describe_os_error(exc)), code=1) from None
        except KeyboardInterrupt:
            raise Exit("galley: interrupted", code=130) from None
        except interrupts.Terminated:
            raise Exit("galley: terminated", code=143) from None

    return wrapper  # type: ignore[return-value]


def _settings(
    config_path: str | None,
    workspace: str | None,
    dist: str | None,
    cache_dir: str | None,
    mode: str | None = None,
    registry: str | None = None,
    push: bool = False,
    builder_image: str | None = None,
    **flags: Any,
) -> config.Settings:
    """galley.toml, then the common flags, then the task's own and the docker flags."""
    settings = config.load(Path(config_path) if config_path else None)
    settings = settings.with_flags(workspace=workspace, dist_dir=dist, cache_dir=cache_dir, **flags)
    return _docker_flags(settings, mode, registry, push, builder_image)


def _docker_flags(
    settings: config.Settings, mode: str | None, registry: str | None, push: bool, image: str | None
) -> config.Settings:
    """The docker-only flags over the file's [docker] table; refused with another backend, and
    `--push` with no registry to push to."""
    given = [flag for flag, value in (("--mode", mode), ("--registry", registry),
             ("--push", push), ("--builder-image", image)) if value]  # fmt: skip
    if given and settings.backend == "local":
        raise ConfigError(f"{given[0]} is for the docker backend, not with --backend local")
    if given:  # auto: a docker flag chooses docker
        settings = replace(settings, backend="docker")
    changes: dict[str, Any] = {"builder_image": image}
    if registry is not None:
        changes["registry"] = config.check_registry("--registry", registry)  # "": no registry
    if mode is not None:
        changes["mode"] = config.check_choice("mode", mode, config.MODES)
    if push:
        changes["push"] = True
    changes = {k: v for k, v in changes.items() if v is not None or k == "registry"}
    docker = replace(settings.docker, **changes)
    if settings.backend == "docker" and docker.push and not docker.registry:
        raise ConfigError("push needs a registry: --registry HOST[:PORT] or docker.registry")
    return replace(settings, docker=docker)


def _report(task_name: str, found: list[results.ArchResult], as_json: bool) -> None:
    if as_json:
        results.print_json(found)
    if len(found) > 1 or not as_json:
        results.print_summary(task_name, found)


@_task(
    help={
        "bin": "only the closure of this binary or package",
        "output": "recipe path",
        **COMMON_HELP,
    },
)
@_exits
def prepare(
    c: Context,
    bin: str | None = None,
    output: str | None = None,
    workspace: str | None = None,
    dist: str | None = None,
    config: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Write the workspace's recipe (cargo-chef's recipe.json schema)."""
    settings = _settings(config, workspace, dist, cache_dir)
    path = operations.write_recipe(settings, bin, Path(output) if output else None)
    print(path)


@_task(
    iterable=["arch", "features"],
    help={
        **ARCH_HELP,
        "explain": "show which key inputs changed since the last cook",
        **COMMON_HELP,
    },
)
@_exits
def cook(
    c: Context,
    arch: list[str] | None = None,
    profile: str | None = None,
    features: list[str] | None = None,
    no_default_features: bool = False,
    all_features: bool = False,
    bin: str | None = None,
    backend: str | None = None,
    chef: str | None = None,
    explain: bool = False,
    mode: str | None = None,
    registry: str | None = None,
    push: bool = False,
    builder_image: str | None = None,
    json: bool = False,
    workspace: str | None = None,
    dist: str | None = None,
    config: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Cook the dependencies for each arch: a cache hit, or a cook published to the cache."""
    settings = _settings(
        config, workspace, dist, cache_dir, profile=profile, features=features, backend=backend,
        no_default_features=no_default_features or None, all_features=all_features or None,
        bin=bin, chef=chef, mode=mode, registry=registry, push=push, builder_image=builder_image,
    )  # fmt: skip
    _report("cook", operations.cook(settings, arch, explain=explain), json)


@_task(iterable=["arch", "features"], help={**ARCH_HELP, **COMMON_HELP})
@_exits
def build(
    c: Context,
    arch: list[str] | None = None,
    profile: str | None = None,
    features: list[str] | None = None,
    no_default_features: bool = False,
    all_features: bool = False,
    bin: str | None = None,
    backend: str | None = None,
    chef: str | None = None,
    mode: str | None = None,
    registry: str | None = None,
    push: bool = False,
    builder_image: str | None = None,
    json: bool = False,
    workspace: str | None = None,
    dist: str | None = None,
    config: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Cook if needed, then build the real code on top; outputs in <dist>/<arch>/."""
    settings = _settings(
        config, workspace, dist, cache_dir, profile=profile, features=features, backend=backend,
        no_default_features=no_default_features or None, all_features=all_features or None,
        bin=bin, chef=chef, mode=mode, registry=registry, push=push, builder_image=builder_image,
    )  # fmt: skip
    _report("build", operations.build(settings, arch), json)


@_task(
    name="cache-prune",
    help={
        "max_size": "remove least recently used entries above this total (e.g. 20G)",
        "older_than": "remove entries unused for longer than this (e.g. 14d)",
        "keep": "keep at most N entries per arch",
        "dry_run": "only show what would be removed",
        "backend": "also prune docker cook images and the builder cache (docker)",
        **COMMON_HELP,
    },
)
@_exits
def cache_prune(
    c: Context,
    max_size: str | None = None,
    older_than: str | None = None,
    keep: str | None = None,
    dry_run: bool = False,
    backend: str | None = None,
    workspace: str | None = None,
    dist: str | None = None,
    config: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Remove cache entries by size, age and count per arch; never one in use."""
    settings = _settings(config, workspace, dist, cache_dir, backend=backend)
    rows = operations.prune(
        settings,
        max_size=parse_size(max_size) if max_size else None,
        older_than=parse_duration(older_than) if older_than else None,
        keep=parse_count(keep) if keep is not None else None,
        dry_run=dry_run,
    )
    operations.print_prune_table(rows, settings.cache_dir)


@_task(
    iterable=["arch", "features"],
    help={
        "reproducible": "also rebuild from a copy elsewhere with a fresh cache and compare digests"
        " (docker: cooked from scratch)",
        **{k: ARCH_HELP[k] for k in ("arch", "profile", "features", "backend", "chef", "mode")},
        "no_default_features": ARCH_HELP["no_default_features"],
        "all_features": ARCH_HELP["all_features"],
        "bin": ARCH_HELP["bin"],
        "builder_image": ARCH_HELP["builder_image"],
        **COMMON_HELP,
    },
)
@_exits
def verify(
    c: Context,
    arch: list[str] | None = None,
    reproducible: bool = False,
    profile: str | None = None,
    features: list[str] | None = None,
    no_default_features: bool = False,
    all_features: bool = False,
    bin: str | None = None,
    backend: str | None = None,
    chef: str | None = None,
    mode: str | None = None,
    builder_image: str | None = None,
    workspace: str | None = None,
    dist: str | None = None,
    config: str | None = None,
    cache_dir: str | None = None,
) -> None:
    """Check recipe freshness, cache integrity and the built artifacts (ELF arch, no dummies).

    The build flags matter with --reproducible only: the rebuild uses them, as the build did."""
    settings = _settings(
        config, workspace, dist, cache_dir, profile=profile, features=features, backend=backend,
        no_default_features=no_default_features or None, all_features=all_features or None,
        bin=bin, chef=chef, mode=mode, builder_image=builder_image,
    )  # fmt: skip
    operations.verify(settings, arch, reproducible=reproducible)


@_task(
    name="builder-image",
    iterable=["arch"],
    help={"arch": ARCH_HELP["arch"], "mode": ARCH_HELP["mode"], "json": ARCH_HELP["json"],
          "config": COMMON_HELP["config"]},
)  # fmt: skip
@_exits
def builder_image(
    c: Context,
    arch: list[str] | None = None,
    mode: str | None = None,
    json: bool = False,
    config: str | None = None,
) -> None:
    """Build, offline, the docker builder image for each arch (debootstrap + Debian Rust)."""
    settings = _settings(config, None, None, None, mode=mode, backend="docker")
    images = operations.builder_image(settings, arch)
    for image in images:
        print(f"galley: builder for {image['arch']}: {image['image']}", file=sys.stderr)
    if json:
        document = images[0] if len(images) == 1 else {"images": images}
        print(jsonlib.dumps({"image": document["image"]} if len(images) == 1 else document))


ns = Collection(prepare, cook, build, cache_prune, verify, builder_image)
ns.configure({"run": {"echo": True}})

__all__ = ["ns"]
