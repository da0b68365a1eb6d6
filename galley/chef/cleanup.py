"""After a cook: remove every compiled trace of the workspace's own crates.

cargo-chef deletes only library files and build-script binaries and relies on source mtimes for
the rest; a checkout copied with *older* mtimes then keeps the dummy binary (cargo-chef #212).
We delete, in every profile directory of the target dir (host and per-triple), the fingerprints,
build-script dirs, deps files, uplifted outputs and incremental dirs of each local package and
target. Without a fingerprint cargo must rebuild, whatever the mtimes. Digests of the dummy
executables are returned first, so `verify` can prove none of them shipped.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

from galley.chef import workspace
from galley.chef.recipe import Recipe, TargetKind
from galley.hashing import sha256_file

HASH = r"-[0-9a-f]{16}"


def local_names(recipe: Recipe, with_patched: bool = False) -> tuple[set[str], set[str]]:
    """(package names, target names) of the recipe's local packages. Path patches count only
    `with_patched`: when the cook stubbed them (galley cooks them from their real sources)."""
    packages: set[str] = set()
    targets: set[str] = set()
    patched = set() if with_patched else patched_dirs(recipe)
    for manifest in recipe.manifests:
        if manifest.directory.as_posix() in patched:
            continue
        try:
            package = tomllib.loads(manifest.contents).get("package")
        except tomllib.TOMLDecodeError:
            continue
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            packages.add(package["name"])
        targets.update(t.name for t in manifest.targets if t.kind is not TargetKind.BUILD_SCRIPT)
    return packages, targets


def patched_dirs(recipe: Recipe) -> set[str]:
    """Relative dirs of the recipe's path patches (from its root manifest's `[patch]`)."""
    root = next((m for m in recipe.manifests if m.relative_path == "Cargo.toml"), None)
    try:
        manifest = tomllib.loads(root.contents) if root else {}
    except tomllib.TOMLDecodeError:
        return set()
    return set(workspace.patched_dirs(manifest))


def profile_dirs(target_dir: Path) -> Iterator[Path]:
    """Directories holding a `.fingerprint` (target/<profile>, target/<triple>/<profile>)."""
    if not target_dir.is_dir():
        return
    for first in sorted(target_dir.iterdir()):
        if (first / ".fingerprint").is_dir():
            yield first
        elif first.is_dir() and not first.is_symlink():
            for second in sorted(first.iterdir()):
                if (second / ".fingerprint").is_dir():
                    yield second


def clean(target_dir: Path, recipe: Recipe, with_patched: bool = False) -> dict[str, str]:
    """Delete local crates' artifacts; return {path relative to target_dir: sha256} of dummies.
    `with_patched`: path patches were stubbed, so their artifacts go too."""
    dummies: dict[str, str] = {}
    for path in local_artifacts(target_dir, recipe, with_patched):
        if path.is_file() and not path.is_symlink() and _is_executable(path):
            dummies[path.relative_to(target_dir).as_posix()] = sha256_file(path)
        _remove(path)
    return dummies


def local_artifacts(target_dir: Path, recipe: Recipe, with_patched: bool = False) -> list[Path]:
    """Every compiled trace of the recipe's local packages in `target_dir` (files and dirs)."""
    packages, targets = local_names(recipe, with_patched)
    crates = {name.replace("-", "_") for name in targets | packages}
    found: list[Path] = []
    for profile in profile_dirs(target_dir):
        found.extend(sorted(_local_artifacts(profile, packages, targets, crates)))
    return found


def _local_artifacts(
    profile: Path, packages: set[str], targets: set[str], crates: set[str]
) -> Iterator[Path]:
    hashed_packages = _pattern(packages, HASH)
    yield from _matching(profile / ".fingerprint", hashed_packages)
    yield from _matching(profile / "build", hashed_packages)
    artifact = _pattern(crates | targets, rf"({HASH})?(\..+)?", prefix="(lib)?")
    yield from _matching(profile / "deps", artifact)
    yield from _matching(profile / "examples", artifact)
    yield from _matching(profile / "incremental", _pattern(crates, rf"{HASH}|-\w+"))
    yield from _matching(profile, artifact)


def _pattern(names: set[str], suffix: str, prefix: str = "") -> re.Pattern[str]:
    alternatives = "|".join(sorted(re.escape(name) for name in names)) or "(?!)"
    return re.compile(rf"^{prefix}({alternatives})({suffix})$")


def _matching(directory: Path, pattern: re.Pattern[str]) -> Iterator[Path]:
    if directory.is_dir():
        for entry in directory.iterdir():
            if pattern.match(entry.name) and entry.name not in (".fingerprint", "build", "deps"):
                yield entry


def _is_executable(path: Path) -> bool:
    return path.stat().st_mode & 0o111 != 0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def shell_script(recipe: Recipe, target_dir: str) -> str:
    """The same cleanup as `clean`, as a POSIX sh script for builder images without Python.

    Digests of the removed executables go to `<target_dir>/.galley-dummies.txt`."""
    packages, targets = local_names(recipe)
    crates = {name.replace("-", "_") for name in targets | packages}
    hashed = "|".join(sorted(packages)) or "-galley-none-"
    artifact = "|".join(sorted(crates | targets)) or "-galley-none-"
    hexes = "[0-9a-f]{16}"
    return f"""# galley: remove every compiled trace of the workspace's own crates (see cleanup.py)
dummies={target_dir}/.galley-dummies.txt
: > "$dummies"
for fp in $(find {target_dir} -mindepth 2 -maxdepth 3 -type d -name .fingerprint); do
    profile=$(dirname "$fp")
    for dir in "$profile/.fingerprint" "$profile/build"; do
        if [ -d "$dir" ]; then find "$dir" -mindepth 1 -maxdepth 1 -regextype posix-extended \\
            -regex ".*/({hashed})-{hexes}" -exec rm -rf {{}} +; fi
    done
    for dir in "$profile" "$profile/deps" "$profile/examples"; do
        [ -d "$dir" ] || continue
        find "$dir" -mindepth 1 -maxdepth 1 -type f -perm -u+x -regextype posix-extended \\
            -regex ".*/(lib)?({artifact})(-{hexes})?(\\..+)?" -exec sha256sum {{}} + >> "$dummies"
        find "$dir" -mindepth 1 -maxdepth 1 -regextype posix-extended \\
            -regex ".*/(lib)?({artifact})(-{hexes})?(\\..+)?" -exec rm -rf {{}} +
    done
    if [ -d "$profile/incremental" ]; then find "$profile/incremental" -mindepth 1 -maxdepth 1 \\
        -regextype posix-extended -regex ".*/({artifact})-.*" -exec rm -rf {{}} +; fi
done
true
"""
