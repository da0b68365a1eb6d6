"""The dist directory: `dist/<arch>/bin/*` (executables), `dist/<arch>/lib/*.so` (cdylibs),
`manifest.json` and a deterministic `rootfs.tar`.

`dist/<arch>` is galley's: it is replaced whole, atomically (staged beside it, then renamed),
and only when it is galley's own output or empty, so a mistaken `--dist` never deletes a
user's directory.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from galley import filelock, jsonfile
from galley.errors import ConfigError, WorkspaceError
from galley.hashing import sha256_file

if TYPE_CHECKING:
    from galley.plan import Plan

MANIFEST = "manifest.json"
ROOTFS = "rootfs.tar"


def payload(messages: Iterable[str]) -> dict[str, Path]:
    """What a build ships, from cargo's `--message-format=json` lines: {"bin/<name>": path} for
    the executables and {"lib/<name>.so": path} for the cdylibs of workspace (path) packages."""
    found: dict[str, Path] = {}
    for message in _artifact_messages(messages):
        if not str(message.get("package_id", "")).startswith("path+"):
            continue
        target = message.get("target", {})
        if message.get("executable") and "bin" in target.get("kind", []):
            path = Path(message["executable"])
            found[f"bin/{path.name}"] = path
        elif "cdylib" in target.get("crate_types", []):
            for path in map(Path, message.get("filenames", [])):
                if path.suffix == ".so":
                    found[f"lib/{path.name}"] = path
    return dict(sorted(found.items()))


def _artifact_messages(messages: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in messages:
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact":
            yield message


def compiled(messages: Iterable[str]) -> list[str]:
    """Names of the packages cargo compiled (not fresh), from `--message-format=json` lines."""
    return sorted(
        {
            _package_name(str(message.get("package_id", "")))
            for message in _artifact_messages(messages)
            if not message.get("fresh")
        }
    )


def _package_name(package_id: str) -> str:
    source, _, fragment = package_id.partition("#")
    return fragment.split("@")[0] if "@" in fragment else source.rstrip("/").rsplit("/", 1)[-1]


#: Where each kind of shipped file goes in rootfs.tar, and its mode.
ROOTFS_DIRS = {"bin": ("usr/bin", 0o755), "lib": ("usr/lib", 0o644)}


def is_artifact_name(name: str) -> bool:
    """Whether `name` is one a manifest may list: `rootfs.tar`, `bin/<file>` or `lib/<file>`
    (so never an absolute path, a `..`, a deeper path or a control character)."""
    kind, _, file = name.partition("/")
    plain = file not in ("", ".", "..") and "/" not in file and file.isprintable()
    return name == ROOTFS or (kind in ROOTFS_DIRS and plain)


def rootfs_name(artifact: str) -> str | None:
    """Where a shipped artifact (`bin/x`, `lib/libx.so`) sits in rootfs.tar (None: not there)."""
    kind, _, name = artifact.partition("/")
    return f"{ROOTFS_DIRS[kind][0]}/{name}" if kind in ROOTFS_DIRS and name else None


def publish(
    arch_dir: Path, files: dict[str, Path], info: dict[str, Any], source_date_epoch: int
) -> dict[str, Any]:
    """Copy the payload (`payload()`'s names) into `arch_dir`, write `rootfs.tar` and
    `manifest.json`; the manifest."""
    if not files:
        raise WorkspaceError(
            f"the build made no executable or cdylib of the workspace's packages, so there is "
            f"nothing to ship ({arch_dir} left as it was)"
        )
    check_replaceable(arch_dir)
    arch_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(arch_dir)
    staging = _beside(arch_dir, "new")
    shutil.rmtree(staging, ignore_errors=True)
    artifacts: dict[str, str] = {}
    for name, source in files.items():
        destination = staging / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        destination.chmod(ROOTFS_DIRS[destination.parent.name][1])
        artifacts[name] = sha256_file(destination)
    write_rootfs(staging / ROOTFS, [staging / name for name in files], source_date_epoch)
    artifacts[ROOTFS] = sha256_file(staging / ROOTFS)
    manifest = {**info, "artifacts": artifacts}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
    _replace(arch_dir, staging)
    return manifest


def check_replaceable(arch_dir: Path) -> None:
    """Refuse to replace a directory galley did not write (no manifest) unless it is empty."""
    if not arch_dir.exists() or "artifacts" in (read_manifest(arch_dir) or {}):
        return
    if not arch_dir.is_dir() or any(arch_dir.iterdir()):
        raise ConfigError(
            f"{arch_dir} exists and is not galley's output (no {MANIFEST}); move it away or "
            "choose another --dist"
        )


def _beside(arch_dir: Path, suffix: str) -> Path:
    """A staging name beside `arch_dir`, per process: `.<arch>.<pid>.<suffix>`."""
    return arch_dir.with_name(f".{arch_dir.name}.{os.getpid()}.{suffix}")


def _replace(arch_dir: Path, staging: Path) -> None:
    """Put `staging` in place of `arch_dir` by renames; the old one is removed afterwards."""
    old = _beside(arch_dir, "old")
    if arch_dir.exists():
        arch_dir.rename(old)
    staging.rename(arch_dir)
    shutil.rmtree(old, ignore_errors=True)


def _remove_abandoned(arch_dir: Path) -> None:
    """Staging dirs left by galley processes that died before their rename."""
    for path in arch_dir.parent.glob(f".{arch_dir.name}.*.*"):
        filelock.remove_if_owner_died(path, path.name.split(".")[2])


def publish_build(
    plan: Plan, dist_dir: Path, files: dict[str, Path], **extra: Any
) -> dict[str, Any]:
    """`publish` for a plan: the manifest names arch, target, key, recipe and toolchain."""
    info = {
        "arch": plan.arch.name,
        "target": plan.triple,
        "key": plan.key,
        "recipe": plan.recipe.digest(),
        "toolchain": plan.toolchain.release,
        "profile": plan.settings.profile,
        **({"bins": sorted(plan.settings.bins)} if plan.settings.bins else {}),
        **extra,
    }
    epoch = plan.settings.source_date_epoch or 0
    return publish(dist_dir / plan.arch.name, files, info, epoch)


def write_rootfs(path: Path, files: list[Path], mtime: int) -> None:
    """The rootfs-builder payload: executables at /usr/bin and cdylibs at /usr/lib (each file's
    parent dir names which), sorted, uid/gid 0, fixed mtime."""
    buffer = io.BytesIO()
    placed = sorted((*ROOTFS_DIRS[f.parent.name], f) for f in files)
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for directory in ("usr", *sorted({d for d, _, _ in placed} | {"usr/bin"})):
            archive.addfile(_info(f"{directory}/", tarfile.DIRTYPE, 0o755, 0, mtime))
        for directory, mode, file in placed:
            data = file.read_bytes()
            info = _info(f"{directory}/{file.name}", tarfile.REGTYPE, mode, len(data), mtime)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())


def _info(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def unaltered(arch_dir: Path, manifest: dict[str, Any]) -> bool:
    """Whether every artifact the manifest records is in `arch_dir` with its sha256."""
    artifacts = artifacts_of(manifest)
    if not artifacts:
        return False
    for name, digest in artifacts.items():
        path = arch_dir / name
        if path.is_symlink() or not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def artifacts_of(manifest: dict[str, Any] | None) -> dict[str, str]:
    """The manifest's {artifact name: sha256}; empty when it is damaged (a wrong shape, or a
    name that is not one galley ships)."""
    artifacts = (manifest or {}).get("artifacts")
    if names_to_digests(artifacts) and all(is_artifact_name(name) for name in artifacts):
        return dict(artifacts)
    return {}


def names_to_digests(value: Any) -> TypeGuard[dict[str, str]]:
    """Whether `value` has the shape of a manifest's artifacts or dummies: {name: sha256}."""
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def read_manifest(arch_dir: Path) -> dict[str, Any] | None:
    return jsonfile.read_object(arch_dir / MANIFEST)
