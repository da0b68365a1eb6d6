"""Target discovery by cargo's rules (cargo's src/workspace/parser/targets.rs).

- A library when `[lib]` is given or `src/lib.rs` exists (and `autolib` is not false); its
  path: `[lib] path`, else `src/lib.rs`, else (edition 2015) `src/<name>.rs`.
- Binaries, examples, tests and benches: the ones declared, plus the inferred ones (`src/main.rs`
  and `src/bin/`, `examples/`, `tests/`, `benches/`: `*.rs` and `*/main.rs`, never a name that
  starts with a dot) whose name and path no declared one has. `auto<kind>s = false` turns the
  inferred ones off; so does edition 2015 (no edition) when any of that kind is declared.
- A declared target with no path takes the inferred one of its name, else (edition 2015) the
  legacy place (`src/<name>.rs`, `src/main.rs`, `src/bin/main.rs` for a binary).
- Build scripts: `package.build` (a path, a list, or true for `build.rs`), else `build.rs`.

Paths are POSIX, relative to the package directory, normalised as cargo does; one may lead out
of it (`../../examples/x.rs`). What cargo refuses (a declared target with no name, a path it
cannot find, two targets of a kind with one name) is a WorkspaceError naming the manifest.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, NamedTuple

from galley.chef.recipe import Target, TargetKind, path_parts
from galley.errors import WorkspaceError

LEGACY_EDITION = "2015"


class _Kind(NamedTuple):
    table: str  # in Cargo.toml
    auto_key: str
    directory: str
    kind: TargetKind
    human: str


_KINDS = (
    _Kind("bin", "autobins", "src/bin", TargetKind.BIN, "binary"),
    _Kind("example", "autoexamples", "examples", TargetKind.EXAMPLE, "example"),
    _Kind("test", "autotests", "tests", TargetKind.TEST, "test"),
    _Kind("bench", "autobenches", "benches", TargetKind.BENCH, "benchmark"),
)

Inferred = list[tuple[str, str]]  # (name, path)


def discover(
    manifest: dict[str, Any],
    package_dir: str | os.PathLike[str],
    origin: str,
    inherited_edition: str | None = None,
) -> tuple[Target, ...]:
    """All targets of the `[package]` in `manifest`, whose files live under `package_dir`;
    `inherited_edition`: what `edition.workspace = true` means there."""
    package = manifest.get("package")
    if not isinstance(package, dict):
        return ()
    name = package.get("name")
    if not isinstance(name, str):
        raise WorkspaceError(f"{origin}: package.name is missing")
    edition = _edition(package, inherited_edition, origin)
    files = _FileIndex(package_dir)
    lib = _library(manifest, package, name, edition, files, origin)
    targets = [lib] if lib else []
    for kind in _KINDS:
        targets += _targets_of_kind(
            manifest, package, kind, edition, files, lib is not None, origin
        )
    targets += _build_scripts(package, files, origin)
    return tuple(targets)


def without_harness(manifest: dict[str, Any]) -> set[str]:
    """Names and paths of the tests and benches declared with `harness = false`."""
    found: set[str] = set()
    for key in ("test", "bench"):
        entries = manifest.get(key, [])
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("harness") is False:
                found.update(str(entry[k]) for k in ("name", "path") if k in entry)
    return {clean_path(item) for item in found}


class _FileIndex:
    """What exists relative to a package directory, from one listing per directory."""

    DIR, FILE, LINK = "dir", "file", "link"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._listings: dict[str, dict[str, str]] = {}

    def _listing(self, directory: str) -> dict[str, str]:
        """{name: DIR, FILE or LINK} of a directory (empty when missing), cached; a directory
        its parent's listing does not have as a directory is not looked up."""
        if directory not in self._listings:
            parent, _, name = directory.rpartition("/")
            listing: dict[str, str] = {}
            if not directory or self._listing(parent).get(name) in (self.DIR, self.LINK):
                try:
                    with os.scandir(os.path.join(self.root, directory)) as entries:
                        listing = {e.name: self._kind(e) for e in entries}
                except OSError:
                    pass
            self._listings[directory] = listing
        return self._listings[directory]

    def _kind(self, entry: os.DirEntry[str]) -> str:
        if entry.is_symlink():
            return self.LINK
        return self.DIR if entry.is_dir(follow_symlinks=False) else self.FILE

    def exists(self, relative: str) -> bool:
        """Whether `relative` exists (cargo's `Path::exists`, which follows symlinks)."""
        directory, _, name = relative.rpartition("/")
        if ".." in relative.split("/"):
            return os.path.exists(os.path.join(self.root, relative))
        kind = self._listing(directory).get(name)
        return kind in (self.DIR, self.FILE) or (
            kind == self.LINK and os.path.exists(os.path.join(self.root, relative))
        )

    def is_file(self, relative: str) -> bool:
        return os.path.isfile(os.path.join(self.root, relative))

    def inferred(self, directory: str) -> Inferred:
        """cargo's `infer_from_directory`: (name, path) of each `*.rs` entry that is no
        directory, and of each directory (not a symlink to one) holding a `main.rs`; names
        starting with a dot are left out."""
        found = []
        for name, kind in sorted(self._listing(directory).items()):
            if name.startswith("."):
                continue
            if kind == self.DIR:
                if self.exists(f"{directory}/{name}/main.rs"):
                    found.append((name, f"{directory}/{name}/main.rs"))
            elif name.endswith(".rs"):
                found.append((_stem(name), f"{directory}/{name}"))
        return found


def _edition(package: dict[str, Any], inherited: str | None, origin: str) -> str:
    value = package.get("edition", LEGACY_EDITION)
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("workspace") is True:
        if inherited is None:
            raise WorkspaceError(
                f"{origin}: edition.workspace = true, but its workspace root sets no "
                "[workspace.package] edition"
            )
        return inherited
    raise WorkspaceError(f"{origin}: package.edition must be a string or {{ workspace = true }}")


def _library(
    manifest: dict[str, Any],
    package: dict[str, Any],
    package_name: str,
    edition: str,
    files: _FileIndex,
    origin: str,
) -> Target | None:
    lib = manifest.get("lib")
    if lib is not None and not isinstance(lib, dict):
        raise WorkspaceError(f"{origin}: [lib] must be a table")
    inferred = files.exists("src/lib.rs")
    if lib is None and (package.get("autolib") is False or not inferred):
        return None
    lib = lib or {}
    name = _str_key(lib, "name", origin) or package_name.replace("-", "_")
    path = _str_key(lib, "path", origin)
    if path is None and inferred:
        path = "src/lib.rs"
    elif path is None and edition == LEGACY_EDITION and files.exists(f"src/{name}.rs"):
        path = f"src/{name}.rs"
    elif path is None:
        raise WorkspaceError(f"{origin}: can't find library `{name}` (no src/lib.rs, no lib.path)")
    crate_types = lib.get("crate-type", lib.get("crate_type", []))
    proc_macro = lib.get("proc-macro", lib.get("proc_macro", False)) is True or (
        isinstance(crate_types, list) and "proc-macro" in crate_types
    )
    kind = TargetKind.PROC_MACRO if proc_macro else TargetKind.LIB
    return Target(_target_path(path, origin), kind, name)


def _targets_of_kind(
    manifest: dict[str, Any],
    package: dict[str, Any],
    spec: _Kind,
    edition: str,
    files: _FileIndex,
    has_lib: bool,
    origin: str,
) -> list[Target]:
    """cargo's `toml_targets_and_inferred` and `target_path` for one kind of target."""
    inferred = files.inferred(spec.directory)
    if spec.kind is TargetKind.BIN and files.exists("src/main.rs"):
        inferred.insert(0, (package["name"], "src/main.rs"))
    declared = _table_list(manifest, spec.table, origin)
    auto = package.get(spec.auto_key)
    if declared is None:
        return [] if auto is False else [Target(p, spec.kind, n) for n, p in inferred]
    targets = [
        _declared(entry, inferred, spec, edition, files, has_lib, origin) for entry in declared
    ]
    _check_unique(targets, spec, origin)
    if not isinstance(auto, bool):
        auto = edition != LEGACY_EDITION  # 2015: declaring one of a kind turns inference off
    if auto:
        names, paths = {t.name for t in targets}, {t.path for t in targets}
        targets += [
            Target(p, spec.kind, n) for n, p in inferred if n not in names and p not in paths
        ]
    return targets


def _declared(
    entry: dict[str, Any],
    inferred: Inferred,
    spec: _Kind,
    edition: str,
    files: _FileIndex,
    has_lib: bool,
    origin: str,
) -> Target:
    name = _str_key(entry, "name", origin)
    path = _str_key(entry, "path", origin)
    path = None if path is None else _target_path(path, origin)
    if not name or not name.strip():
        raise WorkspaceError(f"{origin}: a [[{spec.table}]] target has no name ({spec.table}.name)")
    if path is None:
        path = _path_of(name, inferred, spec, edition, files, has_lib, origin)
    return Target(path, spec.kind, name)


def _path_of(
    name: str,
    inferred: Inferred,
    spec: _Kind,
    edition: str,
    files: _FileIndex,
    has_lib: bool,
    origin: str,
) -> str:
    """cargo's `target_path` for a declared target without a path: the one inferred target of
    that name; else, in edition 2015, the legacy place."""
    matching = [path for found, path in inferred if found == name]
    if len(matching) == 1:
        return matching[0]
    legacy = _legacy_path(name, spec.kind, files, has_lib) if edition == LEGACY_EDITION else None
    if legacy:
        return legacy
    where = f"{spec.directory}/{name}.rs or {spec.directory}/{name}/main.rs"
    problem = "two files could be it" if matching else f"nothing at {where}"
    raise WorkspaceError(
        f"{origin}: can't find the {spec.human} `{name}` ({problem}); set its path"
    )


def _legacy_path(name: str, kind: TargetKind, files: _FileIndex, has_lib: bool) -> str | None:
    """cargo's `legacy_bin_path` and `legacy_bench_path` (edition 2015 only)."""
    if kind is TargetKind.BENCH:
        return "src/bench.rs" if name == "bench" and files.exists("src/bench.rs") else None
    if kind is not TargetKind.BIN:
        return None
    candidates = ([] if has_lib else [f"src/{name}.rs"]) + ["src/main.rs", "src/bin/main.rs"]
    return next((path for path in candidates if files.exists(path)), None)


def _check_unique(targets: list[Target], spec: _Kind, origin: str) -> None:
    names = [target.name for target in targets]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise WorkspaceError(f"{origin}: two {spec.human} targets are named `{twice[0]}`")


def _build_scripts(package: dict[str, Any], files: _FileIndex, origin: str) -> list[Target]:
    """cargo's `normalize_build`: each script is a target named `build-script-<file stem>`."""
    build = package.get("build")
    if build is None:
        scripts = ["build.rs"] if files.is_file("build.rs") else []
    elif build is True:
        scripts = ["build.rs"]
    elif isinstance(build, str):
        scripts = [build]
    elif isinstance(build, list) and all(isinstance(item, str) for item in build):
        scripts = build
    elif build is False:
        scripts = []
    else:
        raise WorkspaceError(f"{origin}: package.build must be a path, a list of paths or a bool")
    return [
        Target(_target_path(s, origin), TargetKind.BUILD_SCRIPT, f"build-script-{_stem(s)}")
        for s in scripts
    ]


def _table_list(manifest: dict[str, Any], key: str, origin: str) -> list[dict[str, Any]] | None:
    """The declared `[[key]]` tables; None when there is no such key (not the same as [])."""
    value = manifest.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WorkspaceError(f"{origin}: [[{key}]] must be an array of tables")
    return value


def _str_key(table: dict[str, Any], key: str, origin: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise WorkspaceError(f"{origin}: {key} must be a string")
    return value


def _stem(path: str) -> str:
    """`Path::file_stem`: the file name without its last suffix."""
    parts = path_parts(path)
    name = parts[-1] if parts else ""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def _target_path(path: str, origin: str) -> str:
    """A target's path, normalised as cargo's `paths::normalize_path` does (`./src/x.rs` is
    `src/x.rs`, `src/../x.rs` is `x.rs`; leading `..` stay: the file may lie outside the
    package dir). An absolute path is a WorkspaceError: a recipe cannot carry it."""
    cleaned = clean_path(path)
    if path.replace("\\", "/").startswith("/") or cleaned in ("", ".", ".."):
        raise WorkspaceError(
            f"{origin}: target path {path!r} is empty, absolute or a directory, which a recipe "
            "cannot hold; use a path relative to the package"
        )
    return cleaned


def clean_path(path: str) -> str:
    """A relative POSIX path, lexically normal (Windows separators too)."""
    return posixpath.normpath(path.replace("\\", "/")) if path else ""
