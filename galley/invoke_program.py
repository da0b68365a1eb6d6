"""invoke's Program over galley's task collection: the `galley` program for the command lines
its own parser (galley/argv.py) leaves to invoke (help, listing, completion, errors)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from invoke.exceptions import ParseError
from invoke.parser.argument import Argument
from invoke.parser.context import to_flag
from invoke.program import Program

from galley import __version__
from galley.errors import TRACEBACK_VARIABLE, error_line
from galley.tasks import ns

#: invoke's words for a flag given without its value: "Flag <Argument: cache_dir> needed value…"
NO_VALUE = re.compile(r"^Flag <Argument: (\w+)\b.*needed value")
#: … and for a token that is no task and no flag of the task: "No idea what '--bogus' is!"
UNKNOWN = re.compile(r"^No idea what (.+) is!$")


#: invoke's own core flags that galley offers: help, listing, version, shell completion.
OFFERED = ("complete", "help", "list", "print-completion-script", "version")


class GalleyProgram(Program):
    """invoke's Program with galley's own core flags (invoke's sudo, pty, echo, warn-only,
    dry-run, runtime-config and such are not offered) and command-line errors that name the
    flag as the user typed it."""

    def core_args(self) -> list[Argument]:
        offered = [a for a in super().core_args() if a.name in OFFERED]
        traceback = Argument(
            names=("traceback",), kind=bool, default=False,
            help=f"After an internal error's line, print its traceback ({TRACEBACK_VARIABLE}=1).",
        )  # fmt: skip
        return [*offered, traceback]

    def parse_core_args(self) -> None:
        """Parse galley's core flags; the ones invoke's own code reads but galley does not
        offer keep their defaults."""
        super().parse_core_args()
        for argument in super().core_args():
            if argument.name not in self.args:
                self.args[argument.name] = argument
        if self.args.traceback.value:
            os.environ[TRACEBACK_VARIABLE] = "1"

    def parse_core(self, argv: list[str] | None) -> None:
        with _plain_parse_errors():
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with _plain_parse_errors():
            super().parse_tasks()


@contextlib.contextmanager
def _plain_parse_errors() -> Iterator[None]:
    try:
        yield
    except ParseError as exc:
        raise ParseError(plain_message(exc), exc.context) from None


def plain_message(error: ParseError) -> str:
    """invoke's message, reworded where it names a flag by its internal representation."""
    message = str(error)
    task = getattr(error.context, "name", None)
    if match := NO_VALUE.match(message):
        return error_line(f"{task or 'galley'} {to_flag(match.group(1))} needs a value")
    if match := UNKNOWN.match(message):
        help_ = f"galley {task} --help" if task else "galley --help"
        return error_line(f"no such flag or task: {match.group(1)} (see `{help_}`)")
    return message


program = GalleyProgram(namespace=ns, version=__version__, name="galley", binary="galley")
