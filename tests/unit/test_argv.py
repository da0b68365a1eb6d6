"""galley's own command-line parser reads every command line it takes as invoke reads it, and
leaves every other one to invoke."""

from __future__ import annotations

from typing import Any

import pytest

from galley import argv
from galley.invoke_program import GalleyProgram
from galley.options import TASKS, Option, Settings
from galley.tasks import ns


class Recorder(GalleyProgram):
    """invoke's Program for galley, which records what it would run instead of running it."""

    read: list[tuple[str, dict[str, Any], str]]

    def execute(self) -> None:
        self.read = [(context.name, _given(context.args), self.core.remainder)
                     for context in self.tasks]  # fmt: skip


def _given(arguments: Any) -> dict[str, Any]:
    """The flags given, by the parameter names the task gets them as (invoke also lists the
    others, with None, False or [])."""
    return {
        argument.name: argument.value for argument in arguments.values()
        if argument.value not in (None, False, [])
    }  # fmt: skip


def invoke_reads(words: list[str]) -> tuple[str, dict[str, Any], str]:
    program = Recorder(namespace=ns, name="galley", binary="galley")
    program.run(["galley", *words], exit=False)
    [read] = program.read
    return read


def options(task: str) -> list[Option[Any]]:
    return [o for o in Settings.options() if task in o.tasks and o.flag]


def sample(option: Option[Any]) -> list[str]:
    """Words giving `option` a value in each form invoke reads."""
    flag = f"--{option.flag}"
    if option.is_switch:
        return [flag]
    if option.repeatable:
        return [flag, "arm64", f"{flag}=s390x"]
    return [f"{flag}=a=b"] if option.flag == "config" else [flag, "some value"]


LINES = [
    [task, *words]
    for task in TASKS
    for words in (
        [],
        *([*sample(option)] for option in options(task)),
        [word for option in options(task) for word in sample(option)],
        ["--", "-D", "warnings", "two words"],
        [*sample(options(task)[0]), "--", "--nocapture"],
    )
]


@pytest.mark.parametrize("words", LINES, ids=[" ".join(words) for words in LINES])
def test_a_command_line_reads_as_invoke_reads_it(words: list[str]) -> None:
    parsed = argv.parse(words)
    assert parsed is not None
    assert (parsed.task, parsed.flags, parsed.remainder) == invoke_reads(words)


@pytest.mark.parametrize(
    "words",
    [
        [], ["--help"], ["--list"], ["--version"], ["--traceback", "build"], ["build", "--help"],
        ["build", "-h"], ["bogus"], ["cache_prune"], ["build", "cook"], ["build", "--bogus"],
        ["build", "--arch"], ["build", "--arch", "--json"], ["build", "--json", "--json"],
        ["build", "--json=yes"], ["build", "--arch="], ["build", "--registry", "a", "--registry",
        "b"], ["verify", "--push"], ["build", "arm64"], ["build", "--cache-dir", "-x"],
    ],
    ids=repr,
)  # fmt: skip
def test_anything_else_is_left_to_invoke(words: list[str]) -> None:
    assert argv.parse(words) is None
