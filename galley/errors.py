"""Typed user-facing errors. Each carries an exit code; the CLIs print one line and exit."""

from __future__ import annotations

import re


class GalleyError(Exception):
    """Base of every error that is the user's to fix (or the environment's), not a bug."""

    exit_code = 1

    def __str__(self) -> str:
        return " ".join(str(arg) for arg in self.args) or self.__class__.__name__


class ConfigError(GalleyError):
    """Bad configuration value, unknown key, bad flag combination."""

    exit_code = 2


class RecipeError(GalleyError):
    """A recipe is malformed or unsafe (paths outside the cook dir, wrong types)."""

    exit_code = 3


class WorkspaceError(GalleyError):
    """The Rust workspace cannot be read (missing or malformed manifests)."""

    exit_code = 4


class ToolNotFound(GalleyError):
    """An external program is not installed."""

    exit_code = 5


class CommandFailed(GalleyError):
    """An external program ran and failed."""

    exit_code = 6

    def __init__(self, argv: list[str], code: int, tail: str = "") -> None:
        super().__init__(argv, code, tail)
        self.argv = argv
        self.code = code
        self.tail = tail

    def __str__(self) -> str:
        """`<program> exited with <code>: <the last error line>[: <its last cause>]`."""
        lines = [_BUILDKIT_STEP.sub("", line).strip() for line in self.tail.splitlines()]
        lines = [line for line in lines if line]
        errors = [i for i, line in enumerate(lines) if _is_error(line)]
        # what failed inside a docker build step, rather than BuildKit's "executor failed"
        errors = [i for i in errors if "executor failed" not in lines[i]] or errors
        if not lines:
            return f"{self.argv[0]} exited with {self.code}"
        pick = errors[-1] if errors else len(lines) - 1
        cause = _last_cause(lines[pick + 1 :])
        line = _FAILED_STEP.sub(r"\1[...]", lines[pick])  # not the whole RUN script again
        return f"{self.argv[0]} exited with {self.code}: {line}" + (f": {cause}" if cause else "")


def _is_error(line: str) -> bool:
    """cargo's and rustc's `error…` lines, and apt's `E: …` (in builder image builds)."""
    return line.lower().startswith("error") or line.startswith("E: ")


def _last_cause(lines: list[str]) -> str | None:
    """The innermost of cargo's `Caused by:` entries after an error line (up to where BuildKit's
    summary or another error starts), e.g. why `failed to sync`."""
    cause = None
    for number, line in enumerate(lines):
        if line.startswith("------") or line.lower().startswith("error"):
            break
        if line == "Caused by:" and number + 1 < len(lines):
            cause = lines[number + 1]
    return cause


#: The prefix BuildKit's plain progress puts on a step's output: `#11 0.188 `.
_BUILDKIT_STEP = re.compile(r"^#\d+ \d+(\.\d+)? ")
#: BuildKit's summary of a failed step, which quotes the step's whole command.
_FAILED_STEP = re.compile(r"(executor failed running )\[.*\]")


class CacheError(GalleyError):
    """The cache store is unusable (corrupt entry that cannot be quarantined, disk full...)."""

    exit_code = 7


class DockerError(GalleyError):
    """The docker daemon, an image or the registry is not usable."""

    exit_code = 8


class VerifyFailed(GalleyError):
    """`verify` found a problem; the report has already been printed."""

    exit_code = 9


class TestsFailed(GalleyError):
    """`galley test`: the tests were built and ran, and some failed (their output was shown)."""

    exit_code = 10


def error_line(text: str) -> str:
    """How every user error reads on stderr, from the tasks and from the command-line parser."""
    return f"galley: error: {text}"


def describe_os_error(exc: OSError) -> str:
    """`<reason>: <path>` for a file system error (one line, no traceback)."""
    reason = exc.strerror or exc.__class__.__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{reason}: {' -> '.join(paths)}" if paths else reason


def one_line(text: str) -> str:
    """`text` with what would break or garble its line shown as escapes: control characters
    (a newline in a file name) and the undecodable bytes of a name that is not UTF-8."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    if "\udc80" <= char <= "\udcff":  # a byte Python's file-name decoding could not decode
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


#: The exit status of an error in galley itself (BSD's EX_SOFTWARE).
INTERNAL_ERROR = 70
TRACEBACK_VARIABLE = "GALLEY_TRACEBACK"


def internal_error(exc: BaseException) -> tuple[str, int]:
    """The one line (and exit status) for an error in galley itself, not the user's; with
    GALLEY_TRACEBACK=1 (or `galley --traceback`) the traceback goes to stderr first."""
    import os

    if os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
        import traceback

        traceback.print_exception(exc)
        hint = ""
    else:
        hint = f" ({TRACEBACK_VARIABLE}=1 or --traceback shows where)"
    text = one_line(f"{type(exc).__name__}: {exc}")
    return error_line(f"internal error: {text}{hint}"), INTERNAL_ERROR
