"""The invoke task collection: galley's commands (galley/commands.py) as invoke tasks.

Loaded by the repo's `tasks.py` (`invoke cook --arch arm64`) and by the installed `galley`
program when its own parser leaves a command line to invoke (galley/program.py). Each task's
flags are the options of galley/options.py that name it; they override galley.toml. A command
that fails ends as invoke's Exit with its one line and code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task

from galley.commands import COMMANDS, Command, Stop, execute
from galley.options import Option, Settings


class GalleyTask(Task[Any]):
    """An invoke task whose flags are the options offering it (long flags only; a repeatable
    flag needs a value like any other: invoke reads a bare `--arch` as no arch at all, so
    `--arch $UNSET` built the default arch)."""

    def __init__(self, command: Command) -> None:
        self.options = [option for option in Settings.options() if command.name in option.tasks]

        def body(c: Context, **flags: Any) -> None:
            try:
                execute(command.name, flags, c.remainder or "")
            except Stop as stop:
                raise Exit(stop.message, code=stop.code) from None

        body.__doc__ = command.doc
        super().__init__(
            body, name=command.name, positional=[], auto_shortflags=False,
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


ns = Collection(*(GalleyTask(command) for command in COMMANDS.values()))
ns.configure({"run": {"echo": True}})

__all__ = ["ns"]
