"""`verify`: prove what was built. Each check returns problems; an empty report means OK.

- the recipe of the workspace equals the one the dist was built from,
- every cache entry matches its file manifest and key, and each of its fingerprints owns
  artifacts and each artifact is owned by a fingerprint (cargo compiles a unit without artifacts
  again: the entry would not hold what it claims),
- each artifact matches its recorded sha256, is an ELF of the arch's class, endianness and
  machine, static/dynamic as the libc implies (musl: no interpreter and no NEEDED library; a
  cdylib: a shared library), needs no glibc newer
  than the floor, and is not one of the cook's dummies; `rootfs.tar` holds only `usr/` payload,
- the dist manifest lists artifacts as {name: sha256}, each `rootfs.tar`, `bin/<file>` or
  `lib/<file>` (nothing outside the dist dir is read), and every file of the dist is listed.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galley import dist, elf
from galley.arch import Arch, Libc
from galley.chef import cleanup
from galley.chef.recipe import Recipe
from galley.errors import GalleyError
from galley.hashing import sha256_file, sha256_stream
from galley.store import Store


@dataclass
class Report:
    """Problems found, grouped by what was checked, plus notes (e.g. the glibc needed)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_recipe(recipe: Recipe, manifest: dict[str, Any] | None, arch: str) -> list[str]:
    if manifest is None:
        return [f"{arch}: no dist manifest (run `galley build --arch {arch}`)"]
    if manifest.get("recipe") != recipe.digest():
        return [f"{arch}: the workspace's recipe changed since the build (stale dist)"]
    return []


#: A cargo file's or dir's name up to its first dot (crate and package names have none), ending
#: with its unit's hash.
UNIT_STEM = re.compile(r".+-([0-9a-f]{16})")


def check_store(store: Store) -> list[str]:
    """Problems of every cache entry: its files against its manifest, then, when they match, its
    fingerprints against its artifacts."""
    problems = []
    for entry in store.entries():
        found = store.problems(entry) or check_units(entry.target_dir)
        problems += [f"cache entry {entry.key[:12]}: {p}" for p in found[:5]]
    return problems


def check_units(target: Path) -> list[str]:
    """In each profile dir of a cargo target dir: fingerprints whose hash no file of deps/ or
    build/ has, and files there whose hash no fingerprint has. Cargo gives a unit's fingerprint
    dir, build-script dir and deps/ files the same hash (see galley/drop.sh)."""
    problems = []
    for profile in cleanup.profile_dirs(target):
        where = profile.relative_to(target).as_posix()
        fingerprints = _hashed(profile / ".fingerprint")
        artifacts = {
            f"{kind}/{name}": unit
            for kind in ("build", "deps")
            for unit, names in _hashed(profile / kind).items()
            for name in names
        }
        owned = set(artifacts.values())
        problems += [
            f"{where}/.fingerprint/{name}: no file of deps/ or build/ has its hash"
            for unit, names in sorted(fingerprints.items())
            for name in names
            if unit not in owned
        ]
        problems += [
            f"{where}/{path}: no fingerprint has its hash"
            for path, unit in sorted(artifacts.items())
            if unit not in fingerprints
        ]
    return problems


def _hashed(directory: Path) -> dict[str, list[str]]:
    """{unit hash: names} of the entries of `directory` whose names end with one."""
    found: dict[str, list[str]] = {}
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        match = UNIT_STEM.fullmatch(path.name.split(".")[0])
        if match:
            found.setdefault(match.group(1), []).append(path.name)
    return found


def check_artifacts(
    arch_dir: Path, arch: Arch, libc: Libc, glibc_floor: str | None, report: Report
) -> None:
    """Add problems and notes for every artifact in `dist/<arch>`, and for every file there
    that the manifest does not list."""
    manifest = dist.read_manifest(arch_dir) or {}
    problems = _manifest_problems(manifest)
    if problems:
        report.problems += [f"{arch.name}: {dist.MANIFEST}: {p}" for p in problems]
        return
    artifacts: dict[str, str] = manifest["artifacts"]
    dummies = set(manifest.get("dummies", {}).values())
    report.problems += [
        f"{arch.name}: {name} is not listed in {dist.MANIFEST}"
        for name in _unlisted(arch_dir, artifacts)
    ]
    for name, digest in sorted(artifacts.items()):
        path = arch_dir / name
        if not _inside(arch_dir, name):
            report.problems.append(f"{arch.name}: {name} is a symlink leading out of {arch_dir}")
            continue
        if not path.is_file():
            report.problems.append(f"{arch.name}: {name} is missing")
            continue
        actual = sha256_file(path)
        if actual != digest:
            report.problems.append(f"{arch.name}: {name} does not match its recorded sha256")
        if actual in dummies:
            report.problems.append(f"{arch.name}: {name} is a dummy binary from the cook")
        if name == dist.ROOTFS:
            report.problems += [
                f"{arch.name}: rootfs.tar: {p}" for p in _rootfs_problems(path, artifacts)
            ]
        else:
            _check_elf(path, name, arch, libc, glibc_floor, report)


def _manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What makes a dist manifest unusable: artifacts and dummies must map names to sha256s,
    and an artifact's name must be one galley ships (never absolute, never `..`)."""
    if not manifest.get("artifacts"):
        return ["lists no artifacts"]
    for key in ("artifacts", "dummies"):
        if not dist.names_to_digests(manifest.get(key, {})):
            return [f"{key} is not an object of names to sha256 digests"]
    return [
        f"artifact {name!r} is not rootfs.tar, bin/<file> or lib/<file> (not checked)"
        for name in sorted(manifest["artifacts"])
        if not dist.is_artifact_name(name)
    ]


def _inside(arch_dir: Path, name: str) -> bool:
    """Whether `arch_dir/name`, symlinks resolved, lies in `arch_dir` (checking it then reads
    nothing outside)."""
    return Path(os.path.realpath(arch_dir / name)).is_relative_to(os.path.realpath(arch_dir))


def _unlisted(arch_dir: Path, artifacts: dict[str, str]) -> list[str]:
    """Files (and symlinks) in `arch_dir` that are neither the manifest nor listed in it."""
    found = []
    for directory, dirs, files in os.walk(arch_dir):
        here = Path(directory)
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            relative = (here / name).relative_to(arch_dir).as_posix()
            if relative != dist.MANIFEST and relative not in artifacts:
                found.append(relative)
    return sorted(found)


def _check_elf(
    path: Path, name: str, arch: Arch, libc: Libc, floor: str | None, report: Report
) -> None:
    where = f"{arch.name}: {name}"
    try:
        info = elf.read_elf(path)
    except GalleyError as exc:
        report.problems.append(f"{where}: {exc}")
        return
    if info is None:
        report.problems.append(f"{where}: not an ELF file")
        return
    if (info.machine, info.elf_class, info.little_endian) != (
        arch.elf_machine,
        arch.elf_class,
        arch.little_endian,
    ):
        report.problems.append(
            f"{where}: ELF machine {info.machine_name} ({info.elf_class}-bit, "
            f"{'LE' if info.little_endian else 'BE'}) is not {arch.name}"
        )
    if name.startswith("lib/"):
        if info.elf_type != elf.ET_DYN or info.interpreter is not None:
            report.problems.append(f"{where}: not a shared library")
    elif libc is Libc.GNU and info.is_static:
        report.notes.append(f"{where}: static glibc binary")
    elif libc is Libc.MUSL and not (info.is_static and not info.needed):
        needs = [f"interpreter {info.interpreter}"] if info.interpreter else []
        needs += [f"NEEDED {', '.join(info.needed)}"] if info.needed else []
        report.problems.append(f"{where}: musl build is not static ({'; '.join(needs)})")
    if info.max_glibc:
        report.notes.append(f"{where}: needs {info.max_glibc}")
        if floor and elf.glibc_version_tuple(info.max_glibc) > elf.glibc_version_tuple(
            "GLIBC_" + floor.removeprefix("GLIBC_")
        ):
            report.problems.append(f"{where}: needs {info.max_glibc}, newer than the floor {floor}")


def _rootfs_problems(path: Path, artifacts: dict[str, str]) -> list[str]:
    """rootfs.tar must hold the payload and nothing else: its directories, and each shipped
    artifact at its rootfs place with the artifact's sha256, all owned by root."""
    placed = {name: dist.rootfs_name(name) for name in artifacts}
    wanted = {place: name for name, place in placed.items() if place}
    directories = {"usr", "usr/bin", *(name.rpartition("/")[0] for name in wanted)}
    problems, found = [], set()
    try:
        with tarfile.open(path, "r:") as archive:  # galley writes it uncompressed
            for member in archive.getmembers():
                name = member.name.rstrip("/")
                if member.isfile() and name in wanted:
                    found.add(name)
                    content = archive.extractfile(member) or io.BytesIO()
                    if sha256_stream(content) != artifacts[wanted[name]]:
                        problems.append(f"{name} is not {wanted[name]}")
                elif not (member.isdir() and name in directories):
                    problems.append(f"unexpected entry {member.name}")
                if member.uid or member.gid:
                    problems.append(f"{member.name} is not owned by root")
    except (tarfile.TarError, OSError) as exc:  # one line, whatever the error's text holds
        return [f"not a readable tar archive ({' '.join(str(exc).split())})"]
    return problems + [f"{name} is missing" for name in sorted(wanted.keys() - found)]
