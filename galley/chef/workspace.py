"""Reading a Cargo workspace from its manifests alone (no `cargo metadata`), by cargo's rules.

Members are what cargo's `Workspace::find_members` makes them (cargo's
src/workspace/workspace.rs): every directory the `members` patterns expand to (a pattern that
matches nothing stands for itself), then the root, each followed through the path dependencies
of its package (the `[workspace.dependencies]` it uses included), recursively. A path that
`is_excluded` is no member and is not followed; nor is a path dependency outside the workspace
directory, unless its `package.workspace` names this root.

A recipe needs every package the build reads, not only the members: the path dependencies of
every package read (members or not: an excluded one, or one outside the directory, whose
relative dir then starts with `../`, see galley.layout), and the packages a root
`[patch.<source>]` points at by a relative path, marked as patched: they stand for a
dependency, so they are not version-masked (see galley.chef.masking).
"""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from galley import toml_io
from galley.chef.recipe import path_parts
from galley.errors import WorkspaceError

DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")
#: cargo's deprecated spellings of two of them, still read
_OLD_TABLES = {"dev_dependencies": "dev-dependencies", "build_dependencies": "build-dependencies"}

Table = dict[str, Any]


class Inheritance(NamedTuple):
    """Where a package's `workspace = true` keys come from: its workspace root's dir (relative
    to this workspace's root) and that root's `[workspace]` table."""

    root_dir: str
    table: Table


#: A package with no workspace root: it inherits nothing.
NO_ROOT = Inheritance("", {})


class LocalPackage(NamedTuple):
    """A manifest the recipe carries: the root (maybe virtual), a member or a path package."""

    relative_dir: str  # POSIX, "" for the workspace root, `../x` outside it
    manifest: Table

    @property
    def relative_path(self) -> str:
        return f"{self.relative_dir}/Cargo.toml" if self.relative_dir else "Cargo.toml"

    @property
    def package_name(self) -> str | None:
        package = self.manifest.get("package")
        name = package.get("name") if isinstance(package, dict) else None
        return name if isinstance(name, str) else None


class Workspace(NamedTuple):
    """The root directory and every manifest the build reads (root first, then by path).
    `members`: the dirs of the packages cargo counts as workspace members; `patched`: those of path
    patches; `inherited`: for each package dir, where its `workspace = true` keys come from."""

    root: str
    packages: tuple[LocalPackage, ...]
    members: frozenset[str]
    patched: frozenset[str] = frozenset()
    inherited: Mapping[str, Inheritance] = {}

    @property
    def root_manifest(self) -> Table:
        return self.packages[0].manifest

    def local_names(self) -> set[str]:
        """Package names of the workspace's own crates (path patches are dependencies)."""
        return {
            name
            for package in self.packages
            if (name := package.package_name) and package.relative_dir not in self.patched
        }

    def by_name(self) -> dict[str, LocalPackage]:
        return {name: p for p in self.packages if (name := p.package_name)}

    def edition_of(self, relative_dir: str) -> str | None:
        """The `[workspace.package] edition` the package at `relative_dir` may inherit."""
        return inherited_edition(self.inherited.get(relative_dir, NO_ROOT).table)

    def path_dependency_dirs(self, package: LocalPackage) -> list[str]:
        """The relative dirs of the path dependencies of `package` (see `path_dependency_dirs`)."""
        inheritance = self.inherited.get(package.relative_dir, NO_ROOT)
        return path_dependency_dirs(self.root, package, inheritance)


def load(
    workspace_root: str | os.PathLike[str], parsed: Mapping[str, Table] | None = None
) -> Workspace:
    """Read the workspace whose top Cargo.toml is in the directory `workspace_root`.

    `parsed`: manifests already read, by relative directory ("" for the root), used as they are.
    """
    reader = _Reader(os.fspath(workspace_root), parsed or {})
    root_manifest = reader.manifest("", "the workspace root")
    config = root_config(root_manifest)
    members = _find_members(reader, config)
    patched = frozenset(patched_dirs(root_manifest, strict=True))
    for relative in sorted(patched):
        reader.manifest(relative, f"path patch {relative!r}")
    ours = Inheritance("", config.table)
    inherited = {relative: ours for relative in members}
    pending = sorted(members | patched, key=path_parts)
    while pending:  # every path package the build reads, members or not
        relative = pending.pop()
        if relative not in inherited:
            inherited[relative] = _inheritance(reader, relative)
        for found in reader.path_dependencies(relative, inherited[relative]):
            if found not in inherited and found not in pending:
                reader.manifest(found, f"path dependency {found!r} of {relative or '.'}")
                pending.append(found)
    packages = [LocalPackage(d, reader.parsed[d]) for d in sorted(inherited, key=path_parts) if d]
    return Workspace(
        reader.root,
        (LocalPackage("", root_manifest), *packages),
        frozenset(members),
        patched,
        inherited,
    )


class _Reader:
    """Manifests by relative dir, each read once; a missing one is one WorkspaceError."""

    def __init__(self, root: str, parsed: Mapping[str, Table]) -> None:
        self.root = root
        self.parsed: dict[str, Table] = dict(parsed)

        self._present: dict[str, bool] = {}
        self._dependencies: dict[str, list[str]] = {}

    def has(self, relative: str) -> bool:
        if relative not in self.parsed and relative not in self._present:
            self._present[relative] = _has_manifest(self.root, relative)
        return relative in self.parsed or self._present[relative]

    def path_dependencies(self, relative: str, inheritance: Inheritance) -> list[str]:
        """`path_dependency_dirs` of the package at `relative`, worked out once (a package
        inherits from one root, whichever pass asks)."""
        if relative not in self._dependencies:
            package = LocalPackage(relative, self.manifest(relative, "path dependency"))
            self._dependencies[relative] = path_dependency_dirs(self.root, package, inheritance)
        return self._dependencies[relative]

    def manifest(self, relative: str, what: str) -> Table:
        if relative not in self.parsed:
            if not self.has(relative):
                raise WorkspaceError(f"{what} has no Cargo.toml ({self.root}/{relative})")
            self.parsed[relative] = read_manifest(self.root, relative)
        return self.parsed[relative]


class RootConfig(NamedTuple):
    """A root's `[workspace]`: its table, the member patterns and excluded paths as written
    (and as path components)."""

    table: Table
    members: tuple[str, ...]
    exclude: tuple[str, ...]
    member_parts: tuple[tuple[str, ...], ...]
    exclude_parts: tuple[tuple[str, ...], ...]

    def is_excluded(self, relative_dir: str) -> bool:
        """cargo's `WorkspaceRootConfig::is_excluded`: the manifest path lies under an `exclude`
        entry and under no `members` entry as written (path prefixes, component by component,
        so a member listed by its path beats an exclude of a dir above it, and a path dependency
        under such a member is not excluded either; a glob pattern is no prefix of anything)."""
        if not self.exclude_parts:
            return False
        manifest = (*path_parts(relative_dir), "Cargo.toml")
        excluded = any(manifest[: len(item)] == item for item in self.exclude_parts)
        return excluded and not any(manifest[: len(item)] == item for item in self.member_parts)


def root_config(root_manifest: Table, origin: str = "Cargo.toml") -> RootConfig:
    """The `[workspace]` of a root manifest (an empty one when it has none)."""
    workspace = root_manifest.get("workspace", {})
    if not isinstance(workspace, dict):
        raise WorkspaceError(f"{origin}: [workspace] must be a table")
    members = tuple(_string_list(workspace, "members", origin))
    exclude = tuple(_string_list(workspace, "exclude", origin))
    return RootConfig(
        workspace,
        members,
        exclude,
        tuple(_components(item) for item in members),
        tuple(_components(item) for item in exclude),
    )


def _find_members(reader: _Reader, config: RootConfig) -> set[str]:
    """cargo's `find_members` and `find_path_deps` (see the module docstring). A root with no
    `[workspace]` is a workspace of itself alone: its path dependencies are no members."""
    if "workspace" not in reader.parsed[""]:
        return {""}
    members: set[str] = set()

    def visit(relative: str, is_path_dep: bool, what: str) -> None:
        if relative in members:
            return
        if is_path_dep and is_outside(relative) and find_root(reader, relative) != "":
            return
        if config.is_excluded(relative):
            return
        members.add(relative)
        if "package" not in reader.manifest(relative, what):
            return
        for found in reader.path_dependencies(relative, Inheritance("", config.table)):
            visit(found, True, f"path dependency {found!r} of {relative or '.'}")

    for relative, pattern in expand_members(reader.root, config.members):
        visit(relative, False, f"workspace member {relative!r} (from members = [{pattern!r}])")
    visit("", False, "the workspace root")
    _check_roots(reader, members)
    return members if "package" in reader.parsed[""] else members - {""}  # packages only


def expand_members(root: str, patterns: tuple[str, ...]) -> list[tuple[str, str]]:
    """cargo's `members_paths`: (relative dir, pattern) for every directory a pattern matches
    (`**` matches any depth, and `*` names starting with a dot, as the glob crate cargo uses);
    a pattern that matches nothing stands for itself."""
    found: list[tuple[str, str]] = []
    for pattern in patterns:
        matches = glob.glob(
            os.path.join(glob.escape(root), pattern), recursive=True, include_hidden=True
        )
        if not matches:
            found.append((join(root, "", pattern), pattern))
        found += [(join(root, "", m), pattern) for m in sorted(matches) if os.path.isdir(m)]
    return found


def listed_members(root: str, root_manifest: Table) -> list[str]:
    """The member dirs the `members` patterns give that are not excluded and have a manifest:
    what can be read before the rest of the workspace is known."""
    if "workspace" not in root_manifest:
        return []
    config = root_config(root_manifest)
    listed = {d for d, _ in expand_members(root, config.members) if not config.is_excluded(d)}
    return sorted(d for d in listed if _has_manifest(root, d))


def find_root(reader: _Reader, relative: str) -> str | None:
    """cargo's `find_root` for the package at `relative`: its own dir when it has a
    `[workspace]`; the dir its `package.workspace` names; else the nearest dir above whose
    manifest has a `[workspace]` that does not exclude it (or names a root itself, by
    `package.workspace`). None when there is none."""
    own = _root_of(reader, relative, relative)
    if own is not None:
        return own
    for directory in _ancestors(reader.root, relative):
        if reader.has(directory):
            found = _root_of(reader, directory, relative)
            if found is not None:
                return found
    return None


def _root_of(reader: _Reader, directory: str, look_from: str) -> str | None:
    """cargo's `get_ws_root` of the manifest in `directory` as seen from the package at
    `look_from`."""
    manifest = reader.manifest(directory, "workspace root")
    if "workspace" in manifest:
        origin = f"{directory}/Cargo.toml" if directory else "Cargo.toml"
        config = root_config(manifest, origin)
        inside = posixpath.relpath(look_from or ".", directory or ".")
        return directory if not config.is_excluded("" if inside == "." else inside) else None
    package = manifest.get("package")
    pointer = package.get("workspace") if isinstance(package, dict) else None
    return join(reader.root, directory, pointer) if isinstance(pointer, str) else None


def _check_roots(reader: _Reader, members: set[str]) -> None:
    """cargo's `validate_members`: every member's own root must be this one."""
    for relative in sorted(members - {""}):
        root = find_root(reader, relative)
        if root == "":
            continue
        problem = (
            "not below the workspace root, and its package.workspace does not name it"
            if root is None
            else f"its own workspace root is {root or '.'}"
        )
        raise WorkspaceError(f"{relative}/Cargo.toml: listed as a member, but {problem}")


def _inheritance(reader: _Reader, relative: str) -> Inheritance:
    """Where the `workspace = true` keys of a package that is no member come from."""
    root = find_root(reader, relative)
    if root is None:
        return NO_ROOT
    return Inheritance(root, root_config(reader.manifest(root, "workspace root")).table)


def _ancestors(root: str, relative: str) -> Iterator[str]:
    """The dirs above `relative`, nearest first, as workspace-relative paths, up to the file
    system's root."""
    top = os.path.abspath(root)
    absolute = os.path.normpath(os.path.join(top, relative))
    while absolute != os.path.dirname(absolute):
        absolute = os.path.dirname(absolute)
        found = os.path.relpath(absolute, top)
        yield "" if found == "." else found.replace(os.sep, "/")


def path_dependency_dirs(root: str, package: LocalPackage, inheritance: Inheritance) -> list[str]:
    """The relative dirs of the path dependencies of `package`, in every dependency table
    (`target.'cfg(..)'` ones too); one inherited with `workspace = true` is taken from its
    workspace root's `[workspace.dependencies]`, its path relative to that root. Only what the
    package uses is followed: a stale `[workspace.dependencies]` entry is never read, as cargo
    never reads it. An absolute path is found by cargo where it is: none here."""
    dependencies = inheritance.table.get("dependencies")
    dependencies = dependencies if isinstance(dependencies, dict) else {}
    found = []
    for where, spec in path_dependencies(package.manifest, with_workspace=False):
        base = package.relative_dir
        if spec.get("workspace") is True:
            inherited = dependencies.get(where.rsplit(".", 1)[-1])
            spec = inherited if isinstance(inherited, dict) else {}
            base = inheritance.root_dir
        path = spec.get("path")
        if isinstance(path, str) and not os.path.isabs(path):
            found.append(join(root, base, path))
    return found


def patched_dirs(root_manifest: Table, strict: bool = False) -> list[str]:
    """Relative dirs of the root's `[patch.<source>]` entries with a relative path (`../` ones
    too, placed like path crates outside the workspace, see galley.layout); `strict`: an
    absolute path, or the workspace dir itself, is an error (a recipe cannot carry it)."""
    patches = root_manifest.get("patch")
    found: list[str] = []
    for source, table in patches.items() if isinstance(patches, dict) else ():
        for name, spec in table.items() if isinstance(table, dict) else ():
            path = spec.get("path") if isinstance(spec, dict) else None
            if not isinstance(path, str):
                continue
            joined = posixpath.normpath(path.replace("\\", "/"))
            unusable = os.path.isabs(path) or joined == "."
            if unusable and not strict:
                continue
            if unusable:
                raise WorkspaceError(
                    f"Cargo.toml: [patch.{source}] {name}: path {path!r} is absolute or the "
                    "workspace dir itself, which no recipe can carry"
                )
            found.append(joined)
    return sorted(set(found))


def path_dependencies(manifest: Table, with_workspace: bool = True) -> Iterator[tuple[str, Table]]:
    """(table path, dependency spec) for every dependency table of a manifest, cfg ones too,
    and `[workspace.dependencies]` unless `with_workspace` is false."""
    for table in (*DEPENDENCY_TABLES, *_OLD_TABLES):
        yield from _specs(manifest.get(table), _OLD_TABLES.get(table, table))
    targets = manifest.get("target")
    if isinstance(targets, dict):
        for cfg, section in targets.items():
            if isinstance(section, dict):
                for table in (*DEPENDENCY_TABLES, *_OLD_TABLES):
                    where = f"target.{cfg}.{_OLD_TABLES.get(table, table)}"
                    yield from _specs(section.get(table), where)
    workspace = manifest.get("workspace")
    if with_workspace and isinstance(workspace, dict):
        yield from _specs(workspace.get("dependencies"), "workspace.dependencies")


def _specs(table: Any, where: str) -> Iterator[tuple[str, Table]]:
    if isinstance(table, dict):
        for key, spec in table.items():
            if isinstance(spec, dict):
                yield f"{where}.{key}", spec


def inherited_edition(workspace_table: Table) -> str | None:
    """`[workspace.package] edition` of a root's `[workspace]` table, if it is a string."""
    shared = workspace_table.get("package")
    edition = shared.get("edition") if isinstance(shared, dict) else None
    return edition if isinstance(edition, str) else None


def read_root_manifest(root: str) -> Table:
    """The top Cargo.toml of the workspace at `root`."""
    if not os.path.isfile(os.path.join(root, "Cargo.toml")):
        raise WorkspaceError(f"{root}: no Cargo.toml (is this a Rust workspace?)")
    return read_manifest(root, "")


def read_manifest(root: str, relative_dir: str) -> Table:
    """The Cargo.toml in `relative_dir` of the workspace at `root`."""
    origin = f"{relative_dir}/Cargo.toml" if relative_dir else "Cargo.toml"
    return toml_io.load(os.path.join(root, origin), origin)


def _string_list(table: Table, key: str, origin: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WorkspaceError(f"{origin}: workspace.{key} must be a list of strings")
    return value


def _has_manifest(root: str, relative: str) -> bool:
    return os.path.isfile(os.path.join(root, relative, "Cargo.toml"))


def _components(path: str) -> tuple[str, ...]:
    """A path as Rust's `Path::components` sees it: `.` and empty parts dropped, `..` kept."""
    return path_parts(path.replace("\\", "/"))


def join(root: str, base: str, path: str) -> str:
    """The workspace-relative dir of `path`, written relative to the dir `base` of the workspace
    at `root`, normalised lexically on the absolute path as cargo does (`../ws/crates/a` from
    the root of `ws` is `crates/a`)."""
    path = path.replace("\\", "/")
    if not path.startswith("/"):
        joined = posixpath.normpath(posixpath.join(base, path))
        if not (joined == ".." or joined.startswith("../")):  # the same without climbing out
            return "" if joined == "." else joined
    top = os.path.abspath(root)
    where = os.path.normpath(os.path.join(top, base, path.replace("\\", "/")))
    joined = os.path.relpath(where, top)
    return "" if joined == "." else joined.replace(os.sep, "/")


def is_outside(relative: str) -> bool:
    """Whether a workspace-relative path leaves the workspace dir (a `../` path crate)."""
    return relative == ".." or relative.startswith("../")


def dependency_dir(root: str, base: str, path: str) -> str | None:
    """The workspace-relative dir of the path dependency `path` of the package at `base`, as
    cargo normalises it (lexically: `../ws/crates/a` from `../util` is `crates/a`); None for
    an absolute path."""
    if os.path.isabs(path):
        return None
    return join(root, base, path)
