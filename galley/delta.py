"""Delta cooking: a new cook starts from the closest entry of the same arch, toolchain, target,
profile and flags (most shared lockfile packages), so cargo compiles only what changed; then the
artifacts of packages the new lockfile no longer has are dropped, so entries do not grow. The
drop is galley/drop.sh, which the docker backend runs in builder images too."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from galley import cachekey, shell
from galley.chef import cleanup
from galley.chef.recipe import Recipe
from galley.store import Entry, Store

DROP_SCRIPT = Path(__file__).with_name("drop.sh")


def lock_packages(recipe: Recipe) -> list[str]:
    """`name version` of every external (sourced) lockfile package."""
    return sorted(
        f"{p.get('name')} {p.get('version')}" for p in _lock_entries(recipe) if "source" in p
    )


def _lock_entries(recipe: Recipe) -> list[dict[str, Any]]:
    """The lockfile's `[[package]]` tables (none when it is missing or unreadable)."""
    if not recipe.lock_file:
        return []
    try:
        packages = tomllib.loads(recipe.lock_file).get("package", [])
    except tomllib.TOMLDecodeError:
        return []
    return [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []


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
    """Names of the packages whose artifacts a target dir for `recipe` still needs: the
    lockfile's, and the local packages and path patches (for a recipe without a lockfile)."""
    local, _ = cleanup.local_names(recipe, with_patched=True)
    names = {p["name"] for p in _lock_entries(recipe) if isinstance(p.get("name"), str)}
    return names | local


def drop_script() -> str:
    """The text of galley/drop.sh."""
    return DROP_SCRIPT.read_text(encoding="utf-8")


def drop_unused(target_dir: Path, recipe: Recipe) -> int:
    """Remove the artifacts of packages that are neither local nor in the lockfile, and those
    no fingerprint owns (galley/drop.sh, on the host); returns how many files and dirs."""
    names = sorted(keep_names(recipe))
    removed = shell.capture(["sh", DROP_SCRIPT, target_dir, *names])
    return len(removed.splitlines())
