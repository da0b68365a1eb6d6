"""The installed `galley` program. A plain `galley TASK --flag …` command line is read by
galley's own parser (galley/argv.py) and run without importing invoke; every other one (help,
listing, completion, a line with an error) goes to invoke's Program (galley/invoke_program.py),
which reads it as it always has."""

from __future__ import annotations

import os
import sys

from galley import argv
from galley.commands import Stop, execute
from galley.errors import describe_os_error, error_line

#: The exit status of a program killed by SIGPIPE, as a shell reports it.
BROKEN_PIPE = 128 + 13


def run() -> None:
    """Console-script entry point. When the command has ended, leave without tearing the
    interpreter's objects down one by one (0.03 s, as galley-chef does): by then every file is
    written and closed, every lock let go and every command waited for. A reader that went
    away (`galley --list | head -1`) ends it quietly, as SIGPIPE ends a C program."""
    try:
        parsed = argv.parse(sys.argv[1:])
        code = _command(parsed) if parsed else _invoke()
    except SystemExit as exc:
        code = _status(exc.code)
    except BrokenPipeError:
        code = BROKEN_PIPE
    except OSError as exc:  # invoke's own output (help, list); galley's tasks report theirs
        print(error_line(describe_os_error(exc)), file=sys.stderr)
        code = 1
    code = _flushed(code)
    sys.stderr.flush()
    os._exit(code)


def _command(parsed: argv.Parsed) -> int:
    """Run a command read by galley's parser; its exit status (its line as invoke prints it)."""
    try:
        execute(*parsed)
    except Stop as stop:
        if stop.message:
            print(stop.message, file=sys.stderr)
        return stop.code
    return 0


def _invoke() -> int:
    """Run the command line through invoke's Program."""
    from galley.invoke_program import program

    program.run()
    return 0


def _flushed(code: int) -> int:
    """`code` once stdout is flushed; the broken pipe's status, or an error line and 1, when
    that fails."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return BROKEN_PIPE
    except OSError as exc:
        print(error_line(describe_os_error(exc)), file=sys.stderr)
        return code or 1
    return code


def _status(code: object) -> int:
    """The exit status for `sys.exit(code)`, as the interpreter makes it."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1
