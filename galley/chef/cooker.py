"""`cook`: write the skeleton, compile the dependencies with cargo, clean the local crates."""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from galley import shell, sync
from galley.chef import cleanup, skeleton
from galley.chef.recipe import Recipe
from galley.chef.workspace import is_outside
from galley.errors import ConfigError, RecipeError

DUMMIES_FILE = ".galley-dummies.json"
#: Set by galley for its galley-chef cooks: the workspace whose path patches are cooked for real.
PATCH_SOURCES = "GALLEY_CHEF_PATCH_SOURCES"
#: The directory above the cook dir that a `../` manifest (a path crate outside the workspace)
#: may be written into; unset, the skeleton stays in the cook dir.
SKELETON_ROOT = "GALLEY_CHEF_SKELETON_ROOT"


@dataclass(frozen=True)
class CookOptions:
    """cargo-chef 0.1.77's cook flags (see `cargo_args` for how each reaches cargo)."""

    release: bool = False
    profile: str | None = None
    check: bool = False
    clippy: bool = False
    zigbuild: bool = False
    no_build: bool = False
    no_std: bool = False
    targets: tuple[str, ...] = ()
    target_dir: Path | None = None
    no_default_features: bool = False
    all_features: bool = False
    features: tuple[str, ...] = ()
    unstable_flags: tuple[str, ...] = ()
    benches: bool = False
    tests: bool = False
    examples: bool = False
    all_targets: bool = False
    manifest_path: str | None = None
    packages: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    all_bins: bool = False
    workspace: bool = False
    offline: bool = False
    frozen: bool = False
    locked: bool = False
    verbose: int = 0
    timings: bool = False
    jobs: int | None = None
    env: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.release and self.profile:
            raise ConfigError("--release and --profile cannot be used together")
        if sum((self.check, self.clippy, self.zigbuild, self.no_build)) > 1:
            raise ConfigError("--check, --clippy, --zigbuild and --no-build exclude each other")
        if self.jobs is not None and self.jobs < 1:
            raise ConfigError("--jobs must be a positive number")

    @property
    def subcommand(self) -> str:
        if self.check:
            return "check"
        if self.clippy:
            return "clippy"
        return "zigbuild" if self.zigbuild else "build"

    @property
    def profile_dir(self) -> str:
        """The directory cargo uses for the selected profile."""
        if self.release or self.profile in ("release", "bench"):
            return "release"
        if self.profile in (None, "dev", "test"):
            return "debug"
        return str(self.profile)


@dataclass(frozen=True)
class CookResult:
    """What a cook did: the cargo command, where it built, and the dummies it removed."""

    argv: tuple[str, ...]
    target_dir: Path
    dummies: dict[str, str]
    seconds: float


def split_features(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`--features "a b,c"` → ("a", "b", "c"), sorted and deduplicated (cargo-chef's is not)."""
    found = {item for value in values for item in value.replace(",", " ").split() if item}
    return tuple(sorted(found))


def cargo_args(options: CookOptions) -> list[str]:
    """The cargo arguments, in cargo-chef's order."""
    args = [options.subcommand]
    if options.release or options.profile == "release":
        args.append("--release")
    elif options.profile and options.profile != "dev":
        args += ["--profile", options.profile]
    args += ["--no-default-features"] if options.no_default_features else []
    features = split_features(options.features)
    args += ["--features", ",".join(features)] if features else []
    args += ["--all-features"] if options.all_features else []
    for flag in options.unstable_flags:
        args += ["-Z", flag]
    for triple in options.targets:
        args += ["--target", triple]
    if options.target_dir:
        args += ["--target-dir", str(options.target_dir)]
    for enabled, flag in (
        (options.benches, "--benches"),
        (options.tests, "--tests"),
        (options.examples, "--examples"),
        (options.all_targets, "--all-targets"),
    ):
        args += [flag] if enabled else []
    if options.manifest_path:
        args += ["--manifest-path", options.manifest_path]
    for package in options.packages:
        args += ["--package", package]
    for name in options.bins:
        args += ["--bin", name]
    for enabled, flag in (
        (options.workspace, "--workspace"),
        (options.offline, "--offline"),
        (options.frozen, "--frozen"),
        (options.locked, "--locked"),
    ):
        args += [flag] if enabled else []
    args += ["--verbose"] * options.verbose
    args += ["--timings"] if options.timings else []
    args += ["--bins"] if options.all_bins else []
    args += ["--jobs", str(options.jobs)] if options.jobs else []
    return args


def cook(recipe: Recipe, directory: Path, options: CookOptions) -> CookResult:
    """Write the skeleton into `directory`, build its dependencies, then clean local crates."""
    files = skeleton.plan(recipe, no_std=options.no_std)
    directory.mkdir(parents=True, exist_ok=True)
    within_text = os.environ.get(SKELETON_ROOT)
    within = Path(within_text) if within_text else None
    skeleton.write(files, directory, within)
    patches_are_real = copy_patch_sources(recipe, directory, os.environ.get(PATCH_SOURCES), within)
    copy_vendored_dirs(recipe, directory, os.environ.get(PATCH_SOURCES))
    target_dir = resolve_target_dir(recipe, directory, options)
    if options.no_build:
        return CookResult((), target_dir, {}, 0.0)
    program, env = _cargo(recipe, options)
    argv = [program, *cargo_args(options)]
    started = time.monotonic()
    shell.run(argv, cwd=directory, env=env)
    seconds = time.monotonic() - started
    dummies = cleanup.clean(target_dir, recipe, with_patched=not patches_are_real)
    _record_dummies(target_dir, dummies)
    return CookResult(tuple(argv), target_dir, dummies, seconds)


def copy_patch_sources(
    recipe: Recipe, directory: Path, workspace: str | None, within: Path | None = None
) -> bool:
    """Put the real sources of the recipe's path patches from `workspace` over their stubs in
    the skeleton at `directory`; whether there were any. galley's own cooks pass the workspace
    (PATCH_SOURCES for galley-chef): a stub would break every crate depending on the patched
    one (cargo-chef #64). A plain recipe cook keeps the stubs, like cargo-chef. Like the
    skeleton, a patch lands only below `within` (default `directory`), through no symlink."""
    patched = cleanup.patched_dirs(recipe)
    if not workspace or not patched:
        return False
    root = (within or directory).resolve()
    for relative in sorted(patched):
        source, placed = Path(workspace) / relative, skeleton.place(directory, within, relative)
        if not source.is_dir():
            raise RecipeError(f"{relative}: the path patch is not a directory in {workspace}")
        skeleton.check_inside(root, placed, is_dir=True)
        sync.mirror(source, root / placed)
    return True


def vendored_dirs(recipe: Recipe) -> list[str]:
    """Workspace-relative dirs of the `directory` and `local-registry` sources that the
    workspace's cargo config names inside the workspace (the `vendor/` of `cargo vendor`)."""
    found = {path for _, path in _local_sources(recipe) if not _leaves(path)}
    return sorted(found - {"."})


def outside_sources(recipe: Recipe) -> list[str]:
    """Names of the `directory` and `local-registry` sources that the workspace's cargo config
    puts outside the workspace (`/opt/vendor`, `../vendor`): a docker build cannot see them."""
    return sorted({name for name, path in _local_sources(recipe) if _leaves(path)})


def _local_sources(recipe: Recipe) -> list[tuple[str, str]]:
    """(name, normalised path) of the config's `directory` and `local-registry` sources."""
    try:
        config = tomllib.loads(recipe.config_file or "")
    except tomllib.TOMLDecodeError:
        return []
    sources = config.get("source")
    found = []
    for name, table in sources.items() if isinstance(sources, dict) else ():
        for kind in ("directory", "local-registry"):
            path = table.get(kind) if isinstance(table, dict) else None
            if isinstance(path, str) and path:
                found.append((name, os.path.normpath(path)))
    return found


def _leaves(path: str) -> bool:
    return os.path.isabs(path) or is_outside(path)


def copy_vendored_dirs(recipe: Recipe, directory: Path, workspace: str | None) -> None:
    """Put the workspace's vendored sources (see vendored_dirs) from `workspace` into the
    skeleton at `directory`, where the carried cargo config looks for them. galley's own cooks
    pass the workspace; a plain recipe cook expects them there already, like cargo-chef."""
    if not workspace:
        return
    for relative in vendored_dirs(recipe):
        if (Path(workspace) / relative).is_dir():
            sync.mirror(Path(workspace) / relative, directory / relative)


def resolve_target_dir(recipe: Recipe, directory: Path, options: CookOptions) -> Path:
    """--target-dir, else $CARGO_TARGET_DIR, else `build.target-dir` of the carried config."""
    configured = options.target_dir or options.env.get("CARGO_TARGET_DIR")
    configured = configured or os.environ.get("CARGO_TARGET_DIR") or _config_target_dir(recipe)
    return (directory / (configured or "target")).absolute()


def _config_target_dir(recipe: Recipe) -> str | None:
    if not recipe.config_file:
        return None
    try:
        build = tomllib.loads(recipe.config_file).get("build", {})
    except tomllib.TOMLDecodeError:
        return None
    value = build.get("target-dir") if isinstance(build, dict) else None
    return value if isinstance(value, str) else None


def _cargo(recipe: Recipe, options: CookOptions) -> tuple[str, dict[str, str | None]]:
    """Which cargo to run. With a toolchain file we go through the rustup proxy and drop
    RUSTUP_TOOLCHAIN, so the file is honoured (cargo-chef #271)."""
    env: dict[str, str | None] = dict(options.env)
    if recipe.rust_toolchain_file is not None:
        env["RUSTUP_TOOLCHAIN"] = None
        return "cargo", env
    return env.get("CARGO") or os.environ.get("CARGO") or "cargo", env


def _record_dummies(target_dir: Path, dummies: dict[str, str]) -> None:
    if target_dir.is_dir():
        text = json.dumps(dummies, indent=1, sort_keys=True) + "\n"
        (target_dir / DUMMIES_FILE).write_text(text, encoding="utf-8")
