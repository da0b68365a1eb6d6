"""galley's commands (prepare, cook, build, test, check, clippy, cache-prune, verify,
builder-image): what each one does with its settings, and how each ends.

Both command lines run them: invoke's (`tasks.py`, galley/tasks.py) and the `galley` program's
own parser (galley/argv.py). Nothing here imports invoke. Every user error ends as one line and
its exit code (`Stop`), never a traceback.

Each command imports galley.operations (and with it the backends, the recipe engine, the
store) in its body: `execute` starts asking the host toolchain first, which then answers while
those modules load.
"""

from __future__ import annotations

import json as jsonlib
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import config, host_toolchain, interrupts, results, runs
from galley.errors import ConfigError, GalleyError, describe_os_error, error_line, internal_error
from galley.options import (
    BUILD,
    CHECK,
    CLIPPY,
    COOK,
    IMAGE,
    PREPARE,
    PRUNE,
    RUNS,
    TEST,
    VERIFY,
    Settings,
)
from galley.units import format_size

CommandBody = Callable[[Settings, list[str]], None]


@dataclass(frozen=True)
class Command:
    """A command: its name, what it runs, and whether it takes arguments after `--`."""

    name: str
    run: CommandBody
    extra: bool = False

    @property
    def doc(self) -> str | None:
        return self.run.__doc__


#: The commands by name, in the order `galley --list` shows them.
COMMANDS: dict[str, Command] = {}
#: The commands that always plan a build: with the local or auto backend, `execute` starts
#: asking the host's Rust for it as soon as their settings are read.
ASKS_HOST_TOOLCHAIN = (COOK, BUILD, *RUNS)


class Stop(Exception):
    """The end of a command that failed: its one line and exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def execute(name: str, flags: Mapping[str, Any], remainder: str) -> None:
    """Run command `name` with its flags (by the option's parameter name; a flag not given
    is absent, None, False or []) and what followed `--` (as invoke joins it)."""
    command = COMMANDS[name]
    with one_line_errors():
        arguments = shlex.split(remainder)
        if arguments and not command.extra:
            raise ConfigError(f"{name} takes no arguments after --")
        path = flags.get("config")
        settings = config.with_flags(config.load(Path(path) if path else None), name, flags)
        if name in ASKS_HOST_TOOLCHAIN and settings.backend != "docker":
            host_toolchain.start(settings.cargo, settings.workspace)
        command.run(settings, arguments)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Every error as one line and its exit code (`Stop`); an unexpected one too, with the
    traceback after it when GALLEY_TRACEBACK=1 (or --traceback) asks for it."""
    interrupts.stop_on_sigterm()
    try:
        yield
    except GalleyError as exc:
        raise Stop(error_line(str(exc)), exc.exit_code) from None
    except OSError as exc:  # a path the user gave that cannot be used
        raise Stop(error_line(describe_os_error(exc)), 1) from None
    except KeyboardInterrupt:
        raise Stop("galley: interrupted", 130) from None
    except interrupts.Terminated:
        raise Stop("galley: terminated", 143) from None
    except Exception as exc:
        message, code = internal_error(exc)
        raise Stop(message, code) from None


def command(name: str, extra: bool = False) -> Callable[[CommandBody], CommandBody]:
    """Register a command named `name`; `extra`: it takes arguments after `--`."""

    def register(run: CommandBody) -> CommandBody:
        COMMANDS[name] = Command(name, run, extra)
        return run

    return register


def _report(name: str, found: list[results.ArchResult], as_json: bool) -> None:
    if as_json:
        results.print_json(found)
    if len(found) > 1 or not as_json:
        results.print_summary(name, found)


@command(PREPARE)
def prepare(settings: Settings, _: list[str]) -> None:
    """Write the workspace's recipe (cargo-chef's recipe.json schema)."""
    from galley import operations

    output = Path(settings.output) if settings.output else None
    print(operations.write_recipe(settings, output))


@command(COOK)
def cook(settings: Settings, _: list[str]) -> None:
    """Cook the dependencies for each arch: a cache hit, or a cook published to the cache."""
    from galley import operations

    _report("cook", operations.cook(settings, explain=settings.explain), settings.json)


@command(BUILD)
def build(settings: Settings, _: list[str]) -> None:
    """Cook if needed, then build the real code on top; outputs in <dist>/<arch>/."""
    from galley import operations

    _report("build", operations.build(settings), settings.json)


@command(TEST, extra=True)
def test(settings: Settings, extra: list[str]) -> None:
    """Cook the dependencies the tests need, then `cargo test` (foreign arches under qemu);
    arguments after -- go to the test binaries."""
    from galley import operations

    found = operations.run(settings, "test", extra)
    _report("test", found, settings.json)
    failed = runs.tests_failed(found)
    if failed:
        raise failed


@command(CHECK)
def check(settings: Settings, _: list[str]) -> None:
    """Cook for `cargo check`, then check the workspace."""
    from galley import operations

    _report("check", operations.run(settings, "check"), settings.json)


@command(CLIPPY, extra=True)
def clippy(settings: Settings, extra: list[str]) -> None:
    """Cook for `cargo clippy`, then lint the workspace; arguments after -- go to clippy
    (`-- -D warnings`)."""
    from galley import operations

    _report("clippy", operations.run(settings, "clippy", extra), settings.json)


@command(PRUNE)
def cache_prune(settings: Settings, _: list[str]) -> None:
    """Remove cache entries by size, age and count per arch; never one in use."""
    from galley import operations

    rows = operations.prune(
        settings, max_size=settings.max_size, older_than=settings.older_than,
        keep=settings.keep, dry_run=settings.dry_run,
    )  # fmt: skip
    operations.print_prune_table(rows, settings.cache_dir)


@command(VERIFY)
def verify(settings: Settings, _: list[str]) -> None:
    """Check recipe freshness, cache integrity, the dependency artifacts in the work dirs and
    build cache mounts, and the built artifacts (ELF arch, no dummies).

    The build flags matter with --reproducible only: the rebuild uses them, as the build did."""
    from galley import operations

    operations.verify(settings, reproducible=settings.reproducible, repair=settings.repair)


@command(IMAGE)
def builder_image(settings: Settings, _: list[str]) -> None:
    """Build, offline, the docker builder image for each arch (debootstrap + Debian Rust)."""
    from galley import operations

    images = operations.builder_image(settings.replace(backend="docker"))
    for image in images:
        print(
            f"galley: builder for {image['arch']}: {image['image']} ({image['builder']}, "
            f"{format_size(image['size'])})",
            file=sys.stderr,
        )
    if settings.json:
        print(jsonlib.dumps(images[0] if len(images) == 1 else {"images": images}))
