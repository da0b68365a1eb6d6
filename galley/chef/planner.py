"""`prepare`: workspace → Recipe, in pure Python (no cargo call)."""

from __future__ import annotations

from pathlib import Path

from galley import toml_io
from galley.chef import workspace as workspace_reader
from galley.chef.masking import mask_lockfile, mask_manifest
from galley.chef.recipe import Manifest, Recipe
from galley.chef.targets import discover
from galley.chef.workspace import Member
from galley.errors import WorkspaceError


def prepare(root: Path, bin_name: str | None = None) -> Recipe:
    """The recipe of the workspace at `root`; with `bin_name`, of that binary's closure only."""
    workspace = workspace_reader.load(root)
    local_names = workspace.local_names()
    if bin_name:
        from galley.chef.select import select_binary  # only for --bin: start-up time

        workspace = select_binary(workspace, bin_name)
    manifests = tuple(_manifest(root, member, local_names) for member in workspace.members)
    return Recipe(
        manifests=manifests,
        config_file=_config_file(root),
        lock_file=_lock_file(root, local_names, workspace.local_names() if bin_name else None),
        rust_toolchain_file=_toolchain_file(root),
    )


def _manifest(root: Path, member: Member, local_names: set[str]) -> Manifest:
    targets = discover(member.manifest, root / member.relative_dir, member.relative_path)
    masked = mask_manifest(member.manifest, local_names, in_place=True)  # read once, ours
    return Manifest(member.relative_path, toml_io.dumps(masked), targets)


def _lock_file(root: Path, local_names: set[str], keep: set[str] | None) -> str | None:
    path = root / "Cargo.lock"
    if not path.is_file():
        return None
    lock = toml_io.load(path, "Cargo.lock")
    if keep is not None:
        from galley.chef.select import trim_lockfile

        lock = trim_lockfile(lock, keep)
    return toml_io.dumps(mask_lockfile(lock, local_names, in_place=True))


def _config_file(root: Path) -> str | None:
    # cargo prefers the legacy `.cargo/config` when both exist; so do we.
    for name in (".cargo/config", ".cargo/config.toml"):
        text = _read_text(root / name)
        if text is not None:
            return text
    return None


def _toolchain_file(root: Path) -> tuple[str, str] | None:
    for name, kind in (("rust-toolchain", "Bare"), ("rust-toolchain.toml", "Toml")):
        text = _read_text(root / name)
        if text is not None:
            return (kind, text)
    return None


def _read_text(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: cannot read ({exc})") from None
