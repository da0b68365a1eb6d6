"""`galley.toml` and the task flags → Settings, by the option table (galley/options.py).

The file is found from the cwd upward (or given with --config); a flag given to a task
overrides the file. Unknown keys and bad values are one ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from galley import toml_io
from galley.errors import ConfigError, GalleyError
from galley.options import Option, Settings

FILE_NAME = "galley.toml"
_MISSING = object()


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
    """Settings from `path`, or the galley.toml found from `start` (cwd), or the defaults (the
    root then being the cargo workspace around `start`)."""
    here = (start or Path.cwd()).absolute()
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    path = path or find(here)
    if path is None:
        return from_table({}, cargo_workspace_root(here) or here, FILE_NAME)
    try:
        table = toml_io.load(path, str(path))
    except GalleyError as exc:
        raise ConfigError(str(exc)) from None
    return from_table(table, path.parent.absolute(), str(path))


def from_table(table: Mapping[str, Any], root: Path, origin: str) -> Settings:
    """Settings from a parsed galley.toml whose directory is `root`."""
    keyed = [option for option in Settings.options() if option.key]
    keys = {str(key) for option in keyed for key in (option.key, option.old_key) if key}
    _check_keys(table, keys, origin)
    values = {}
    for option in keyed:
        key = str(option.key)
        if option.old_key and _lookup(table, key) is _MISSING:
            key = option.old_key  # the key it had before
        found = _lookup(table, key)
        where = f"{origin}: {key}"
        values[option.name] = (
            option.default_for(root) if found is _MISSING else option.parse(found, where, root)
        )
    return Settings(root, values)


def with_flags(settings: Settings, task: str, flags: Mapping[str, Any]) -> Settings:
    """`settings` with the flags given to `task` (by the task function's parameter names)
    applied: a value, a switch that is on, a repeatable flag given at least once. A docker flag
    chooses the docker backend under `auto` and is an error under `local`; `--push` needs a
    registry."""
    changes: dict[str, Any] = {}
    given: list[Option[Any]] = []
    for option in Settings.options():
        if task not in option.tasks or option.kwarg not in flags:
            continue
        value = flags[option.kwarg]
        if value is None or value is False or value == []:
            continue
        changes[option.name] = option.parse(value, f"--{option.flag}", Path.cwd())
        given.append(option)
    settings = settings.replace(**changes)
    return _docker_choice(settings, [option for option in given if option.docker])


def _docker_choice(settings: Settings, docker_flags: list[Option[Any]]) -> Settings:
    if docker_flags and settings.backend == "local":
        flag = docker_flags[0].flag
        raise ConfigError(f"--{flag} is for the docker backend, not with --backend local")
    if docker_flags and settings.backend == "auto":
        settings = settings.replace(backend="docker")
    if settings.backend == "docker" and settings.push and not settings.registry:
        raise ConfigError("push needs a registry: --registry HOST[:PORT] or docker.registry")
    return settings


def _lookup(table: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key (`docker.registry`), or _MISSING."""
    section, _, name = key.rpartition(".")
    if section:
        table = table.get(section, {})
    return table.get(name, _MISSING)


def _check_keys(table: Mapping[str, Any], keys: set[str], origin: str) -> None:
    """Every key of the file is an option's (or a section of them, which must be a table)."""
    sections = {key.split(".")[0] for key in keys if "." in key}
    _known(table, {key.split(".")[0] for key in keys}, origin)
    for section in sorted(sections & set(table)):
        if not isinstance(table[section], dict):
            raise ConfigError(f"{origin}: [{section}] must be a table")
        names = {key.split(".", 1)[1] for key in keys if key.startswith(f"{section}.")}
        _known(table[section], names, f"{origin}: [{section}]")


def _known(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )
