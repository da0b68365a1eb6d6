"""The local backend: cargo on the host, cook entries in the local cache store.

Cook and build share one directory per arch (`<cache>/work/<arch>/{src,target}`, locked while in
use) so cargo sees identical paths and rustflags in both, and `--remap-path-prefix` makes the
binaries independent of where the cache and the checkout live. What a restore put in the work
dir is recorded (galley.restored), so that damage there is found and healed from the entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from galley import (
    cachekey,
    chefcmd,
    delta,
    dist,
    filelock,
    host_toolchain,
    jsonfile,
    restored,
    shell,
)
from galley.arch import Arch
from galley.chef import cleanup
from galley.chef.cooker import DUMMIES_FILE, PATCH_SOURCES, SKELETON_ROOT, cargo_args
from galley.chef.recipe import Recipe
from galley.errors import CacheError, CommandFailed
from galley.options import RUNS, Settings
from galley.options import Backend as BackendName
from galley.plan import Plan, Work, make_plan
from galley.results import ArchResult
from galley.runs import RunReport, check_failed
from galley.store import Entry, Store

if TYPE_CHECKING:  # verify loads only for its own command
    from galley.verify import Report

STATE_FILE = ".galley-state.json"
BUILT_FILE = ".galley-built"  # in the work dir's target: a build ran there after the restore


@dataclass(frozen=True)
class WorkDir:
    """The per-arch directory where cook and build run."""

    root: Path
    nest: str = ""  # the workspace below `tree` (see galley.layout)

    @property
    def tree(self) -> Path:
        """The sources: the workspace, and the path crates outside it at their places."""
        return self.root / "src"

    @property
    def src(self) -> Path:
        """The workspace, where cargo runs."""
        return self.tree / self.nest

    @property
    def target(self) -> Path:
        return self.root / "target"

    def state(self) -> dict[str, str]:
        return jsonfile.read_object(self.target / STATE_FILE) or {}

    def set_state(self, key: str) -> None:
        (self.target / STATE_FILE).write_text(json.dumps({"key": key}) + "\n", encoding="utf-8")


@contextlib.contextmanager
def work_dir(store: Store, arch: str, nest: str = "") -> Iterator[WorkDir]:
    """The arch's work dir, held exclusively (one cook or build per arch and cache at a time)."""
    root = store.root / "work" / arch
    root.mkdir(parents=True, exist_ok=True)
    with filelock.exclusive(root.parent / f"{arch}.lock"):
        yield WorkDir(root, nest)


def remap(work: WorkDir) -> dict[Path, str]:
    """Path prefixes hidden from the binaries (the work dir and cargo's home)."""
    cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    return {work.root: "/galley", cargo_home: "/cargo"}


def cook(plan: Plan, store: Store, work: WorkDir) -> tuple[Entry, ArchResult]:
    """Find a verified entry for the plan's key, or cook and publish one."""
    started = time.monotonic()
    result = ArchResult(plan.arch.name, plan.triple, plan.key)
    entry = _verified(store, plan.key, result)
    if entry is None:
        with store.lock(plan.key):
            entry = _verified(store, plan.key, result)  # cooked meanwhile by a concurrent run
            if entry is None:
                store.clean_abandoned(plan.key)
                entry = _cook_and_publish(plan, store, work, result)
    result.cache = "miss" if result.details.get("cooked") else "hit"
    store.record(plan.key, hit=result.cache == "hit")
    result.seconds = time.monotonic() - started
    result.size = entry.size
    result.details["chef"] = plan.chef
    return entry, result


def build(plan: Plan, store: Store, work: WorkDir, dist_dir: Path) -> ArchResult:
    """Cook if needed, restore the entry, build the real sources, publish `dist/<arch>`. A
    build that fails in a work dir whose dependency artifacts differ from the entry's restores
    them and runs once more."""
    started = time.monotonic()
    entry, result = _ready(plan, store, work)
    try:
        with result.phase("cargo build"):
            messages = _cargo_build(plan, work)
    except CommandFailed:
        healed = _heal_after_failure(plan, store, work, entry, result)
        if healed is None:
            raise  # the build's own failure
        entry = healed
        with result.phase("cargo build again"):
            messages = _cargo_build(plan, work)
    (work.target / BUILT_FILE).touch()
    result.details["compiled"] = dist.compiled(messages)
    if set(result.details["compiled"]) - cleanup.local_names(plan.recipe)[0]:
        _forget_recompiled(work, result)
    with result.phase("publish dist"):
        dummies = entry.meta.get("dummies", {})
        manifest = dist.publish_build(plan, dist_dir, dist.payload(messages), dummies=dummies)
    result.details["artifacts"] = sorted(manifest["artifacts"])
    result.details["dist"] = str(dist_dir / plan.arch.name)
    result.seconds = time.monotonic() - started
    return result


def run(plan: Plan, store: Store, work: WorkDir, extra: Sequence[str]) -> ArchResult:
    """Cook if needed, restore the entry, run `cargo test|check|clippy` on the real sources
    (`extra`: after `--`, to the test binaries or to clippy), its output streamed. A run that
    fails, not by failing tests, in a work dir whose dependency artifacts differ from the
    entry's restores them and runs once more."""
    started = time.monotonic()
    entry, result = _ready(plan, store, work)
    try:
        _cargo_run(plan, work, extra, result)
    except CommandFailed:
        if _heal_after_failure(plan, store, work, entry, result) is None:
            raise  # the run's own failure
        _cargo_run(plan, work, extra, result)
    (work.target / BUILT_FILE).touch()
    result.seconds = time.monotonic() - started
    return result


def _cargo_run(plan: Plan, work: WorkDir, extra: Sequence[str], result: ArchResult) -> RunReport:
    """The run's cargo command; failed tests are its result (CommandFailed only for the
    rest: a compile error, a lint denied)."""
    report = RunReport()
    argv = [plan.settings.cargo, *plan.cargo_command(work.target, extra)]
    try:
        with result.phase(f"cargo {plan.work}"):
            shell.run(argv, cwd=work.src, env=_run_env(plan, work), watch=report.watch)
    except CommandFailed as exc:
        check_failed(exc, report)
    finally:
        result.details.update(report.details(plan.work))
    return report


def _run_env(plan: Plan, work: WorkDir) -> dict[str, str | None]:
    """The run's environment, with cargo's own incremental setting; for the tests of a foreign
    arch, qemu-user as cargo's runner, unless one is set already: with the arch's multiarch
    libc where the host has one, else with Debian's cross libc (`-L`, which must not be mixed
    with a multiarch libc: see backends.docker.scripts)."""
    env = plan.cargo_env(remap(work), keep_incremental=True)
    runner, program = cachekey.target_variable(plan.triple, "RUNNER"), plan.test_runner()
    if program and runner not in os.environ:
        triple = plan.arch.gcc_triple
        multiarch = Path(f"/lib/{triple}/libc.so.6").exists()
        env[runner] = program if multiarch else f"{program} -L /usr/{triple}"
    return env


def _ready(plan: Plan, store: Store, work: WorkDir) -> tuple[Entry, ArchResult]:
    """The work dir holding the plan's entry (cooked if needed, checked, healed) and the real
    sources."""
    held = _holding(plan, store, work)
    entry, result = held or _restore(plan, store, work)
    with result.phase("sync sources"):
        result.details["synced_files"] = plan.layout.mirror(
            work.tree, exclude=[plan.settings.dist_dir]
        )
    return entry, result


def _forget_recompiled(work: WorkDir, result: ArchResult) -> None:
    """Cargo compiled a dependency (or a path patch) again, for its own reasons: the files it
    rewrote leave the record, they are no longer the entry's."""
    record = restored.read(work.root)
    if record is not None:
        with result.phase("check work dir"):
            restored.forget_changed(work.root, record)


def _holding(plan: Plan, store: Store, work: WorkDir) -> tuple[Entry, ArchResult] | None:
    """The entry the work dir holds the artifacts of, once a cheap check (sizes and mtimes
    against the record of the restore) found them intact or healed them; None when it holds
    another key's, or has no record (an older galley's), or the entry is gone or cannot heal."""
    record = restored.read(work.root)
    if work.state().get("key") != plan.key or record is None or record.key != plan.key:
        return None
    entry = store.get(plan.key)
    if entry is None:
        return None
    result = ArchResult(plan.arch.name, plan.triple, plan.key, "hit")
    with result.phase("check work dir"):
        found = restored.check(work.root, record, full=False)
    if not _heal(store, work, entry, record, found, result):
        return None
    if found.damaged:
        print(
            f"galley: {plan.arch.name}: {_artifacts(found.damaged)} in the work dir differed "
            f"from cache entry {entry.key[:12]}; restored",
            file=sys.stderr,
        )
    store.record(plan.key, hit=True)
    result.size = entry.size
    return entry, result


def _restore(plan: Plan, store: Store, work: WorkDir) -> tuple[Entry, ArchResult]:
    """Cook if needed and restore the entry into the work dir, keeping the workspace crates of
    the last build there; the restore recorded."""
    kept = _keep_workspace_crates(work, plan)
    entry, result = cook(plan, store, work)
    with store.lock(plan.key, shared=True), result.phase("restore"):
        (work.target / STATE_FILE).unlink(missing_ok=True)
        restored.forget(work.root)
        result.details["restore_seconds"] = round(store.restore(entry, work.target), 3)
        if kept is not None:
            result.details["kept_workspace_crates"] = _put_back(kept, work)
        restored.write(work.root, restored.take(work.root, entry))
    work.set_state(plan.key)
    return entry, result


def _heal_after_failure(
    plan: Plan, store: Store, work: WorkDir, entry: Entry, result: ArchResult
) -> Entry | None:
    """After a failed build: every recorded artifact hashed; those that differ restored (the
    whole entry again when it cannot give them back), said in one line. The entry to build on
    again, or None when nothing differed (the failure is the build's own)."""
    record = restored.read(work.root)
    if record is None or record.key != plan.key:
        return None
    with result.phase("check work dir"):
        found = restored.check(work.root, record, full=True)
    if not found.damaged:
        return None
    print(
        f"galley: {plan.arch.name}: the build failed, and {_artifacts(found.damaged)} in the "
        f"work dir differed from cache entry {entry.key[:12]}; restored, building again",
        file=sys.stderr,
    )
    if _heal(store, work, entry, record, found, result):
        return entry
    return _restore(plan, store, work)[0]


def _heal(
    store: Store,
    work: WorkDir,
    entry: Entry,
    record: restored.Record,
    found: restored.Found,
    result: ArchResult,
) -> bool:
    """Restore what `found` names from the entry; False (the record dropped) when the entry
    cannot give it back, so the next restore is whole."""
    if not (found.damaged or found.retimed):
        return True
    try:
        with store.lock(entry.key, shared=True), result.phase("heal work dir"):
            restored.retime(work.root, record, found.retimed)
            restored.heal(work.root, record, entry, found.damaged)
    except (CacheError, OSError):
        restored.forget(work.root)
        return False
    restored.write(work.root, record)
    result.details.setdefault("healed", []).extend(found.damaged)
    return True


def _artifacts(paths: list[str]) -> str:
    """`3 dependency artifacts (liblog-….rlib, …)`: how many, and the first names."""
    names = [Path(path).name for path in paths[:2]]
    more = ", …" if len(paths) > 2 else ""
    noun = "artifact" if len(paths) == 1 else "artifacts"
    return f"{len(paths)} dependency {noun} ({', '.join(names)}{more})"


def verify_work_dirs(
    settings: Settings, arches: Sequence[Arch], repair: bool, report: Report
) -> None:
    """Every recorded dependency artifact of each arch's work dir hashed: one that differs is a
    problem, marked for the next build to restore, or with `repair` restored now (a note)."""
    store = Store(settings.cache_dir)
    for arch in arches:
        for name in (arch.name, *(f"{arch.name}-{work}" for work in RUNS)):
            if (store.root / "work" / name / "target").is_dir():
                with work_dir(store, name) as work:
                    _verify_work_dir(store, work, f"work dir {name}", repair, report)


def _verify_work_dir(store: Store, work: WorkDir, where: str, repair: bool, report: Report) -> None:
    record = restored.read(work.root)
    if record is None:
        report.notes.append(f"{where}: no record of a restore (an older galley's); not checked")
        return
    if work.state().get("key") != record.key:
        return  # a cook cut short left it: the next build restores it whole
    found = restored.check(work.root, record, full=True)
    if not found.damaged:
        return
    entry = store.get(record.key)
    source = f"cache entry {record.key[:12]}"
    if not repair:
        record.suspect.update(found.damaged)
        restored.write(work.root, record)
        report.problems += [
            f"{where}: {path} differs from {source} (the next build or `verify --repair` "
            "restores it)"
            for path in found.damaged
        ]
        return
    try:
        if entry is None:
            raise CacheError(f"{source} is gone")
        with store.lock(entry.key, shared=True):
            restored.heal(work.root, record, entry, found.damaged)
    except (CacheError, OSError) as exc:
        restored.forget(work.root)  # the next build restores the whole work dir
        report.problems += [
            f"{where}: {path} differs from {source}, which cannot restore it ({exc}); the next "
            "build restores the work dir"
            for path in found.damaged
        ]
        return
    restored.write(work.root, record)
    report.notes += [f"{where}: {path} differed from {source}; restored" for path in found.damaged]


def _keep_workspace_crates(work: WorkDir, plan: Plan) -> Path | None:
    """Before a new key's cook and restore (a dependency bump): move the last build's real
    sources and its workspace crates aside, so that only the crates the bump touches recompile
    (cargo's fingerprints decide). Nothing when the work dir holds no build."""
    keep = work.root / "keep"
    shutil.rmtree(keep, ignore_errors=True)
    if not (work.target / BUILT_FILE).is_file() or not work.tree.is_dir():
        return None
    (keep / "target").mkdir(parents=True)
    os.rename(work.tree, keep / "src")
    for path in cleanup.local_artifacts(work.target, plan.recipe):
        destination = keep / "target" / path.relative_to(work.target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, destination)
    return keep


def _put_back(keep: Path, work: WorkDir) -> int:
    """Undo _keep_workspace_crates over the restored entry; returns the artifacts put back."""
    shutil.rmtree(work.tree, ignore_errors=True)  # the cook's skeleton
    os.rename(keep / "src", work.tree)
    moved = 0
    for directory, dirs, files in os.walk(keep / "target"):
        relative = Path(directory).relative_to(keep / "target")
        for name in [*files, *dirs]:
            source, destination = Path(directory, name), work.target / relative / name
            if name in dirs and destination.is_dir():
                continue  # a profile or kind dir the entry has too: descend into it
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, destination)
            moved += 1
        dirs[:] = [d for d in dirs if (Path(directory, d)).is_dir()]
    shutil.rmtree(keep)
    return moved


def _verified(store: Store, key: str, result: ArchResult) -> Entry | None:
    entry = store.get(key)
    if entry is None:
        return None
    with result.phase("check entry"):
        problems = store.problems(entry)
    if not problems:
        return entry
    with store.lock(key, blocking=False) as mine:
        if mine and store.get(key):
            where = store.quarantine(entry)
            print(
                f"galley: cache entry {key[:12]} is corrupt ({problems[0]}; "
                f"{len(problems)} problem(s)); quarantined to {where}, re-cooking",
                file=sys.stderr,
            )
            result.details["quarantined"] = problems
    return None


def _cook_and_publish(plan: Plan, store: Store, work: WorkDir, result: ArchResult) -> Entry:
    restored.forget(work.root)
    for directory in (work.tree, work.target):
        shutil.rmtree(directory, ignore_errors=True)
    work.src.mkdir(parents=True)
    seed = delta.closest(store, plan.key_manifest, plan.recipe)
    if seed is not None and not store.problems(seed):
        with store.lock(seed.key, shared=True), result.phase("restore seed"):
            store.restore(seed, work.target)
        result.details["seeded_from"] = seed.key
    recipe_path = work.root / "recipe.json"
    recipe_path.write_text(plan.recipe.to_json(), encoding="utf-8")
    env = plan.cargo_env(remap(work))
    options = plan.cook_options(work.target)
    argv = chefcmd.cook_command(
        chefcmd.program(plan.chef, plan.settings.cargo), recipe_path, options
    )
    try:
        with result.phase("cargo cook"):
            patches = {PATCH_SOURCES: str(plan.settings.workspace), SKELETON_ROOT: str(work.tree)}
            shell.run(
                argv,
                cwd=work.src,
                env={**env, "CARGO": plan.settings.cargo, **patches},
                stop_grace=shell.NESTED_STOP_GRACE_SECONDS,  # galley-chef stops its cargo first
            )
    except CommandFailed as exc:
        if "No space left on device" in exc.tail or shutil.disk_usage(work.root).free < 16 << 20:
            raise CacheError(f"cook failed: no space left on device in {store.root}") from None
        raise
    cook_seconds = result.details["phases"]["cargo cook"]
    with result.phase("clean cook"):
        result.details["dropped_unused"] = delta.drop_unused(work.target, plan.recipe)
        dummies = _dummies(work.target)
        dummies.update(cleanup.clean(work.target, plan.recipe))  # also makes cargo-chef cooks safe
    result.details.update(cooked=True, cook_seconds=cook_seconds, command=argv)
    meta = {
        "arch": plan.arch.name,
        "target": plan.triple,
        "backend": "local",
        "chef": plan.chef,
        "cook_seconds": cook_seconds,
        "dummies": dummies,
        "recipe": plan.recipe.digest(),
        "lock_packages": delta.lock_packages(plan.recipe),
    }
    with result.phase("publish entry"):
        return store.publish(plan.key, plan.key_manifest, work.target, meta)


def _dummies(target: Path) -> dict[str, str]:
    data = jsonfile.read_object(target / DUMMIES_FILE) or {}
    return {str(k): str(v) for k, v in data.items()}


def _cargo_build(plan: Plan, work: WorkDir) -> list[str]:
    options = plan.cook_options(work.target)
    argv = [plan.settings.cargo, *cargo_args(options), "--message-format=json-render-diagnostics"]
    messages: list[str] = []
    shell.run(argv, cwd=work.src, env=plan.cargo_env(remap(work)), stdout_lines=messages)
    return messages


@dataclass(frozen=True)
class LocalPlan:
    """The local backend needs nothing beyond the common plan."""

    plan: Plan


class LocalBackend:
    """Cargo on the host; cooks in the cache store; one work dir per arch."""

    name: BackendName = "local"

    def plans(
        self, settings: Settings, recipe: Recipe, arches: Sequence[Arch], work: Work = "build"
    ) -> list[LocalPlan]:
        triples = [settings.triple(arch) for arch in arches]
        toolchain = host_toolchain.get(settings.cargo, settings.workspace, triples)
        return [
            LocalPlan(make_plan(settings, arch, recipe, toolchain, work=work)) for arch in arches
        ]

    def cook(self, planned: LocalPlan, store: Store) -> ArchResult:
        plan = planned.plan
        with work_dir(store, plan.arch.name, plan.layout.nest) as work:
            return cook(plan, store, work)[1]

    def build(self, planned: LocalPlan, store: Store, dist_dir: Path) -> ArchResult:
        plan = planned.plan
        with work_dir(store, plan.arch.name, plan.layout.nest) as work:
            return build(plan, store, work, dist_dir)

    def run(self, planned: LocalPlan, store: Store, extra: Sequence[str]) -> ArchResult:
        plan = planned.plan  # a work dir of its own: the key's entry holds other artifacts
        with work_dir(store, f"{plan.arch.name}-{plan.work}", plan.layout.nest) as work:
            return run(plan, store, work, extra)

    def prune(
        self, settings: Settings, older_than: float | None, keep: int | None, dry_run: bool
    ) -> None:
        """Everything the local backend keeps is in the cache dir, pruned by operations."""

    def discard_rebuild(self, settings: Settings) -> None:
        """A local rebuild leaves nothing outside its temporary cache dir."""

    def verify_work(
        self, settings: Settings, arches: Sequence[Arch], repair: bool, report: Report
    ) -> None:
        verify_work_dirs(settings, arches, repair, report)
