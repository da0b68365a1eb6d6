"""Delta cooking: a new cook starts from the closest entry of the same arch, toolchain, target,
profile and flags (most shared lockfile packages), so cargo compiles only what changed; then the
artifacts of packages the new lockfile no longer has are dropped, so entries do not grow."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from galley import cachekey
from galley.chef import cleanup
from galley.chef.recipe import Recipe
from galley.store import Entry, Store

_HASHED = re.compile(r"^(?P<name>.+?)-[0-9a-f]{16}(?:\..*)?$")


def lock_packages(recipe: Recipe) -> list[str]:
    """`name version` of every external (sourced) lockfile package."""
    if not recipe.lock_file:
        return []
    try:
        packages = tomllib.loads(recipe.lock_file).get("package", [])
    except tomllib.TOMLDecodeError:
        return []
    return sorted(
        f"{p.get('name')} {p.get('version')}"
        for p in packages
        if isinstance(p, dict) and "source" in p
    )


def closest(store: Store, key_manifest: dict[str, Any], recipe: Recipe) -> Entry | None:
    """The entry sharing every key input but the recipe, with most lockfile packages in common."""
    wanted = cachekey.seed_inputs(key_manifest)
    mine = set(lock_packages(recipe))
    best, best_score = None, 0
    newest_first = sorted(store.entries(), key=lambda e: -e.created)
    for entry in newest_first:  # ties go to the newest entry
        theirs = entry.meta.get("key_manifest")
        if not isinstance(theirs, dict) or cachekey.seed_inputs(theirs) != wanted:
            continue
        score = len(mine & _entry_packages(entry))
        if score > best_score:
            best, best_score = entry, score
    return best


def _entry_packages(entry: Entry) -> set[str]:
    """The entry's recorded lockfile packages (none when the record is damaged: the entry is
    unverified here)."""
    packages = entry.meta.get("lock_packages")
    return {p for p in packages if isinstance(p, str)} if isinstance(packages, list) else set()


def keep_names(recipe: Recipe) -> set[str]:
    """Package and crate names whose artifacts a target dir for `recipe` still needs (local
    crates and path patches, which the lockfile lists without a source, included)."""
    local, _ = cleanup.local_names(recipe, with_patched=True)
    names = {line.split(" ")[0] for line in lock_packages(recipe)} | local
    return names | {name.replace("-", "_") for name in names} | {"build_script_build"}


def drop_unused(target_dir: Path, recipe: Recipe) -> int:
    """Remove artifacts of packages that are neither local nor in the lockfile; returns count."""
    keep = keep_names(recipe)
    removed = 0
    for profile in cleanup.profile_dirs(target_dir):
        for directory in (profile / ".fingerprint", profile / "build", profile / "deps"):
            for path in directory.iterdir() if directory.is_dir() else []:
                match = _HASHED.match(path.name)
                name = match.group("name") if match else ""
                if match and name not in keep and name.removeprefix("lib") not in keep:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed += 1
    return removed
