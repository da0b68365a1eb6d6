"""The task collection: prepare, cook, build, cache-prune, verify, builder-image.

Loaded by the repo's `tasks.py` (`invoke cook --arch arm64`) and by the installed `galley`
program (same tasks, any Rust repo). Each task's flags are the options of galley/options.py
that name it; they override galley.toml. Every user error ends as one line and a non-zero exit
(invoke's Exit), never a traceback.
"""

from __future__ import annotations

import inspect
import json as jsonlib
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task

from galley import config, interrupts, operations, results, runs
from galley.errors import ConfigError, GalleyError, describe_os_error, error_line, internal_error
from galley.options import CHECK, CLIPPY, IMAGE, PREPARE, PRUNE, TEST, VERIFY, Option, Settings
from galley.units import format_size

TaskBody = Callable[[Settings, list[str]], None]


class GalleyTask(Task[Any]):
    """An invoke task whose flags are the options offering it (long flags only; a repeatable
    flag needs a value like any other: invoke reads a bare `--arch` as no arch at all, so
    `--arch $UNSET` built the default arch)."""

    def __init__(self, name: str, run: TaskBody, extra: bool = False) -> None:
        self.options = [option for option in Settings.options() if name in option.tasks]

        def body(c: Context, **flags: Any) -> None:
            with _one_line_errors():
                arguments = shlex.split(c.remainder or "")
                if arguments and not extra:
                    raise ConfigError(f"{name} takes no arguments after --")
                path = flags.get("config")
                settings = config.load(Path(path) if path else None)
                run(config.with_flags(settings, name, flags), arguments)

        body.__doc__ = run.__doc__
        super().__init__(
            body, name=name, positional=[], auto_shortflags=False,
            iterable=[o.kwarg for o in self.options if o.repeatable],
            help={o.kwarg: o.help for o in self.options},
        )  # fmt: skip

    def argspec(self, body: Callable[..., Any]) -> inspect.Signature:
        """The task's parameters: one per option offering it, without a default value."""
        return inspect.Signature([_parameter(option) for option in self.options])

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            if argument.kind is list:
                argument.raw_value = None  # "no value yet": the parser then demands one
        return arguments


def _parameter(option: Option[Any]) -> inspect.Parameter:
    """The flag's parameter: a switch defaults to False, anything else to None."""
    default = False if option.is_switch else None
    return inspect.Parameter(option.kwarg, inspect.Parameter.KEYWORD_ONLY, default=default)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Every error as one line on stderr and its exit code (invoke's Exit); an unexpected one
    too, with the traceback after it when GALLEY_TRACEBACK=1 (or --traceback) asks for it."""
    interrupts.stop_on_sigterm()
    try:
        yield
    except GalleyError as exc:
        raise Exit(error_line(str(exc)), code=exc.exit_code) from None
    except OSError as exc:  # a path the user gave that cannot be used
        raise Exit(error_line(describe_os_error(exc)), code=1) from None
    except KeyboardInterrupt:
        raise Exit("galley: interrupted", code=130) from None
    except interrupts.Terminated:
        raise Exit("galley: terminated", code=143) from None
    except Exception as exc:
        message, code = internal_error(exc)
        raise Exit(message, code=code) from None


def galley_task(name: str, extra: bool = False) -> Callable[[TaskBody], GalleyTask]:
    """A task named `name`; `extra`: it takes arguments after `--`."""

    def decorate(run: TaskBody) -> GalleyTask:
        return GalleyTask(name, run, extra)

    return decorate


def _report(task_name: str, found: list[results.ArchResult], as_json: bool) -> None:
    if as_json:
        results.print_json(found)
    if len(found) > 1 or not as_json:
        results.print_summary(task_name, found)


@galley_task(PREPARE)
def prepare(settings: Settings, _: list[str]) -> None:
    """Write the workspace's recipe (cargo-chef's recipe.json schema)."""
    output = Path(settings.output) if settings.output else None
    print(operations.write_recipe(settings, output))


@galley_task("cook")
def cook(settings: Settings, _: list[str]) -> None:
    """Cook the dependencies for each arch: a cache hit, or a cook published to the cache."""
    _report("cook", operations.cook(settings, explain=settings.explain), settings.json)


@galley_task("build")
def build(settings: Settings, _: list[str]) -> None:
    """Cook if needed, then build the real code on top; outputs in <dist>/<arch>/."""
    _report("build", operations.build(settings), settings.json)


@galley_task(TEST, extra=True)
def test(settings: Settings, extra: list[str]) -> None:
    """Cook the dependencies the tests need, then `cargo test` (foreign arches under qemu);
    arguments after -- go to the test binaries."""
    found = operations.run(settings, "test", extra)
    _report("test", found, settings.json)
    failed = runs.tests_failed(found)
    if failed:
        raise failed


@galley_task(CHECK)
def check(settings: Settings, _: list[str]) -> None:
    """Cook for `cargo check`, then check the workspace."""
    _report("check", operations.run(settings, "check"), settings.json)


@galley_task(CLIPPY, extra=True)
def clippy(settings: Settings, extra: list[str]) -> None:
    """Cook for `cargo clippy`, then lint the workspace; arguments after -- go to clippy
    (`-- -D warnings`)."""
    _report("clippy", operations.run(settings, "clippy", extra), settings.json)


@galley_task(PRUNE)
def cache_prune(settings: Settings, _: list[str]) -> None:
    """Remove cache entries by size, age and count per arch; never one in use."""
    rows = operations.prune(
        settings, max_size=settings.max_size, older_than=settings.older_than,
        keep=settings.keep, dry_run=settings.dry_run,
    )  # fmt: skip
    operations.print_prune_table(rows, settings.cache_dir)


@galley_task(VERIFY)
def verify(settings: Settings, _: list[str]) -> None:
    """Check recipe freshness, cache integrity, the dependency artifacts in the work dirs and
    build cache mounts, and the built artifacts (ELF arch, no dummies).

    The build flags matter with --reproducible only: the rebuild uses them, as the build did."""
    operations.verify(settings, reproducible=settings.reproducible, repair=settings.repair)


@galley_task(IMAGE)
def builder_image(settings: Settings, _: list[str]) -> None:
    """Build, offline, the docker builder image for each arch (debootstrap + Debian Rust)."""
    images = operations.builder_image(settings.replace(backend="docker"))
    for image in images:
        print(
            f"galley: builder for {image['arch']}: {image['image']} ({image['builder']}, "
            f"{format_size(image['size'])})",
            file=sys.stderr,
        )
    if settings.json:
        print(jsonlib.dumps(images[0] if len(images) == 1 else {"images": images}))


ns = Collection(prepare, cook, build, test, check, clippy, cache_prune, verify, builder_image)
ns.configure({"run": {"echo": True}})

__all__ = ["ns"]
