"""The `galley` program's own reading of a plain command line, without importing invoke.

`galley TASK [--flag VALUE | --flag=VALUE | --switch]... [-- ARGS...]`, with the flags of the
option table, reads exactly as invoke reads it (a test compares the two). Anything else (no
task, invoke's own flags, help, an unknown or repeated flag, a flag without its value, a value
that starts with `-`, a second task) is left to invoke's parser, which runs it or says what is
wrong, as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from galley.commands import COMMANDS
from galley.options import Option, Settings


class Parsed(NamedTuple):
    """A command line read: the task, its flags (by parameter name) and what followed `--`,
    joined with spaces as invoke joins it."""

    task: str
    flags: dict[str, Any]
    remainder: str


def parse(argv: list[str]) -> Parsed | None:
    """The command line after the program's name, or None for invoke to read."""
    if not argv or argv[0] not in COMMANDS:
        return None
    task, words = argv[0], argv[1:]
    remainder = ""
    if "--" in words:
        cut = words.index("--")
        words, remainder = words[:cut], " ".join(words[cut + 1 :])
    flags = _flags(task, words)
    return None if flags is None else Parsed(task, flags, remainder)


def _flags(task: str, words: list[str]) -> dict[str, Any] | None:
    """The flags of `task` in `words`, or None where invoke must read them."""
    offered = {o.flag: o for o in Settings.options() if task in o.tasks and o.flag}
    flags: dict[str, Any] = {}
    at = 0
    while at < len(words):
        name, equals, value = words[at].removeprefix("--").partition("=")
        option = offered.get(name) if words[at].startswith("--") else None
        if option is None or (option.kwarg in flags and not option.repeatable):
            return None
        if option.is_switch:
            if equals:
                return None
            flags[option.kwarg] = True
            at += 1
            continue
        if equals and not value:
            return None
        if not equals:
            if at + 1 == len(words) or words[at + 1].startswith("-"):
                return None
            value = words[at + 1]
            at += 1
        at += 1
        _store(flags, option, value)
    return flags


def _store(flags: dict[str, Any], option: Option[Any], value: str) -> None:
    if option.repeatable:
        flags.setdefault(option.kwarg, []).append(value)
    else:
        flags[option.kwarg] = value
