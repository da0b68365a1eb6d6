"""A build plan for one arch: target triple, cargo flags, environment and cache key."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from galley import arch as arches
from galley import cachekey, cargo_cfg, chefcmd, layout, sync
from galley.arch import Arch
from galley.cachekey import Toolchain
from galley.chef import cleanup
from galley.chef.cooker import CookOptions, cargo_args, split_features
from galley.chef.recipe import Recipe, TargetKind
from galley.chef.workspace import is_outside
from galley.errors import ConfigError, ToolNotFound
from galley.hashing import sha256_file
from galley.layout import SourceLayout
from galley.options import Settings

#: What rustc says of the target's cfg under the given rustflags.
CfgQuery = Callable[[tuple[str, ...]], cargo_cfg.Cfgs]
#: What the real cargo command does on top of the cook: its own cook and key for each.
Work = Literal["build", "test", "check", "clippy"]


@dataclass(frozen=True)
class Plan:
    """Everything needed to cook and build one arch, and the key that names the result."""

    settings: Settings
    arch: Arch
    triple: str
    recipe: Recipe
    toolchain: Toolchain
    chef: str
    linker: str | None  # what galley sets as CARGO_TARGET_<TRIPLE>_LINKER (None: cargo decides)
    key_manifest: dict[str, Any]
    key: str
    layout: SourceLayout  # where the workspace and the path crates outside it sit in a tree
    work: Work = "build"

    @property
    def rustflags(self) -> list[str]:
        """The user's rustflags for the target (see `rustflags`), as the key has them."""
        return list(self.key_manifest.get("rustflags", []))

    @property
    def profile_dir(self) -> str:
        return self.cook_options(Path("/")).profile_dir

    @property
    def binaries(self) -> set[str]:
        """Names of the recipe's binary targets."""
        targets = (t for m in self.recipe.manifests for t in m.targets)
        return {t.name for t in targets if t.kind is TargetKind.BIN}

    def cook_options(
        self, target_dir: Path, env: dict[str, str | None] | None = None
    ) -> CookOptions:
        """The cook's flags, shared with the real command (so features unify the same way,
        cargo-chef #115): tests cook their dev-dependencies (`--tests`), check and clippy cook
        metadata (`--check`, `--clippy`). With `bins`, both select those binaries (`--bin`)
        or packages (`-p`)."""
        profile = self.settings.profile
        selected = self.settings.bins
        return CookOptions(
            release=profile == "release",
            profile=None if profile in ("release", "dev") else profile,
            check=self.work == "check",
            clippy=self.work == "clippy",
            tests=self.work == "test",
            targets=(self.triple,),
            target_dir=target_dir,
            features=split_features(self.settings.features),
            no_default_features=self.settings.no_default_features,
            all_features=self.settings.all_features,
            bins=tuple(name for name in selected if name in self.binaries),
            packages=tuple(name for name in selected if name not in self.binaries),
            locked=self.recipe.lock_file is not None,
            env=env or {},
        )

    def cargo_command(self, target_dir: Path, extra: Sequence[str] = ()) -> list[str]:
        """The real command on top of the cook, without the program: `build`, `test`,
        `check` or `clippy` with the cook's flags; `extra` goes after `--` (to the test
        binaries, or to clippy)."""
        options = dataclasses.replace(self.cook_options(target_dir), tests=False)
        args = [self.work, *cargo_args(options)[1:]]
        args += ["--no-fail-fast"] if self.work == "test" else []  # every test binary's results
        return [*args, "--", *extra] if extra else args

    def test_runner(self, emulated: bool = False) -> str | None:
        """The host's static qemu-user program this plan's tests run under: None when it runs
        no tests or they run natively (the host's arch, or a builder emulating the arch)."""
        native = emulated or self.arch == arches.host()
        return None if self.work != "test" or native else f"qemu-{self.arch.qemu}-static"

    def cargo_env(
        self, remap: dict[Path, str], *, keep_incremental: bool = False
    ) -> dict[str, str | None]:
        """Environment for cargo: linker, C compiler, rustflags with path remapping, no
        incremental compilation (its output is neither reproducible nor worth caching) unless
        `keep_incremental`: a test, check or clippy run keeps cargo's own setting, as a plain
        `cargo test` after an edit does."""
        linker = cachekey.target_variable(self.triple, "LINKER")
        env: dict[str, str | None] = {} if keep_incremental else {"CARGO_INCREMENTAL": "0"}
        if self.linker and linker not in os.environ:
            env[linker] = self.linker
            env.setdefault(f"CC_{self.triple.replace('-', '_')}", self.linker)
        flags = self.rustflags + [f"--remap-path-prefix={path}={to}" for path, to in remap.items()]
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
        env["RUSTFLAGS"] = None
        if self.settings.source_date_epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(self.settings.source_date_epoch)
        return env


def make_plan(
    settings: Settings,
    arch: Arch,
    recipe: Recipe,
    toolchain: Toolchain,
    builder_image: str | None = None,
    work: Work = "build",
    **extra: Any,
) -> Plan:
    """Resolve the triple and chef, check the toolchain has the target's std, compute the key.

    `extra` adds backend-specific key inputs (e.g. the docker mode)."""
    triple = settings.triple(arch)
    if builder_image is None and not toolchain.has_std(triple):
        raise ToolNotFound(
            f"the toolchain ({toolchain.release}, {toolchain.sysroot}) has no std for {triple}; "
            f"{std_hint(triple)}"
        )
    chef = chefcmd.resolve(settings.chef, settings.cargo)

    def cfg_of(flags: tuple[str, ...]) -> cargo_cfg.Cfgs:
        state = settings.cache_dir / "state"
        return cargo_cfg.target_cfg(toolchain, settings.workspace, triple, flags, state)

    flags = rustflags(recipe, triple, cfg_of)
    linker = _linker(settings, arch, recipe, triple, lambda: cfg_of(tuple(flags)))
    outside = sorted({m.relative_path for m in recipe.manifests if is_outside(m.relative_path)})
    if outside and chef == "cargo-chef":
        raise ConfigError(
            f"path crates outside the workspace ({', '.join(outside)}) need chef = builtin: "
            "cargo-chef cannot carry them (cargo-chef #4)"
        )
    patched = sorted(cleanup.patched_dirs(recipe))
    if patched and chef == "cargo-chef":
        raise ConfigError(
            f"path patches ({', '.join(patched)}) need chef = builtin: cargo-chef cooks them as "
            "stubs, which breaks the crates that depend on them (cargo-chef #64)"
        )
    if settings.bins:  # `--bin X` and `-p X` of one recipe build different sets of crates
        extra["selection"] = sorted(settings.bins)
    if work != "build":  # tests need dev-dependencies, check and clippy metadata builds
        extra["work"] = work
    if patched:  # they are cooked from their real sources: what they hold is a key input
        extra["patched_sources"] = sources_digest(settings.workspace, patched)
    std_source = toolchain.std_source(triple)
    if std_source:  # a std galley built from source (its builder image's ID is an input too)
        extra["std_source"] = std_source
    manifest = cachekey.key_manifest(
        recipe=recipe.digest(),
        rustc=toolchain.rustc,
        cargo=toolchain.cargo,
        target=triple,
        libc=str(settings.libc(arch)),
        profile=settings.profile,
        features={
            "features": list(split_features(settings.features)),
            "no_default_features": settings.no_default_features,
            "all_features": settings.all_features,
        },
        env=cachekey.env_inputs(triple),
        rustflags=flags,
        linker=linker,
        chef=chef,
        builder_image=builder_image,
        **extra,
    )
    return Plan(
        settings, arch, triple, recipe, toolchain, chef, linker, manifest,
        cachekey.cache_key(manifest), layout.of(recipe, settings.workspace, settings.extra_sources),
        work,
    )  # fmt: skip


def std_hint(triple: str) -> str:
    """How to get a std for `triple` the local backend can use, or where galley builds one."""
    if triple.endswith("-musl"):
        return (
            f"install it (rustup target add {triple}) or use --backend docker (its builders "
            f"build std from Debian's rust-web-src for {' and '.join(arches.MUSL_ARCHES)})"
        )
    return (
        "install it (rustup target add, or Debian's libstd-rust-web-dev:<arch>) or use "
        "--backend docker"
    )


def sources_digest(workspace: Path, relative_dirs: list[str]) -> str:
    """sha256 over the path and content of every file in the dirs (as the mirror copies them)."""
    digest = hashlib.sha256()
    for relative in relative_dirs:
        for here, files in sync.walk(workspace / relative):
            for name in files:
                path = here / name
                relative_path = os.path.relpath(path, workspace)  # `../` for one outside
                digest.update(f"{relative_path}\0".encode())
                digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _linker(
    settings: Settings,
    arch: Arch,
    recipe: Recipe,
    triple: str,
    target_cfg: Callable[[], cargo_cfg.Cfgs],
) -> str | None:
    """galley.toml's `[arch.X] linker`; else none when the workspace's `.cargo/config.toml`
    names one for the target (`[target.<triple>]` or a `[target.'cfg(..)']` matching
    `target_cfg()`, asked only then: cargo reads it there, and the recipe, part of the key,
    carries it); else the arch table's cross gcc (none for the host)."""
    override = settings.arch_overrides.get(arch.name)
    if override and override.linker:
        return override.linker
    config = _config(recipe)
    target = config.get("target", {})
    tables = [target.get(triple, {})] if isinstance(target, dict) else []
    if cargo_cfg.has_cfg_tables(config, "linker"):
        tables += cargo_cfg.matching_tables(config, target_cfg())
    configured = any(isinstance(t, dict) and isinstance(t.get("linker"), str) for t in tables)
    return None if configured else settings.linker(arch)


def rustflags(recipe: Recipe, triple: str, cfg_of: CfgQuery) -> list[str]:
    """The user's rustflags for the target, as cargo picks them: CARGO_ENCODED_RUSTFLAGS or
    RUSTFLAGS when set (even empty); else `target.<triple>.rustflags` joined with those of every
    `[target.'cfg(..)']` table that matches the cfg rustc gives under the flags found so far
    (one round, as cargo keeps); else `build.rustflags`. A config list is joined with its
    variable (CARGO_TARGET_<TRIPLE>_RUSTFLAGS, CARGO_BUILD_RUSTFLAGS). galley passes rustflags
    through CARGO_ENCODED_RUSTFLAGS, which hides every later source from cargo: hence this."""
    if "CARGO_ENCODED_RUSTFLAGS" in os.environ:
        encoded = os.environ["CARGO_ENCODED_RUSTFLAGS"]
        return encoded.split("\x1f") if encoded else []
    if "RUSTFLAGS" in os.environ:
        return [flag.strip() for flag in os.environ["RUSTFLAGS"].split(" ") if flag.strip()]
    config = _config(recipe)
    target = config.get("target", {}) if isinstance(config.get("target"), dict) else {}
    variable = cachekey.target_variable(triple, "RUSTFLAGS")
    own = _flag_list(target.get(triple), f"target.{triple}", variable)
    build = _flag_list(config.get("build"), "build", "CARGO_BUILD_RUSTFLAGS")
    if not cargo_cfg.has_cfg_tables(config, "rustflags"):
        return own or build
    tables = cargo_cfg.matching_tables(config, cfg_of(tuple(own or build)))
    return own + [flag for table in tables for flag in _flag_list(table, "target.cfg")] or build


def _flag_list(table: object, where: str, variable: str | None = None) -> list[str]:
    """A table's `rustflags` (a list, or a string split on spaces), then the variable's."""
    value = table.get("rustflags", []) if isinstance(table, dict) else []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(flag, str) for flag in value):
        raise ConfigError(f"{where}.rustflags in .cargo/config.toml must be a list of strings")
    return [*value, *(os.environ.get(variable, "").split() if variable else [])]


def _config(recipe: Recipe) -> dict[str, Any]:
    if not recipe.config_file:
        return {}
    try:
        return tomllib.loads(recipe.config_file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f".cargo/config.toml of the workspace is not TOML ({exc})") from None
