"""Every user option, declared once: the body of `Settings` below is the option table.

Each `Option` names its type (through its parser), its default, its `galley.toml` key, its
flag, its help and the tasks that offer the flag. Reading galley.toml (config.py), the task
flags (tasks.py) and the option table of docs/configuration.md (`markdown_table`, checked by a
test) are all derived from these entries; code reads an option as `settings.<name>`.

Adding an option is one entry here plus the code that uses it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, cast, get_args, overload

from galley import arch as arches
from galley.arch import MUSL_ARCHES, Arch, Libc
from galley.errors import ConfigError
from galley.units import is_whole_number, parse_count, parse_duration, parse_size

T = TypeVar("T")
Backend = Literal["auto", "local", "docker"]
Chef = Literal["builtin", "cargo-chef", "auto"]
Mode = Literal["cross", "emulate"]

#: A value from galley.toml or a flag, where it came from (for errors), the directory relative
#: paths start from; returns the option's value or raises ConfigError.
Parser = Callable[[Any, str, Path], T]

PREPARE, COOK, BUILD, VERIFY, PRUNE, IMAGE = (
    "prepare", "cook", "build", "verify", "cache-prune", "builder-image",
)  # fmt: skip
TEST, CHECK, CLIPPY = "test", "check", "clippy"
RUNS = (TEST, CHECK, CLIPPY)  # cargo test, check, clippy on cooked dependencies
TASKS = (PREPARE, COOK, BUILD, *RUNS, PRUNE, VERIFY, IMAGE)
BUILDING = (COOK, BUILD, *RUNS, VERIFY)  # the tasks that plan a build
EVERY = (PREPARE, COOK, BUILD, *RUNS, PRUNE, VERIFY)  # with a workspace and a cache


@dataclass(frozen=True, eq=False)
class Option(Generic[T]):
    """One option. `key`: its galley.toml key, dotted (None: a flag only; `old_key`: a key it
    had before, still read); `flag`: the flag's name, dashes for underscores (None:
    galley.toml only); `tasks`: the tasks offering the flag; `default_from`: the default
    computed from the config's directory (shown in the docs as `shown`); `docker`: a flag for
    the docker backend (with `auto` it chooses docker, with `local` it is an error);
    `repeatable`: a flag given once per value."""

    default: T
    help: str
    parse: Parser[T]
    key: str | None = ""
    flag: str | None = ""
    tasks: tuple[str, ...] = ()
    default_from: Callable[[Path], T] | None = None
    shown: str | None = None
    docker: bool = False
    repeatable: bool = False
    old_key: str | None = None
    name: str = field(default="", init=False)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)
        if self.key == "":
            object.__setattr__(self, "key", name)
        if self.flag == "":
            object.__setattr__(self, "flag", name.replace("_", "-") if self.tasks else None)

    @overload
    def __get__(self, settings: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, settings: OptionValues, owner: type) -> T: ...
    def __get__(self, settings: OptionValues | None, owner: type) -> Option[T] | T:
        if settings is None:
            return self
        return cast(T, settings.values.get(self.name, self.default))

    @property
    def kwarg(self) -> str:
        """The task function's parameter for the flag (invoke turns `_` into `-`)."""
        return (self.flag or self.name).replace("-", "_")

    @property
    def is_switch(self) -> bool:
        """A flag without a value (`--push`)."""
        return self.default is False and self.parse is boolean

    def default_for(self, root: Path) -> T:
        return self.default_from(root) if self.default_from else self.default


class OptionValues:
    """The values of a class's options (its `Option` attributes), by option name."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    @classmethod
    def options(cls) -> list[Option[Any]]:
        return [value for value in vars(cls).values() if isinstance(value, Option)]

    @classmethod
    def option(cls, name: str) -> Option[Any]:
        found = vars(cls).get(name)
        assert isinstance(found, Option), name
        return found


# -- parsers ------------------------------------------------------------------------------------


def text(value: Any, where: str, base: Path) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return value


def optional_text(value: Any, where: str, base: Path) -> str | None:
    return None if value is None else text(value, where, base) or None


def boolean(value: Any, where: str, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def texts(value: Any, where: str, base: Path) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def one_or_more(value: Any, where: str, base: Path) -> tuple[str, ...]:
    """A string, or a list of them."""
    return (text(value, where, base),) if isinstance(value, str) else texts(value, where, base)


def path(value: Any, where: str, base: Path) -> Path:
    """A directory or file, relative to `base` (the config file's dir, or the cwd for a flag);
    `~` expanded."""
    return Path(os.path.normpath(base / Path(text(value, where, base)).expanduser()))


def paths(value: Any, where: str, base: Path) -> tuple[Path, ...]:
    return tuple(path(item, where, base) for item in texts(value, where, base))


def choice(*allowed: str) -> Parser[Any]:
    def parse(value: Any, where: str, base: Path) -> str:
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)

    return parse


def cargo_profile(value: Any, where: str, base: Path) -> str:
    """A cargo profile name: letters, digits, `-` and `_` (cargo's rule), never empty."""
    name = text(value, where, base)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name, re.ASCII):
        raise ConfigError(f"{where}: profile {name!r} is not a cargo profile name")
    return name


def libc_name(value: Any, where: str, base: Path) -> Libc | None:
    found = optional_text(value, where, base)
    return Libc(choice(*(libc.value for libc in Libc))(found, where, base)) if found else None


def arch_names(value: Any, where: str, base: Path) -> tuple[str, ...]:
    names = texts(value, where, base)
    if not names:
        raise ConfigError(f"{where} must name at least one arch")
    for name in names:
        arches.get(name)
    return names


def matching(pattern: str, what: str) -> Parser[str | None]:
    """Text that must match `pattern` (`what` says how it looks, for the error); "" is none."""

    def parse(value: Any, where: str, base: Path) -> str | None:
        found = optional_text(value, where, base)
        if found is not None and not re.fullmatch(pattern, found):
            raise ConfigError(f"{where} must {what}, not {found!r}")
        return found

    return parse


glibc_version = matching(r"\d+\.\d+", 'look like "2.36"')
rust_release = matching(r"1\.\d+(\.\d+)?", 'be a Rust release like "1.96" (or "1.96.0")')


def epoch(value: Any, where: str, base: Path) -> int | None:
    """Seconds since 1970 that a tar header can hold (11 octal digits)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not is_whole_number(value):
            raise ConfigError(f"{where} must be a number of seconds, not {value!r}")
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a number of seconds, not {value!r}")
    if not 0 <= value < 8**11:
        raise ConfigError(f"{where} must be between 0 and {8**11 - 1}")
    return value


def registry_address(value: Any, where: str, base: Path) -> str | None:
    """`HOST[:PORT][/NAMESPACE]`, as image references name registries; "" means none."""
    found = optional_text(value, where, base)
    if found and ("://" in found or found != found.strip() or " " in found or found.endswith("/")):
        raise ConfigError(f"{where} must be HOST[:PORT][/NAMESPACE] with no scheme, not {found!r}")
    return found


def debian_packages(value: Any, where: str, base: Path) -> tuple[str, ...]:
    """Debian package names (policy 5.6.1), no arch qualifier or version: galley adds those."""
    names = texts(value, where, base)
    for name in names:
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name):
            raise ConfigError(
                f"{where} must hold Debian package names (like libseccomp-dev), not {name!r}"
            )
    return names


def size(value: Any, where: str, base: Path) -> int | None:
    return None if value is None else parse_size(text(value, where, base))


def duration(value: Any, where: str, base: Path) -> float | None:
    return None if value is None else parse_duration(text(value, where, base))


def count(value: Any, where: str, base: Path) -> int | None:
    return None if value is None else parse_count(str(value))


@dataclass(frozen=True)
class ArchOverride:
    """Per-arch settings from `[arch.<name>]`."""

    libc: Libc | None = None
    linker: str | None = None
    target: str | None = None


def arch_table(value: Any, where: str, base: Path) -> dict[str, ArchOverride]:
    """`[arch.<name>]` tables: libc, linker and target per arch."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of [arch.<name>] tables")
    found: dict[str, ArchOverride] = {}
    for name, table in value.items():
        here = f"{where}.{name}"
        arch = arches.get(name)
        if not isinstance(table, dict):
            raise ConfigError(f"{here} must be a table")
        unknown = sorted(set(table) - {"libc", "linker", "target"})
        if unknown:
            raise ConfigError(f"{here}: unknown key {unknown[0]!r} (known: libc, linker, target)")
        found[arch.name] = ArchOverride(
            libc=libc_name(table.get("libc"), f"{here}.libc", base),
            linker=optional_text(table.get("linker"), f"{here}.linker", base),
            target=optional_text(table.get("target"), f"{here}.target", base),
        )
    return found


# -- defaults computed where galley runs --------------------------------------------------------


def default_cache_dir(root: Path | None = None) -> Path:
    """$GALLEY_CACHE_DIR, else $XDG_CACHE_HOME/galley, else ~/.cache/galley."""
    if os.environ.get("GALLEY_CACHE_DIR"):
        return Path(os.environ["GALLEY_CACHE_DIR"]).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "galley"


def environment_epoch(root: Path | None = None) -> int | None:
    """SOURCE_DATE_EPOCH from the environment
    (https://reproducible-builds.org/specs/source-date-epoch/)."""
    return epoch(os.environ.get("SOURCE_DATE_EPOCH") or None, "SOURCE_DATE_EPOCH", Path())


@dataclass(frozen=True)
class Rebuild:
    """Not options: how `verify --reproducible` makes its docker rebuild from scratch."""

    cook_repository: str = "galley-cook"  # the local name of cook images
    no_cache: bool = False  # no cook image reuse, no delta seed, no layer cache, no cache mount


# -- the table ----------------------------------------------------------------------------------


class Settings(OptionValues):
    """Everything a task needs: each option's value (galley.toml, then the flags), `root` (the
    dir of galley.toml, or the workspace's when there is none) and `rebuild`."""

    config = Option[str | None](
        None, "path of galley.toml (default: found from the cwd upward)", optional_text,
        key=None, tasks=TASKS,
    )  # fmt: skip
    workspace = Option[Path](
        Path("."), "the Rust workspace directory", path, tasks=EVERY,
        default_from=lambda root: root,
        shown="galley.toml's dir, else the cargo workspace of the cwd",
    )  # fmt: skip
    dist_dir = Option[Path](
        Path("dist"), "output directory", path, flag="dist", tasks=EVERY,
        default_from=lambda root: root / "dist", shown="dist",
    )  # fmt: skip
    cache_dir = Option[Path](
        Path(), "cache directory (inside the workspace is fine, the workspace itself is not)",
        path, tasks=EVERY, default_from=default_cache_dir,
        shown="$GALLEY_CACHE_DIR, else $XDG_CACHE_HOME/galley, else ~/.cache/galley",
    )  # fmt: skip
    arches = Option[tuple[str, ...]](
        ("amd64",), "architectures (names or aliases: x86_64, aarch64, ppc64el, …)", arch_names,
        flag="arch", tasks=(*BUILDING, IMAGE), repeatable=True,
    )  # fmt: skip
    profile = Option[str]("release", "cargo profile: release, dev or a custom one", cargo_profile,
                          tasks=BUILDING)  # fmt: skip
    features = Option[tuple[str, ...]](
        (), "cargo features, the same for cook and build", texts, tasks=BUILDING, repeatable=True,
    )  # fmt: skip
    no_default_features = Option[bool](False, "cargo --no-default-features (cook and build)",
                                       boolean, tasks=BUILDING)  # fmt: skip
    all_features = Option[bool](False, "cargo --all-features (cook and build)", boolean,
                                tasks=BUILDING)  # fmt: skip
    bins = Option[tuple[str, ...]](
        (), "only these binaries (or packages) and the crates they need: recipe, cook, build, "
        "dist", one_or_more, flag="bin", tasks=(PREPARE, *BUILDING), repeatable=True,
        old_key="bin",
    )  # fmt: skip
    backend = Option[Backend](
        "auto", "auto (local where the host toolchain has the target's std, else docker), local"
        " or docker; cache-prune: docker also prunes cook images and the builder cache",
        choice(*get_args(Backend)), tasks=(*BUILDING, PRUNE),
    )  # fmt: skip
    chef = Option[Chef](
        "builtin", "builtin (galley-chef), cargo-chef, or auto (cargo-chef where `cargo chef` "
        "answers)", choice(*get_args(Chef)), tasks=BUILDING,
    )  # fmt: skip
    cargo = Option[str]("cargo", "the cargo program of the local backend", text)
    glibc_floor = Option[str | None](
        None, 'verify fails if an artifact needs a newer GLIBC_x.y ("2.36")', glibc_version,
    )  # fmt: skip
    source_date_epoch = Option[int | None](
        None, "mtime of rootfs.tar entries, and SOURCE_DATE_EPOCH for cargo", epoch,
        default_from=environment_epoch, shown="$SOURCE_DATE_EPOCH, else 0 for the tar",
    )  # fmt: skip
    extra_sources = Option[tuple[Path, ...]](
        (), "dirs outside the workspace that its build reads (build.rs, include_str!)", paths,
    )  # fmt: skip
    arch_overrides = Option[dict[str, ArchOverride]](
        {}, "per-arch libc (gnu, musl), linker and target triple", arch_table, key="arch",
        shown="{}",
    )  # fmt: skip
    libc_choice = Option[Libc | None](
        None, "the C library of the arches asked: gnu or musl (a static binary; docker builds "
        f"std for {' and '.join(MUSL_ARCHES)} musl from Debian's rust-web-src)",
        libc_name, key=None,
        flag="libc", tasks=(*BUILDING, IMAGE), shown="`[arch.X] libc`, else gnu",
    )  # fmt: skip
    client = Option[str | None](
        None, "the docker program (default: /usr/bin/docker if present, else docker)",
        optional_text, key="docker.client",
    )  # fmt: skip
    builder_image = Option[str | None](
        None, "a builder image to use instead of building one offline", optional_text,
        key="docker.builder_image", tasks=BUILDING, docker=True,
    )  # fmt: skip
    registry = Option[str | None](
        None, "share cook and builder images through this registry (HOST[:PORT][/NS]; \"\": "
        "none)", registry_address, key="docker.registry", tasks=(COOK, BUILD, IMAGE),
        docker=True,
    )  # fmt: skip
    repository = Option[str](
        "galley", "images are <registry>/<repository>:cook-<arch>-<key12> (and builder-<tag>)",
        text, key="docker.repository",
    )  # fmt: skip
    mode = Option[Mode](
        "cross", "cross (native speed) or emulate (qemu, a builder image of the arch)",
        choice(*get_args(Mode)), key="docker.mode", tasks=(*BUILDING, IMAGE), docker=True,
    )  # fmt: skip
    mirror = Option[str | None](
        None, "Debian mirror for debootstrap (default: the host's apt sources)", optional_text,
        key="docker.mirror",
    )  # fmt: skip
    push = Option[bool](False, "push new cook and builder images to the registry", boolean,
                        key="docker.push", tasks=(COOK, BUILD, IMAGE), docker=True)  # fmt: skip
    rust = Option[str | None](
        None, 'Rust release of the builder images galley builds ("1.96"): Debian\'s rustc-web',
        rust_release, tasks=(*BUILDING, IMAGE), docker=True,
        shown="the newest Debian has for the arch (and its std, cross)",
    )  # fmt: skip
    packages = Option[tuple[str, ...]](
        (), "extra Debian packages in built builder images (build tools)", debian_packages,
        key="docker.packages",
    )  # fmt: skip
    target_packages = Option[tuple[str, ...]](
        (), "Debian packages for each target arch of built builder images (libraries)",
        debian_packages, key="docker.target_packages",
    )  # fmt: skip
    output = Option[str | None](None, "recipe path (default: <dist>/recipe.json)", optional_text,
                                key=None, tasks=(PREPARE,))  # fmt: skip
    explain = Option[bool](False, "show which key inputs changed since the last cook",
                           boolean, key=None, tasks=(COOK,))  # fmt: skip
    json = Option[bool](False, "print one JSON document on stdout", boolean, key=None,
                        tasks=(COOK, BUILD, *RUNS, IMAGE))  # fmt: skip
    reproducible = Option[bool](
        False, "also rebuild from a copy elsewhere with a fresh cache and compare digests"
        " (docker: cooked from scratch)", boolean, key=None, tasks=(VERIFY,),
    )  # fmt: skip
    repair = Option[bool](
        False, "restore the dependency artifacts that differ in the work dirs and build cache"
        " mounts from the cache entry or cook image", boolean, key=None, tasks=(VERIFY,),
    )  # fmt: skip
    max_size = Option[int | None](None, "remove least recently used entries above this total "
                                  "(e.g. 20G)", size, key=None, tasks=(PRUNE,))  # fmt: skip
    older_than = Option[float | None](None, "remove entries unused for longer than this "
                                      "(e.g. 14d)", duration, key=None, tasks=(PRUNE,))  # fmt: skip
    keep = Option[int | None](None, "keep at most N entries per arch", count, key=None,
                              tasks=(PRUNE,))  # fmt: skip
    dry_run = Option[bool](False, "only show what would be removed", boolean, key=None,
                           tasks=(PRUNE,))  # fmt: skip

    def __init__(
        self, root: Path, values: Mapping[str, Any] | None = None, rebuild: Rebuild = Rebuild()
    ) -> None:
        super().__init__(values)
        self.root = root
        self.rebuild = rebuild

    def replace(self, rebuild: Rebuild | None = None, **changes: Any) -> Settings:
        """A copy with `changes` (option name: value, already parsed) applied."""
        return Settings(self.root, {**self.values, **changes}, rebuild or self.rebuild)

    def arch_list(self, requested: Iterable[str] | None = None) -> list[Arch]:
        """Requested arches (or the configured default), normalised and deduplicated."""
        found: dict[str, Arch] = {}
        for name in requested or self.arches:
            arch = arches.get(name)
            found.setdefault(arch.name, arch)
        return list(found.values())

    def libc(self, arch: Arch) -> Libc:
        """`--libc`, else `[arch.X] libc`, else the arch's default."""
        override = self.arch_overrides.get(arch.name, ArchOverride()).libc
        return self.libc_choice or override or arch.default_libc

    def triple(self, arch: Arch) -> str:
        override = self.arch_overrides.get(arch.name, ArchOverride())
        return override.target or arch.triple(self.libc(arch))

    def linker(self, arch: Arch) -> str | None:
        override = self.arch_overrides.get(arch.name, ArchOverride())
        if override.linker:
            return override.linker
        return None if arch == arches.host() else arch.gcc


def markdown_table() -> str:
    """The option table of docs/configuration.md: key, flag, default, meaning, tasks."""
    rows = ["| galley.toml | flag | default | meaning | tasks |", "|---|---|---|---|---|"]
    for option in Settings.options():
        key = f"`{option.key}`" if option.key else ""
        flag = f"`--{option.flag}`" if option.flag else ""
        default = option.shown if option.shown is not None else _shown(option.default)
        tasks = ", ".join(option.tasks)
        rows.append(f"| {key} | {flag} | {default} | {option.help} | {tasks} |")
    return "\n".join(rows) + "\n"


def _shown(value: Any) -> str:
    if value is None or value == () or value is False:
        return "none" if value is None else ("[]" if value == () else "false")
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"
