"""What the tasks do, as plain functions on Settings (tasks.py only parses flags)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from galley import backends, cachekey, dist, filelock, layout, sync
from galley.backends import Backend
from galley.chef import prepare
from galley.chef.recipe import Recipe
from galley.chef.workspace import is_outside
from galley.errors import ConfigError, VerifyFailed, WorkspaceError, one_line
from galley.options import Rebuild, Settings
from galley.plan import Plan, Work
from galley.results import ArchResult, print_table
from galley.store import Entry, Store
from galley.units import format_size

if TYPE_CHECKING:  # verify and prune load only for their own commands
    from galley.prune import Decision
    from galley.verify import Report

RECIPE_FILE = "recipe.json"


def workspace_recipe(settings: Settings) -> Recipe:
    """The workspace's recipe; with `bins`, of their closure only."""
    check_workspace(settings)
    return prepare(settings.workspace, bin_names=settings.bins)


def check_workspace(settings: Settings) -> None:
    if not (settings.workspace / "Cargo.toml").is_file():
        raise WorkspaceError(
            f"{settings.workspace}: no Cargo.toml (set `workspace` in galley.toml or --workspace)"
        )


def write_recipe(settings: Settings, output: Path | None) -> Path:
    """`prepare`: the recipe file (default `<dist>/recipe.json`)."""
    recipe = workspace_recipe(settings)
    path = output or settings.dist_dir / RECIPE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(recipe.to_json(), encoding="utf-8")
    print(f"galley: recipe {recipe.digest()[:12]} -> {path}", file=sys.stderr)
    return path


def locked_recipe(settings: Settings) -> Recipe:
    recipe = workspace_recipe(settings)
    if recipe.lock_file is None:
        raise WorkspaceError(
            f"{settings.workspace}: no Cargo.lock; galley builds with --locked "
            "(run `cargo generate-lockfile` and commit it)"
        )
    return recipe


def _run(
    settings: Settings,
    arch_names: list[str] | None,
    step: Callable[[Backend[Any], Any, Store], ArchResult],
    explain: bool = False,
    work: Work = "build",
) -> list[ArchResult]:
    """`step` for each asked arch, with the backend `backends.assign` gives it; each result
    names its backend, in the order the arches were asked for, and the key manifests are
    remembered for the next `cook --explain`."""
    check_workspace(settings)  # the toolchain probe runs in it
    asked = settings.arch_list(arch_names)
    store = Store(settings.cache_dir)
    found: list[ArchResult] = []
    for backend, chosen, arches in backends.assign(settings, asked):
        started = time.monotonic()
        planned = backend.plans(chosen, locked_recipe(chosen), arches, work)
        planning = time.monotonic() - started
        for item in planned:
            if explain:
                _explain(store, item.plan)
            result = step(backend, item, store)
            store.remember_manifest(item.plan.arch.name, item.plan.key_manifest)
            result.details["backend"] = backend.name
            result.details.setdefault("phases", {})["plan"] = round(planning, 3)
            found.append(result)
    order = [arch.name for arch in asked]
    return sorted(found, key=lambda result: order.index(result.arch))


def cook(
    settings: Settings, arch_names: list[str] | None = None, explain: bool = False
) -> list[ArchResult]:
    """Each arch's dependencies: a cache hit, or cooked and published."""
    _prepare_cache_dir(settings)
    return _run(settings, arch_names, lambda b, item, store: b.cook(item, store), explain)


def run(settings: Settings, work: Work, extra: Sequence[str] = ()) -> list[ArchResult]:
    """`cargo test`, `check` or `clippy` for each arch, on the dependencies cooked for it;
    `extra` goes after `--` (to the test binaries, or to clippy)."""
    _prepare_cache_dir(settings)
    return _run(settings, None, lambda b, item, store: b.run(item, store, extra), work=work)


def build(settings: Settings, arch_names: list[str] | None = None) -> list[ArchResult]:
    """Each arch cooked if needed and built; outputs in `<dist>/<arch>/`."""
    settings.dist_dir.mkdir(parents=True, exist_ok=True)  # before any work: a mistaken --dist
    for arch in settings.arch_list(arch_names):
        dist.check_replaceable(settings.dist_dir / arch.name)
    _prepare_cache_dir(settings)
    dist_dir = settings.dist_dir
    return _run(settings, arch_names, lambda b, item, store: b.build(item, store, dist_dir))


def _prepare_cache_dir(settings: Settings) -> None:
    """Tag the cache dir as a cache, which the mirror of the sources leaves out when it lies
    in the workspace; refused when it holds the workspace (the tag would hide the sources from
    backups, and the cache would be mirrored into itself)."""
    cache, workspace = settings.cache_dir.resolve(), settings.workspace.resolve()
    if workspace.is_relative_to(cache):
        raise ConfigError(
            f"the cache dir {settings.cache_dir} holds the workspace {settings.workspace}; "
            "choose one outside it, or a directory inside it such as .galley-cache"
        )
    sync.tag_cache_dir(settings.cache_dir)


def prune(
    settings: Settings,
    max_size: int | None,
    older_than: float | None,
    keep: int | None,
    dry_run: bool,
) -> list[tuple[Decision, str]]:
    """Apply the policy to the entries and vendor dirs; returns (decision, outcome) rows. What
    is in use (an entry being restored or cooked, a vendor dir being copied) is never removed."""
    if max_size is None and older_than is None and keep is None:
        raise ConfigError("cache-prune needs --max-size, --older-than or --keep")
    from galley.backends.docker import vendor  # the docker backend only when it is needed
    from galley.prune import VENDOR_GROUP, Item, decide

    backends.named(settings.backend).prune(settings, older_than, keep, dry_run)
    store = Store(settings.cache_dir)
    entries = {e.key: e for e in store.entries()}
    vendor_dirs = {d.name: d for d in vendor.listing(settings.cache_dir)}
    items = [Item(k, e.arch, e.size, store.last_used(e)) for k, e in entries.items()]
    items += [Item(n, VENDOR_GROUP, d.size, d.last_used) for n, d in vendor_dirs.items()]
    rows = []
    for decision in decide(items, max_size, older_than, keep):
        outcome, item = "keep", decision.item
        if decision.remove and dry_run:
            outcome = "would remove"
        elif decision.remove and item.group == VENDOR_GROUP:
            outcome = "removed" if vendor.remove(vendor_dirs[item.name]) else "in use, kept"
        elif decision.remove:
            outcome = "removed" if _remove_entry(store, entries[item.name]) else "in use, kept"
        rows.append((decision, outcome))
    if not dry_run:
        _remove_orphan_locks(store, set(entries), settings.cache_dir)
    return rows


def _remove_orphan_locks(store: Store, keys: set[str], cache_dir: Path) -> None:
    """Lock files whose subject is gone, unless held: left by failed or killed runs (and by
    earlier galleys, which never removed any). A removed entry's lock went with it."""
    from galley.backends.docker import vendor
    from galley.backends.docker.backend import cook_locks as docker_cook_locks

    for path in [
        *store.orphan_locks(keys),
        *vendor.orphan_locks(cache_dir),
        *docker_cook_locks(cache_dir),
    ]:
        filelock.discard(path)


def _remove_entry(store: Store, entry: Entry) -> bool:
    with store.lock(entry.key, blocking=False, remove=True) as free:
        if free and store.get(entry.key):
            store.remove(entry)
            return True
    return False


def print_prune_table(rows: list[tuple[Decision, str]], cache_dir: Path) -> None:
    print(f"cache entries and vendor dirs in {cache_dir}:", file=sys.stderr)
    if not rows:
        print("  none", file=sys.stderr)
        return
    table = [("arch", "key", "size", "last used", "action", "reason")]
    now = time.time()
    for decision, outcome in sorted(rows, key=lambda r: (r[0].item.group, -r[0].item.last_used)):
        item = decision.item
        age = (now - item.last_used) / 3600
        table.append(
            (item.group, item.name[:12], format_size(item.size), f"{age:.1f}h ago", outcome,
             decision.reason)
        )  # fmt: skip
    print_table(table)
    freed = sum(d.item.size for d, o in rows if o in ("removed", "would remove"))
    print(
        f"  {'would free' if any(o == 'would remove' for _, o in rows) else 'freed'} "
        f"{format_size(freed)}",
        file=sys.stderr,
    )


def verify(
    settings: Settings,
    arch_names: list[str] | None = None,
    reproducible: bool = False,
    repair: bool = False,
) -> Report:
    """Run every check for the requested arches; raises VerifyFailed after printing problems.
    `repair`: restore the dependency artifacts that differ where the backends build."""
    from galley.verify import Report, check_artifacts, check_recipe, check_store

    report = Report()
    recipe = workspace_recipe(settings)
    if reproducible:
        report.problems += verify_reproducible(settings, arch_names)
        if report.problems and any(is_outside(m.relative_path) for m in recipe.manifests):
            report.notes.append(
                "path crates outside the workspace: cargo hashes their absolute path into the "
                "binaries, so local-backend builds differ with the cache dir's place (docker "
                "builds, at /galley/src, do not)"
            )
    report.problems += check_store(Store(settings.cache_dir))
    for backend in backends.every():
        backend.verify_work(settings, settings.arch_list(arch_names), repair, report)
    for arch in settings.arch_list(arch_names):
        arch_dir = settings.dist_dir / arch.name
        manifest = dist.read_manifest(arch_dir)
        built_bins = manifest.get("bins", []) if manifest is not None else []
        if manifest is not None and built_bins != sorted(settings.bins):
            report.problems.append(
                f"{arch.name}: built with bins = {built_bins!r}, verified with "
                f"{sorted(settings.bins)!r} (pass the build's --bin, or set `bins` in galley.toml)"
            )
            continue
        report.problems += check_recipe(recipe, manifest, arch.name)
        built_for, triple = (manifest or {}).get("target"), settings.triple(arch)
        if manifest is not None and built_for != triple:
            report.problems.append(
                f"{arch.name}: built for {built_for}, verified for {triple} (pass the build's "
                f"--libc, or set [arch.{arch.name}] libc in galley.toml)"
            )
            continue
        if manifest is not None:
            check_artifacts(arch_dir, arch, settings.libc(arch), settings.glibc_floor, report)
    for note in report.notes:
        print(f"  note: {one_line(note)}", file=sys.stderr)
    for problem in report.problems:
        print(f"  FAIL: {one_line(problem)}", file=sys.stderr)
    if not report.ok:
        raise VerifyFailed(f"verify found {len(report.problems)} problem(s)")
    print("galley: verify OK", file=sys.stderr)
    return report


def verify_reproducible(settings: Settings, arch_names: list[str] | None) -> list[str]:
    """Rebuild each arch from a copy of the workspace at another absolute path, with a separate
    cache, and compare every artifact's sha256 with the dist; returns the differing files."""
    differences = []
    with tempfile.TemporaryDirectory(prefix="galley-repro-") as directory:
        root = Path(directory)
        sources = layout.of(workspace_recipe(settings), settings.workspace, settings.extra_sources)
        tree = root / "elsewhere" / sources.root.name
        sources.mirror(tree, exclude=[settings.dist_dir])  # as builds see it
        # docker builds cook from scratch too, under a throw-away name
        fresh = settings.replace(
            workspace=tree / sources.nest, cache_dir=root / "cache", dist_dir=root / "dist",
            registry=None, push=False,
            rebuild=Rebuild(cook_repository=f"galley-verify-{os.getpid()}", no_cache=True),
        )  # fmt: skip
        assigned = backends.assign(fresh, fresh.arch_list(arch_names))
        try:
            build(fresh, arch_names)
        finally:
            for backend, _, _ in assigned:
                backend.discard_rebuild(fresh)
        for arch in settings.arch_list(arch_names):
            ours = dist.artifacts_of(dist.read_manifest(settings.dist_dir / arch.name))
            theirs = dist.artifacts_of(dist.read_manifest(fresh.dist_dir / arch.name))
            for name in sorted(set(ours) | set(theirs)):
                if ours.get(name) != theirs.get(name):
                    differences.append(f"{arch.name}: {name} differs from a fresh rebuild")
    return differences


def _explain(store: Store, plan: Plan) -> None:
    lines = cachekey.explain(store.last_manifest(plan.arch.name), plan.key_manifest)
    print(f"galley: key {plan.key[:12]} for {plan.arch.name}:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


def builder_image(settings: Settings, arch_names: list[str] | None = None) -> list[dict[str, Any]]:
    """Build (or find) the docker builder image of each arch for the configured mode."""
    from galley.backends.docker import images
    from galley.backends.docker.client import detect, require_daemon

    docker = detect(settings.client, settings.cache_dir)
    require_daemon(docker)
    found = []
    for arch in settings.arch_list(arch_names):
        builder = images.builder_image(docker, settings, arch, settings.mode)
        found.append({
            "arch": arch.name, "image": builder.tag, "id": builder.image_id,
            "size": builder.size, "builder": builder.status,
        })  # fmt: skip
    return found
