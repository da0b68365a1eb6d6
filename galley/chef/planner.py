"""`prepare`: workspace → Recipe, in pure Python (no cargo call).

Two phases, each split over two CPUs when the workspace is large (`forking.run_split`): reading
(parse every member manifest and discover its targets; parse Cargo.lock), then, once the local
package names are known, writing (mask and serialise every manifest and the lockfile).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from galley import toml_io
from galley.chef import lockfile
from galley.chef import workspace as workspace_reader
from galley.chef.forking import run_split
from galley.chef.masking import mask_lockfile, mask_manifest
from galley.chef.recipe import Manifest, Recipe, Target, TargetKind
from galley.chef.targets import discover
from galley.chef.workspace import LocalPackage, Workspace, root_config
from galley.errors import WorkspaceError

Table = dict[str, Any]
PlainTarget = tuple[str, str, str]  # path, kind, name: what `marshal` can carry
Jobs = Callable[[Sequence[Callable[[], Any]], Sequence[float]], list[Any]]

#: Target discovery of a member costs about as much as parsing this many bytes of TOML.
DISCOVERY_COST = 400
#: Reading and masking a Cargo.lock as text (`lockfile`) costs about as much as parsing this
#: share of its bytes as TOML.
LOCK_TEXT_COST = 0.05


def prepare(
    workspace_root: str | os.PathLike[str],
    bin_names: Sequence[str] = (),
    parallel: bool = True,
) -> Recipe:
    """The recipe of the workspace at `workspace_root`; with `bin_names`, of those binaries'
    (or packages') closure only. `parallel=False` runs everything in this process (same
    result)."""
    root = os.fspath(workspace_root)
    run_jobs: Jobs = run_split if parallel else _run_serially
    root_manifest = workspace_reader.read_root_manifest(root)
    listed = [d for d in workspace_reader.listed_members(root, root_manifest) if d]
    edition = workspace_reader.inherited_edition(root_config(root_manifest).table)
    sizes = _toml_sizes(root, listed)
    jobs: list[Callable[[], Any]] = [partial(_read_lockfile, root)]
    jobs += [partial(_read_member, root, d, edition) for d in listed]
    lock_cost = sizes["Cargo.lock"] * LOCK_TEXT_COST
    costs = [lock_cost] + [sizes[d] + DISCOVERY_COST for d in listed]
    lock, *members_read = run_jobs(jobs, costs)
    read = dict(zip(listed, members_read, strict=True))
    parsed = {"": root_manifest} | {d: manifest for d, (manifest, _) in read.items()}
    targets = {d: _targets(plain) for d, (_, plain) in read.items()}
    workspace = workspace_reader.load(root, parsed)
    local_names = workspace.local_names()
    if bin_names:
        from galley.chef.select import select_binaries, trim_lockfile  # only for --bin

        workspace = select_binaries(workspace, bin_names)
        if lock is not None:
            lock = trim_lockfile(_parsed_lockfile(lock), workspace.local_names())
    packages = workspace.packages
    manifests = [
        Manifest(package.relative_path, "", _package_targets(workspace, package, targets))
        for package in packages
    ]  # targets first: the writes below mask the manifests in place
    writes: list[Callable[[], str | None]] = [partial(_masked_lockfile, lock, local_names)]
    writes += [
        partial(_masked_manifest, p.manifest, local_names, p.relative_dir in workspace.patched)
        for p in packages
    ]
    lock_text, *texts = run_jobs(
        writes, [lock_cost] + [sizes.get(p.relative_dir, 0) for p in packages]
    )
    manifests = [m._replace(contents=text) for m, text in zip(manifests, texts, strict=True)]
    return Recipe(
        manifests=tuple(manifests),
        config_file=_config_file(root),
        lock_file=lock_text,
        rust_toolchain_file=_toolchain_file(root),
    )


def _run_serially(jobs: Sequence[Callable[[], Any]], costs: Sequence[float]) -> list[Any]:
    return [job() for job in jobs]


def _toml_sizes(root: str, listed: list[str]) -> dict[str, float]:
    """Bytes of Cargo.lock and of each listed member's Cargo.toml: the cost estimates."""
    paths = {"Cargo.lock": os.path.join(root, "Cargo.lock")}
    paths |= {d: os.path.join(root, d, "Cargo.toml") for d in listed}
    sizes: dict[str, float] = {}
    for key, path in paths.items():
        try:
            sizes[key] = os.stat(path).st_size
        except OSError:
            sizes[key] = 0
    return sizes


def _read_member(
    root: str, relative_dir: str, edition: str | None
) -> tuple[Table, list[PlainTarget]]:
    """A member's manifest and targets: the part of `prepare` that needs no other member
    (`edition`: the one `edition.workspace = true` inherits from the root)."""
    manifest = workspace_reader.read_manifest(root, relative_dir)
    origin = f"{relative_dir}/Cargo.toml"
    targets = discover(manifest, os.path.join(root, relative_dir), origin, edition)
    return manifest, [(t.path, t.kind.value, t.name) for t in targets]


def _targets(plain: list[PlainTarget]) -> tuple[Target, ...]:
    return tuple(Target(path, TargetKind(kind), name) for path, kind, name in plain)


def _package_targets(
    workspace: Workspace, package: LocalPackage, found: dict[str, tuple[Target, ...]]
) -> tuple[Target, ...]:
    """Targets read in the first phase, else (the root package, or one found through a path
    dependency or a patch) discovered now."""
    if package.relative_dir in found:
        return found[package.relative_dir]
    package_dir = os.path.join(workspace.root, package.relative_dir)
    edition = workspace.edition_of(package.relative_dir)
    return discover(package.manifest, package_dir, package.relative_path, edition)


def _read_lockfile(root: str) -> str | Table | None:
    """Cargo.lock: its text when it is in cargo's own layout (`lockfile.recognised`), to be
    masked as text; else parsed. None when there is none."""
    path = os.path.join(root, "Cargo.lock")
    if not os.path.isfile(path):
        return None
    text = toml_io.read_text(path, "Cargo.lock")
    return text if lockfile.recognised(text) else _parsed_lockfile(text)


def _parsed_lockfile(lock: str | Table) -> Table:
    """The lockfile as a table (`lock` parsed if it is text), checked for `[[package]]`."""
    if not isinstance(lock, str):
        return lock
    parsed = toml_io.loads(lock, "Cargo.lock")
    packages = parsed.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise WorkspaceError("Cargo.lock: `package` is not an array of tables ([[package]])")
    return parsed


def _masked_lockfile(lock: str | Table | None, local_names: set[str]) -> str | None:
    """The masked lockfile: as text (`lockfile.mask`) when read as text, else re-serialised."""
    if lock is None:
        return None
    if isinstance(lock, str):
        return lockfile.mask(lock, local_names)
    return toml_io.dumps(mask_lockfile(lock, local_names, in_place=True))


def _masked_manifest(manifest: Table, local_names: set[str], patched: bool = False) -> str:
    masked = mask_manifest(manifest, local_names, in_place=True, keep_version=patched)
    return toml_io.dumps(_bins_sorted(masked))


def _bins_sorted(manifest: Table) -> Table:
    """`[[bin]]` sorted by path (else name), as cargo-chef does (its #34): reordering the
    binaries of a manifest, which changes nothing cargo builds, keeps the recipe."""
    bins = manifest.get("bin")
    if isinstance(bins, list) and all(isinstance(b, dict) for b in bins):
        manifest["bin"] = sorted(bins, key=lambda b: str(b.get("path") or b.get("name") or ""))
    return manifest


def _config_file(root: str) -> str | None:
    # cargo prefers the legacy `.cargo/config` when both exist; so do we.
    for name in (".cargo/config", ".cargo/config.toml"):
        text = _read_text(os.path.join(root, name))
        if text is not None:
            return text
    return None


def _toolchain_file(root: str) -> tuple[str, str] | None:
    for name, kind in (("rust-toolchain", "Bare"), ("rust-toolchain.toml", "Toml")):
        text = _read_text(os.path.join(root, name))
        if text is not None:
            return (kind, text)
    return None


def _read_text(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: cannot read ({exc})") from None
