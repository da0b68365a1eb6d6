"""Target discovery, following cargo's rules (explicit tables, then auto-discovery).

Explicit `[lib]`/`[[bin]]`/`[[example]]`/`[[test]]`/`[[bench]]` entries come first; inferred
targets are added when the matching `auto*` key is not false and no explicit target has the same
name or path. Paths are POSIX and relative to the package directory.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from typing import Any

from galley.chef.recipe import Target, TargetKind, path_parts
from galley.errors import WorkspaceError

# table name in Cargo.toml, auto-discovery key, directory, kind
_COLLECTIONS = (
    ("bin", "autobins", "src/bin", TargetKind.BIN),
    ("example", "autoexamples", "examples", TargetKind.EXAMPLE),
    ("test", "autotests", "tests", TargetKind.TEST),
    ("bench", "autobenches", "benches", TargetKind.BENCH),
)


def discover(
    manifest: dict[str, Any], package_dir: str | os.PathLike[str], origin: str
) -> tuple[Target, ...]:
    """All targets of the `[package]` in `manifest`, whose files live under `package_dir`."""
    package = manifest.get("package")
    if not isinstance(package, dict):
        return ()
    name = package.get("name")
    if not isinstance(name, str):
        raise WorkspaceError(f"{origin}: package.name is missing")
    files = _FileIndex(package_dir)
    targets: list[Target] = []
    lib = _library(manifest, package, name, files, origin)
    if lib:
        targets.append(lib)
    for table, auto_key, directory, kind in _COLLECTIONS:
        explicit = _table_list(manifest, table, origin)
        inferred = _inferred(directory, kind, files, name)
        auto = package.get(auto_key, True) is not False
        found = _merge(explicit, inferred, auto, directory, kind, name, files, origin)
        targets.extend(found)
    build = _build_script(package, files, origin)
    if build:
        targets.append(Target(build, TargetKind.BUILD_SCRIPT, "build-script-build"))
    return tuple(targets)


def without_harness(manifest: dict[str, Any]) -> set[str]:
    """Names and paths of the tests and benches declared with `harness = false`."""
    found: set[str] = set()
    for key in ("test", "bench"):
        entries = manifest.get(key, [])
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("harness") is False:
                found.update(str(entry[k]) for k in ("name", "path") if k in entry)
    return {_clean(item) for item in found}


class _FileIndex:
    """Existence checks relative to a package directory, from one listing per directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._listings: dict[str, dict[str, bool]] = {}

    def _listing(self, directory: str) -> dict[str, bool]:
        """{name: is_dir} of a directory (empty when missing), cached; a directory missing from
        its parent's listing is not looked up (most packages have few of the standard dirs)."""
        if directory not in self._listings:
            parent, _, name = directory.rpartition("/")
            if directory and self._listing(parent).get(name) is not True:
                self._listings[directory] = {}
                return self._listings[directory]
            try:
                with os.scandir(os.path.join(self.root, directory)) as entries:
                    self._listings[directory] = {e.name: e.is_dir() for e in entries}
            except OSError:
                self._listings[directory] = {}
        return self._listings[directory]

    def is_file(self, relative: str) -> bool:
        directory, _, name = relative.rpartition("/")
        if ".." in relative.split("/") or "/" in directory:
            return os.path.isfile(os.path.join(self.root, relative))
        return self._listing(directory).get(name) is False

    def rust_files(self, directory: str) -> list[str]:
        listing = self._listing(directory)
        return sorted(f"{directory}/{n}" for n, d in listing.items() if not d and n.endswith(".rs"))

    def main_dirs(self, directory: str) -> list[str]:
        listing = self._listing(directory)
        return sorted(
            f"{directory}/{name}/main.rs"
            for name, is_dir in listing.items()
            if is_dir and os.path.isfile(os.path.join(self.root, directory, name, "main.rs"))
        )


def _library(
    manifest: dict[str, Any], package: dict[str, Any], name: str, files: _FileIndex, origin: str
) -> Target | None:
    lib = manifest.get("lib")
    if lib is not None and not isinstance(lib, dict):
        raise WorkspaceError(f"{origin}: [lib] must be a table")
    if lib is None and (package.get("autolib", True) is False or not files.is_file("src/lib.rs")):
        return None
    lib = lib or {}
    path = _str_key(lib, "path", origin) or "src/lib.rs"
    lib_name = _str_key(lib, "name", origin) or name.replace("-", "_")
    proc_macro = lib.get("proc-macro", lib.get("proc_macro", False)) is True
    kind = TargetKind.PROC_MACRO if proc_macro else TargetKind.LIB
    return Target(_target_path(path, origin), kind, lib_name)


def _inferred(directory: str, kind: TargetKind, files: _FileIndex, package: str) -> list[Target]:
    found: list[Target] = []
    if kind is TargetKind.BIN and files.is_file("src/main.rs"):
        found.append(Target("src/main.rs", kind, package))
    for path in files.rust_files(directory):
        found.append(Target(path, kind, _stem(path)))
    for path in files.main_dirs(directory):
        found.append(Target(path, kind, posixpath.basename(posixpath.dirname(path))))
    return found


def _merge(
    explicit: list[dict[str, Any]],
    inferred: list[Target],
    auto: bool,
    directory: str,
    kind: TargetKind,
    package: str,
    files: _FileIndex,
    origin: str,
) -> list[Target]:
    targets = [
        _explicit_target(entry, inferred, directory, kind, package, files, origin)
        for entry in explicit
    ]
    if auto:
        names = {target.name for target in targets}
        paths = {target.path for target in targets}
        targets += [t for t in inferred if t.name not in names and t.path not in paths]
    return targets


def _explicit_target(
    entry: dict[str, Any],
    inferred: list[Target],
    directory: str,
    kind: TargetKind,
    package: str,
    files: _FileIndex,
    origin: str,
) -> Target:
    name = _str_key(entry, "name", origin)
    path = _str_key(entry, "path", origin)
    if name is None:
        if kind is TargetKind.BIN and path is None:
            name = package
        elif path is not None:
            name = _stem(path)
        else:
            raise WorkspaceError(f"{origin}: a [[{kind.value.lower()}]] target has no name")
    if path is None:
        path = _default_path(name, inferred, directory, kind, package, files)
    return Target(_target_path(path, origin), kind, name)


def _default_path(
    name: str,
    inferred: list[Target],
    directory: str,
    kind: TargetKind,
    package: str,
    files: _FileIndex,
) -> str:
    for target in inferred:
        if target.name == name:
            return target.path
    candidates = [f"{directory}/{name}.rs", f"{directory}/{name}/main.rs"]
    if kind is TargetKind.BIN and name == package:
        candidates.insert(0, "src/main.rs")
    return next((path for path in candidates if files.is_file(path)), candidates[0])


def _build_script(package: dict[str, Any], files: _FileIndex, origin: str) -> str | None:
    build = package.get("build")
    if build is False:
        return None
    if isinstance(build, str):
        return _target_path(build, origin)
    if isinstance(build, list) and build and all(isinstance(item, str) for item in build):
        return _target_path(build[0], origin)
    return "build.rs" if files.is_file("build.rs") else None


def _table_list(manifest: dict[str, Any], key: str, origin: str) -> list[dict[str, Any]]:
    value = manifest.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WorkspaceError(f"{origin}: [[{key}]] must be an array of tables")
    return value


def _str_key(table: dict[str, Any], key: str, origin: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise WorkspaceError(f"{origin}: {key} must be a string")
    return value


def _stem(path: str) -> str:
    """`PurePath.stem`: the file name without its last suffix."""
    parts = path_parts(path)
    name = parts[-1] if parts else ""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _target_path(path: str, origin: str) -> str:
    """A target's path, cleaned; a WorkspaceError when it is absolute or leaves the package
    dir (valid for cargo, but a recipe holds targets only inside their package)."""
    cleaned = _clean(path)
    if path.replace("\\", "/").startswith("/") or ".." in cleaned.split("/") or not cleaned:
        raise WorkspaceError(
            f"{origin}: target path {path!r} is empty, absolute or leaves the package dir, which a "
            "recipe cannot hold; move the file into the package"
        )
    return cleaned


def _clean(path: str) -> str:
    """Normalise `./src/x.rs` and Windows separators to a plain relative POSIX path."""
    parts: Iterable[str] = path.replace("\\", "/").split("/")
    return "/".join(part for part in parts if part not in ("", "."))
