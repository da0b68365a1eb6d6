"""The Rust releases Debian bookworm has for a builder: `rustc-web` for the image's own arch and,
for a cross arch, a `libstd-rust-web-dev` of exactly the same version (a std must match its
compiler).

Read from the mirror's package indexes over HTTP (no container, no base image needed), each
index checked against its suite's Release file as apt checks it: a suite whose index for an
arch is missing or does not match (a mirror caught mid-sync) is one apt would drop for a build
with that arch, so its versions do not count there. Answers are kept in the cache dir for
`MAX_AGE` seconds, and past that while the mirror cannot be reached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import lzma
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from galley import filelock, jsonfile
from galley.errors import DockerError
from galley.toolchain_file import release_tuple

SUITE = "bookworm"
SUITES = (SUITE, f"{SUITE}-updates", f"{SUITE}-security")
COMPILER, STD = "rustc-web", "libstd-rust-web-dev"
MAX_AGE = 6 * 3600
CACHE_FILE = "rust-releases.json"  # in <cache_dir>/docker/
_VERSION = re.compile(r"(\d+\.\d+)\.\d+")


def available(
    cache_dir: Path, mirror: str | None, image_arch: str, cross_arch: str | None
) -> list[str]:
    """The releases ("1.96", "1.85"), newest first, a builder image of Debian arch
    `image_arch` can have: its `rustc-web`, and with `cross_arch` the same version of that
    arch's std."""
    label = f"{image_arch}>{cross_arch}" if cross_arch else image_arch
    path = cache_dir / "docker" / CACHE_FILE
    mirrors = debian_mirrors(mirror)
    remembered = jsonfile.read_object(path) or {}
    if remembered.get("mirrors") != list(mirrors):
        remembered = {}
    stale = dict(remembered.get("answers") or {})
    if time.time() - remembered.get("at", 0) > MAX_AGE:
        remembered = {"mirrors": list(mirrors), "at": time.time(), "answers": {}}
    answers = remembered.setdefault("answers", {})
    if label not in answers:
        try:
            answers[label] = _ask(mirrors, image_arch, cross_arch)
        except DockerError:
            if label not in stale:
                raise
            return [str(release) for release in stale[label]]  # the mirror is out of reach
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            filelock.write_atomically(path, json.dumps(remembered, indent=1, sort_keys=True))
        except OSError:
            pass  # a read-only cache dir: ask every time
    return [str(release) for release in answers[label]]


def _ask(mirrors: tuple[str, str], image_arch: str, cross_arch: str | None) -> list[str]:
    arches = [image_arch, *([cross_arch] if cross_arch else [])]
    compilers: set[str] = set()
    stds: set[str] = set()
    for suite in SUITES:
        base = f"{mirrors[1] if suite.endswith('-security') else mirrors[0]}/dists/{suite}"
        indexes = {arch: _index_versions(base, arch) for arch in arches}
        if any(index is None for index in indexes.values()):
            continue  # apt would drop the suite for a build with these arches
        compilers |= (indexes[image_arch] or {}).get(COMPILER, set())
        if cross_arch:
            stds |= (indexes[cross_arch] or {}).get(STD, set())
    versions = compilers & stds if cross_arch else compilers
    releases = {found.group(1) for v in versions if (found := _VERSION.match(v))}
    return sorted(releases, key=release_tuple, reverse=True)


@functools.lru_cache(maxsize=32)
def _index_versions(base: str, arch: str) -> dict[str, set[str]] | None:
    """The versions of rustc-web and its std in the suite's index of `arch` (None: none that
    matches the Release file)."""
    index = _index(base, _release_checksums(f"{base}/Release"), arch)
    if index is None:
        return None
    return {package: _versions(index, package) for package in (COMPILER, STD)}


@functools.lru_cache(maxsize=8)
def _release_checksums(url: str) -> dict[str, tuple[str, int]]:
    """`path: (sha256, size)` of the SHA256 section of a Release file."""
    checksums: dict[str, tuple[str, int]] = {}
    in_section = False
    for line in _fetch(url).decode("utf-8", "replace").splitlines():
        if not line.startswith(" "):
            in_section = line.startswith("SHA256:")
            continue
        fields = line.split()
        if in_section and len(fields) == 3:
            checksums[fields[2]] = (fields[0], int(fields[1]))
    return checksums


def _index(base: str, checksums: dict[str, tuple[str, int]], arch: str) -> bytes | None:
    """The `main` Packages index of `arch`, or None when the Release file lists none or the
    file does not match it."""
    name = f"main/binary-{arch}/Packages.xz"
    if name not in checksums:
        return None
    data = _fetch(f"{base}/{name}")
    if (hashlib.sha256(data).hexdigest(), len(data)) != checksums[name]:
        return None
    return lzma.decompress(data)


def _versions(index: bytes, package: str) -> set[str]:
    """The versions of `package` in a Packages index."""
    found = set()
    for match in re.finditer(rb"^Package: " + re.escape(package.encode()) + rb"\n", index, re.M):
        end = index.find(b"\n\n", match.end())
        paragraph = index[match.end() : end if end >= 0 else len(index)]
        version = re.search(rb"^Version: (\S+)", paragraph, re.M)
        if version:
            found.add(version.group(1).decode())
    return found


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as exc:
        raise DockerError(
            f"cannot read which Rust releases Debian has ({url}: {getattr(exc, 'reason', exc)}); "
            'set rust (e.g. rust = "1.85") or docker.mirror'
        ) from None


def debian_mirrors(mirror: str | None) -> tuple[str, str]:
    """(main, security) mirror URLs: `mirror` (else the host's first Debian source that is not
    a security suite) and the host's security source (else `<main>-security`), as
    build-base.sh chooses them for the base image."""
    sources = _host_sources()
    main = mirror or next((uri for uri, suites in sources if not _security(suites)), None)
    if not main:
        raise DockerError(
            "no Debian mirror in /etc/apt/sources.list{,.d/*.sources}; set docker.mirror"
        )
    security = next((uri for uri, suites in sources if _security(suites)), None)
    return main.rstrip("/"), (security or f"{main.rstrip('/')}-security").rstrip("/")


def _security(suites: list[str]) -> bool:
    return any(suite.endswith("-security") for suite in suites)


def _host_sources() -> list[tuple[str, list[str]]]:
    """(URI, suites) of each `deb ... main` entry of the host's apt sources (deb822, one-line)."""
    found: list[tuple[str, list[str]]] = []
    apt = Path("/etc/apt")
    for path in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", _read(path)):
            fields = dict(
                (key.strip(), value.strip())
                for key, _, value in (line.partition(":") for line in stanza.splitlines())
                if not key.startswith((" ", "#")) and value
            )
            if (
                "deb" in fields.get("Types", "").split()
                and "main" in fields.get("Components", "").split()
            ):
                found += [(uri, fields.get("Suites", "").split()) for uri in fields["URIs"].split()]
    for path in [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]:
        for line in _read(path).splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 4 and words[0] == "deb" and "main" in words[3:]:
                found.append((words[1], [words[2]]))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
