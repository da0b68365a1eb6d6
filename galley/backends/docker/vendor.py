"""The vendor cache of the docker backend: `cargo vendor` of a lockfile, made once per lockfile
and shared by every cook of it (any arch, profile or process), under `<cache>/vendor/`.

<cache>/vendor/<lock digest>/         vendor/, sources.toml (the replacements cargo printed),
                                      .complete (its mtime: the last use, for cache-prune)
<cache>/vendor/<lock digest>.lock     flock: held while vendoring, copying out or removing
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import filelock, shell, toml_io, toolchain_file
from galley.backends.docker.scripts import SOURCE_NAME, VENDOR
from galley.chef.cooker import outside_sources
from galley.chef.recipe import Recipe
from galley.plan import Plan

COMPLETE = ".complete"
VENDOR_MTIME = 946684800  # 2000-01-01: one fixed time for every vendored file


@dataclass(frozen=True)
class VendorDir:
    """One lockfile's vendored sources in the cache."""

    path: Path
    size: int
    last_used: float

    @property
    def name(self) -> str:
        return self.path.name


@contextlib.contextmanager
def vendored(plan: Plan) -> Iterator[Path]:
    """The vendor dir of the workspace's lockfile, made if missing, held (locked) until the
    block ends: concurrent cooks vendor a lockfile once, and cache-prune leaves it alone."""
    lock = (plan.settings.workspace / "Cargo.lock").read_bytes()
    directory = plan.settings.cache_dir / "vendor" / hashlib.sha256(lock).hexdigest()[:16]
    with filelock.exclusive(_lock_path(directory)):
        if not (directory / COMPLETE).exists() or not (directory / "sources.toml").exists():
            _vendor(plan, directory)
        os.utime(directory / COMPLETE)  # the last use
        yield directory


def cargo_sources(directory: Path) -> dict[str, Any]:
    """The `[source]` tables of the cook's cargo config: every source cargo vendor replaced
    (crates.io, git repositories) served from the vendor dir at VENDOR in the image, as the
    source SOURCE_NAME (see scripts.cargo_command)."""
    path = directory / "sources.toml"
    printed = toml_io.loads(path.read_text(encoding="utf-8"), f"cargo vendor's output ({path})")
    sources = {
        name: {**table, "replace-with": SOURCE_NAME}
        for name, table in printed.get("source", {}).items()
        if isinstance(table, dict) and "replace-with" in table
    }
    sources.setdefault("crates-io", {"replace-with": SOURCE_NAME})
    sources[SOURCE_NAME] = {"directory": VENDOR}
    return sources


def served_recipe(recipe: Recipe) -> Recipe:
    """The recipe with the cargo config's sources outside the workspace (not in the image)
    replaced by SOURCE_NAME, for `cargo chef cook`, which writes the recipe's config as it is
    and passes no `--config` to cargo. The build's cargo command overrides them on its own."""
    outside = outside_sources(recipe)
    if not outside:
        return recipe
    config = toml_io.loads(recipe.config_file or "", "the workspace's cargo config")
    for name in outside:
        config["source"][name]["replace-with"] = SOURCE_NAME  # as the build's `--config`
    return recipe._replace(config_file=toml_io.dumps(config))


def listing(cache_dir: Path) -> list[VendorDir]:
    """Every vendor dir in the cache, most recently used first (half-made ones too: they count
    as used when they were last touched)."""
    root = cache_dir / "vendor"
    if not root.is_dir():
        return []
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if path.name.startswith("."):  # being removed, or left by a prune that died
            filelock.remove_if_owner_died(path, path.name.rsplit(".", 1)[-1])
            continue
        marker = path / COMPLETE
        used = (marker if marker.exists() else path).stat().st_mtime
        found.append(VendorDir(path, _size(path), used))
    return sorted(found, key=lambda d: d.last_used, reverse=True)


def remove(vendor_dir: VendorDir) -> bool:
    """Remove the vendor dir unless a cook holds it; whether it was removed."""
    path = vendor_dir.path
    with filelock.lock(_lock_path(path), blocking=False, remove=True) as free:
        if not free:
            return False
        graveyard = path.with_name(f".{path.name}.removing.{os.getpid()}")
        os.rename(path, graveyard)  # atomic: the dir vanishes at once
        shutil.rmtree(graveyard, ignore_errors=True)
        return True


def _lock_path(directory: Path) -> Path:
    """`<lock digest>.lock` beside the vendor dir (removed with it)."""
    return directory.with_name(directory.name + ".lock")


def orphan_locks(cache_dir: Path) -> list[Path]:
    """Lock files of vendor dirs that are gone."""
    root = cache_dir / "vendor"
    found = sorted(root.glob("*.lock")) if root.is_dir() else []
    return [path for path in found if not path.with_suffix("").is_dir()]


def _vendor(plan: Plan, directory: Path) -> None:
    """`cargo vendor` of the workspace's lockfile into `directory` (the caller holds its lock)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    printed: list[str] = []
    shell.run(
        [plan.settings.cargo, "vendor", "--respect-source-config", "--locked",
         "--versioned-dirs", str(directory / "vendor")],
        cwd=plan.settings.workspace, env=_vendoring_env(plan.recipe), stdout_lines=printed,
    )  # fmt: skip
    (directory / "vendor").mkdir(exist_ok=True)  # cargo makes none with no dependencies
    _fix_mtimes(directory / "vendor")
    (directory / "sources.toml").write_text("".join(printed), encoding="utf-8")
    (directory / COMPLETE).touch()


def _vendoring_env(recipe: Recipe) -> dict[str, str | None]:
    """Vendoring is the same with any cargo, and rustup on the host need not have the release
    the workspace's toolchain file pins for the builder: the host's default toolchain runs it
    (unless RUSTUP_TOOLCHAIN says otherwise)."""
    if not recipe.rust_toolchain_file or "RUSTUP_TOOLCHAIN" in os.environ:
        return {}
    default = toolchain_file.host_default()
    return {"RUSTUP_TOOLCHAIN": default} if default else {}


def _fix_mtimes(vendor: Path) -> None:
    """Give vendored sources one old, fixed mtime: a later vendoring of a different lockfile
    then does not look newer than the build outputs of crates it shares (delta cooks)."""
    for directory, _, files in os.walk(vendor):
        for name in files:
            os.utime(os.path.join(directory, name), (VENDOR_MTIME, VENDOR_MTIME))


def _size(path: Path) -> int:
    """Bytes in the files under `path` (hard-linked copies in cook contexts are not counted)."""
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
