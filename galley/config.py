"""`galley.toml`: found from the cwd upward (or given with --config), validated, typed.

Every task flag overrides the file; unknown keys and bad values are one ConfigError.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from galley import arch as arches
from galley import toml_io
from galley.arch import Arch, Libc
from galley.errors import ConfigError, GalleyError
from galley.units import is_whole_number

FILE_NAME = "galley.toml"
BACKENDS = ("auto", "local", "docker")
CHEFS = ("builtin", "cargo-chef", "auto")
MODES = ("cross", "emulate")


@dataclass(frozen=True)
class ArchOverride:
    """Per-arch settings from `[arch.<name>]`."""

    libc: Libc | None = None
    linker: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class DockerSettings:
    """`[docker]`: how the docker backend runs."""

    client: str | None = None  # docker program; None = detect (/usr/bin/docker first)
    builder_image: str | None = None  # None = build one offline (`galley builder-image`)
    registry: str | None = None
    repository: str = "galley"
    mode: str = "cross"
    mirror: str | None = None  # Debian mirror for debootstrap; None = read host apt sources
    push: bool = False
    rust_version: str = "1.85"  # Debian rustc-web version in built builder images (s390x: 1.85)
    packages: tuple[str, ...] = ()  # Debian packages for built builder images (build tools)
    target_packages: tuple[str, ...] = ()  # ... and per target arch (libraries: <pkg>:<arch>)
    # Not in galley.toml: set by `verify --reproducible` for a from-scratch rebuild.
    cook_repository: str = "galley-cook"  # local name of cook images
    no_cache: bool = False  # no cook image reuse, no delta seed, no layer cache, no cache mount


@dataclass(frozen=True)
class Settings:
    """Everything a task needs, after file + flags."""

    root: Path
    workspace: Path
    arches: tuple[str, ...] = ("amd64",)
    profile: str = "release"
    features: tuple[str, ...] = ()
    no_default_features: bool = False
    all_features: bool = False
    bin: str | None = None  # only this binary (or package) and its local closure
    backend: str = "auto"  # local where the host toolchain has the std, else docker
    chef: str = "builtin"
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    dist_dir: Path = Path("dist")
    cargo: str = "cargo"
    glibc_floor: str | None = None
    source_date_epoch: int | None = None
    extra_sources: tuple[Path, ...] = ()  # dirs outside the workspace that its build reads
    overrides: dict[str, ArchOverride] = field(default_factory=dict)
    docker: DockerSettings = field(default_factory=DockerSettings)

    def arch_list(self, requested: list[str] | tuple[str, ...] | None = None) -> list[Arch]:
        """Requested arches (or the configured default), normalised and deduplicated."""
        found: dict[str, Arch] = {}
        for name in requested or self.arches:
            arch = arches.get(name)
            found.setdefault(arch.name, arch)
        return list(found.values())

    def libc(self, arch: Arch) -> Libc:
        return self.overrides.get(arch.name, ArchOverride()).libc or arch.default_libc

    def triple(self, arch: Arch) -> str:
        override = self.overrides.get(arch.name, ArchOverride())
        return override.target or arch.triple(self.libc(arch))

    def linker(self, arch: Arch) -> str | None:
        override = self.overrides.get(arch.name, ArchOverride())
        if override.linker:
            return override.linker
        return None if arch == arches.host() else arch.gcc

    def with_flags(self, **flags: Any) -> Settings:
        """A copy with every non-None flag applied (validated like the file)."""
        changes = {key: value for key, value in flags.items() if value not in (None, [], ())}
        if "backend" in changes:
            check_choice("backend", changes["backend"], BACKENDS)
        if "chef" in changes:
            check_choice("chef", changes["chef"], CHEFS)
        if "profile" in changes:
            check_profile("--profile", changes["profile"])
        for key in ("workspace", "cache_dir", "dist_dir"):
            if key in changes:
                changes[key] = Path(changes[key]).expanduser().absolute()
        if "features" in changes:
            changes["features"] = tuple(changes["features"])
        return replace(self, **changes)


def default_cache_dir() -> Path:
    """$GALLEY_CACHE_DIR, else $XDG_CACHE_HOME/galley, else ~/.cache/galley."""
    if os.environ.get("GALLEY_CACHE_DIR"):
        return Path(os.environ["GALLEY_CACHE_DIR"]).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "galley"


def find(start: Path) -> Path | None:
    """The nearest galley.toml from `start` upward."""
    for directory in (start, *start.parents):
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def cargo_workspace_root(start: Path) -> Path | None:
    """The root cargo works on from `start` (a member's dir or below): the nearest directory
    upward with a Cargo.toml, or the nearest one above it whose Cargo.toml has [workspace]."""
    package = next((d for d in (start, *start.parents) if (d / "Cargo.toml").is_file()), None)
    if package is None:
        return None
    for directory in (package, *package.parents):
        manifest = directory / "Cargo.toml"
        try:
            if manifest.is_file() and "workspace" in toml_io.load(manifest, str(manifest)):
                return directory
        except GalleyError:
            continue  # not TOML: reported when the workspace is read, if it is this one
    return package


def load(path: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from `path`, or the galley.toml found from `start` (cwd), or the defaults."""
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    path = path or find((start or Path.cwd()).absolute())
    if path is None:
        here = (start or Path.cwd()).absolute()
        root = cargo_workspace_root(here) or here
        return Settings(
            root=root, workspace=root, dist_dir=root / "dist", source_date_epoch=_env_epoch()
        )
    try:
        table = toml_io.load(path, str(path))
    except GalleyError as exc:
        raise ConfigError(str(exc)) from None
    return _settings(table, path.parent.absolute(), str(path))


_TOP_KEYS = {
    "workspace", "arches", "profile", "features", "no_default_features", "all_features", "bin",
    "backend", "chef", "cache_dir", "dist_dir", "cargo", "glibc_floor", "source_date_epoch",
    "extra_sources", "arch", "docker",
}  # fmt: skip
_DOCKER_KEYS = {
    "client", "builder_image", "registry", "repository", "mode", "mirror", "push", "rust_version",
    "packages", "target_packages",
}  # fmt: skip
_ARCH_KEYS = {"libc", "linker", "target"}


def _settings(table: dict[str, Any], root: Path, origin: str) -> Settings:
    _known(table, _TOP_KEYS, origin)
    get = _Getter(table, origin)
    arch_names = get.texts("arches", ["amd64"])
    if not arch_names:
        raise ConfigError(f"{origin}: arches must name at least one arch")
    for name in arch_names:
        arches.get(name)
    cache_dir = get.text("cache_dir", None)
    epoch = _epoch(origin, get.integer("source_date_epoch", None))
    return Settings(
        root=root,
        workspace=root / Path(get.text("workspace", ".")).expanduser(),
        arches=tuple(arch_names),
        profile=check_profile(origin, get.text("profile", "release")),
        features=tuple(get.texts("features", [])),
        no_default_features=get.flag("no_default_features", False),
        all_features=get.flag("all_features", False),
        bin=get.text("bin", None),
        backend=check_choice("backend", get.text("backend", "auto"), BACKENDS),
        chef=check_choice("chef", get.text("chef", "builtin"), CHEFS),
        cache_dir=(root / Path(cache_dir).expanduser()) if cache_dir else default_cache_dir(),
        dist_dir=root / Path(get.text("dist_dir", "dist")).expanduser(),
        cargo=get.text("cargo", "cargo"),
        glibc_floor=_glibc_version(origin, get.text("glibc_floor", None)),
        source_date_epoch=_env_epoch() if epoch is None else epoch,
        extra_sources=tuple(
            _normal(root / Path(p).expanduser()) for p in get.texts("extra_sources", [])
        ),
        overrides=_overrides(table.get("arch", {}), origin),
        docker=_docker(table.get("docker", {}), origin),
    )


def _normal(path: Path) -> Path:
    return Path(os.path.normpath(path))


def _glibc_version(origin: str, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d+\.\d+", value):
        raise ConfigError(f'{origin}: glibc_floor must look like "2.36", not {value!r}')
    return value


def _epoch(origin: str, value: int | None) -> int | None:
    """Seconds since 1970 that a tar header can hold (11 octal digits)."""
    if value is not None and not 0 <= value < 8**11:
        raise ConfigError(f"{origin}: source_date_epoch must be between 0 and {8**11 - 1}")
    return value


def _env_epoch() -> int | None:
    """SOURCE_DATE_EPOCH from the environment, when galley.toml sets none
    (https://reproducible-builds.org/specs/source-date-epoch/)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not value:
        return None
    if not is_whole_number(value):
        raise ConfigError(f"SOURCE_DATE_EPOCH must be a number of seconds, not {value!r}")
    return _epoch("SOURCE_DATE_EPOCH", int(value))


def _overrides(table: Any, origin: str) -> dict[str, ArchOverride]:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [arch] must be a table of [arch.<name>] tables")
    found: dict[str, ArchOverride] = {}
    for name, section in table.items():
        where = f"{origin}: [arch.{name}]"
        arch = arches.get(name)
        if not isinstance(section, dict):
            raise ConfigError(f"{where} must be a table")
        _known(section, _ARCH_KEYS, where)
        get = _Getter(section, where)
        libc = get.text("libc", None)
        found[arch.name] = ArchOverride(
            libc=Libc(check_choice("libc", libc, ("gnu", "musl"))) if libc else None,
            linker=get.text("linker", None),
            target=get.text("target", None),
        )
    return found


def _docker(table: Any, origin: str) -> DockerSettings:
    where = f"{origin}: [docker]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    _known(table, _DOCKER_KEYS, where)
    get = _Getter(table, where)
    return DockerSettings(
        client=get.text("client", None),
        builder_image=get.text("builder_image", None),
        registry=check_registry(f"{where}: registry", get.text("registry", None)),
        repository=get.text("repository", "galley"),
        mode=check_choice("docker.mode", get.text("mode", "cross"), MODES),
        mirror=get.text("mirror", None),
        push=get.flag("push", False),
        rust_version=get.text("rust_version", "1.85"),
        packages=_package_names(where, "packages", get.texts("packages", [])),
        target_packages=_package_names(where, "target_packages", get.texts("target_packages", [])),
    )


def _package_names(where: str, key: str, names: list[str]) -> tuple[str, ...]:
    """Debian package names (policy 5.6.1), no arch qualifier or version: galley adds those."""
    for name in names:
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name):
            raise ConfigError(
                f"{where}: {key} must hold Debian package names (like libseccomp-dev), not {name!r}"
            )
    return tuple(names)


def _known(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def check_registry(name: str, value: str | None) -> str | None:
    """`HOST[:PORT][/NAMESPACE]`, as image references name registries; "" means none."""
    if value and ("://" in value or value != value.strip() or " " in value or value.endswith("/")):
        raise ConfigError(f"{name} must be HOST[:PORT][/NAMESPACE] with no scheme, not {value!r}")
    return value or None


def check_profile(origin: str, name: str) -> str:
    """A cargo profile name: letters, digits, `-` and `_` (cargo's rule), never empty."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name, re.ASCII):
        raise ConfigError(f"{origin}: profile {name!r} is not a cargo profile name")
    return name


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


class _Getter:
    """Typed reads from a TOML table with one-line errors."""

    def __init__(self, table: dict[str, Any], where: str) -> None:
        self.table, self.where = table, where

    def _get(self, key: str, default: Any, kind: type, label: str) -> Any:
        value = self.table.get(key, default)
        if value is None or (isinstance(value, kind) and not (kind is int and value is True)):
            return value
        raise ConfigError(f"{self.where}: {key} must be {label}, not {value!r}")

    def text(self, key: str, default: Any) -> Any:
        return self._get(key, default, str, "a string")

    def flag(self, key: str, default: Any) -> Any:
        return self._get(key, default, bool, "true or false")

    def integer(self, key: str, default: Any) -> Any:
        return self._get(key, default, int, "an integer")

    def texts(self, key: str, default: list[str]) -> list[str]:
        value = self.table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{self.where}: {key} must be a list of strings")
        return value
