"""The one place that runs external commands (through `sh`), always as argument lists.

Output of long commands streams live to stderr (so `--json` keeps stdout clean) while the
last lines are kept for the error message; short queries are captured.

A command outlives no interrupt. Each one runs in its own process group; when galley gets SIGINT
or SIGTERM (`interrupts.stop_on_sigterm` makes the latter unwind like Ctrl-C), it stops that whole
group (SIGTERM, then SIGKILL) and waits until none of it is left before it exits. A group, because
cargo does not pass a signal on: its rustc and build-script children would keep writing into a
cache whose lock galley has let go.

Nor does a command outlive galley itself. Galley killed by SIGKILL runs no code, so the kernel
does it: each command gets SIGTERM when galley dies (PR_SET_PDEATHSIG), which a galley program
such as galley-chef handles as above. And each command holds the locks galley holds
(`filelock.held_descriptors`) until it exits, so no new run enters a directory that what is left
of the killed one still writes to.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import sh

from galley import filelock
from galley.errors import CommandFailed, ToolNotFound
from galley.interrupts import Terminated

TAIL_LINES = 40
STOP_GRACE_SECONDS = 10  # after SIGTERM, before SIGKILL
NESTED_STOP_GRACE_SECONDS = 3 * STOP_GRACE_SECONDS  # for a galley program, whose own stop
# of its command may take twice the grace: killing it sooner would orphan that command's group
POLL_SECONDS = 0.05
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

Result = TypeVar("Result")


def _command(program: str) -> sh.Command:
    try:
        return sh.Command(program)
    except sh.CommandNotFound as exc:
        raise ToolNotFound(f"{program}: command not found") from exc


def _start(program: sh.Command, args: list[str], **options: Any) -> sh.RunningCommand:
    """`args` started by `program` with sh's `options`; what failed between fork and exec (a
    working directory that does not exist) is CommandFailed, its one line the child's error."""
    try:
        started: sh.RunningCommand = program(*args[1:], **options)
    except sh.ForkException as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise CommandFailed(args, 255, lines[-1] if lines else "") from None
    return started


def _environment(env: Mapping[str, str | None] | None) -> dict[str, str]:
    merged = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


@functools.cache
def _prctl() -> Callable[..., int]:
    """libc's prctl, looked up in galley (after a fork, the child must not load libraries)."""
    import ctypes  # only here: 3 ms of every galley start otherwise

    return ctypes.CDLL(None, use_errno=True).prctl


def _in_child(parent: int, prctl: Callable[..., int], descriptors: Sequence[int]) -> None:
    """Set up the forked child before it runs the command: SIGTERM when galley (`parent`)
    dies, and keep the lock files open (sh closes the other descriptors; these it passes on)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # galley died before the line above: the kernel will not tell
        os._exit(128 + signal.SIGTERM)
    for descriptor in descriptors:
        os.set_inheritable(descriptor, True)


def _stdin(data: str | bytes | None) -> str | bytes:
    """What a command reads: `data`, or nothing (end of file at once). Left to sh, stdin is a
    queue whose writer thread polls every 0.1 s, and the command's end waits for that thread:
    0.1 s more for every command whose output streams."""
    return b"" if data is None else data


def _process_options() -> dict[str, Any]:
    """sh options every command runs with (see the module's docstring)."""
    parent, prctl, locks = os.getpid(), _prctl(), filelock.held_descriptors()
    return {
        "_new_group": True,
        "_preexec_fn": lambda: _in_child(parent, prctl, locks),
        "_pass_fds": set(locks),
    }


def which(program: str) -> str | None:
    """Full path of `program` on PATH, or None."""
    found = sh.which(program, _ok_code=[0, 1])
    path = str(found).strip()
    return path or None


def describe(argv: Sequence[str | os.PathLike[str]]) -> str:
    """A copy-pasteable rendering of a command line, for logs."""
    return shlex.join(str(arg) for arg in argv)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str | None] | None = None,
    stream: TextIO | None = None,
    echo: bool = True,
    stdin: str | bytes | None = None,
    stdout_lines: list[str] | None = None,
    stop_grace: float = STOP_GRACE_SECONDS,
    watch: Callable[[str], None] | None = None,
) -> None:
    """Run a command, streaming its merged output line by line to `stream` (stderr).

    With `stdout_lines`, stdout is collected there instead (machine-readable output) and only
    stderr streams. `stop_grace`: how long an interrupted command may take to stop on SIGTERM.
    `watch` sees every streamed line (to pick a summary out of it).
    """
    args = [str(arg) for arg in argv]
    out = stream or sys.stderr
    if echo:
        print(f"+ {describe(args)}", file=out, flush=True)
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def forward(line: str) -> None:
        tail.append(line)
        out.write(line)
        out.flush()
        if watch is not None:
            watch(line)

    outputs: dict[str, Any] = {"_out": forward, "_err_to_out": True}
    if stdout_lines is not None:
        outputs = {"_out": stdout_lines.append, "_err": forward}
    try:
        _wait(
            _start(
                _command(args[0]),
                args,
                _cwd=str(cwd) if cwd else None,
                _env=_environment(env),
                **outputs,
                _tty_out=False,
                _in=_stdin(stdin),
                _decode_errors="replace",
                _bg=True,
                _bg_exc=False,
                **_process_options(),
            ),
            stop_grace,
        )
    except sh.ErrorReturnCode as exc:
        raise CommandFailed(args, exc.exit_code, "".join(tail)) from None
    except sh.SignalException as exc:
        raise CommandFailed(args, -abs(exc.exit_code), "".join(tail)) from None


def capture(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str | None] | None = None,
    ok_codes: Sequence[int] = (0,),
    stdin: str | bytes | None = None,
) -> str:
    """Run a short query and return its stdout (stderr goes into the error on failure)."""
    return capture_together([argv], cwd=cwd, env=env, ok_codes=ok_codes, stdin=stdin)[0]


def capture_together(
    argvs: Sequence[Sequence[str | os.PathLike[str]]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str | None] | None = None,
    ok_codes: Sequence[int] = (0,),
    stdin: str | bytes | None = None,
) -> list[str]:
    """Short queries run at the same time (all started, then each waited for); their stdouts,
    in order. The first that fails raises CommandFailed, the others are stopped."""
    return start_captures(argvs, cwd=cwd, env=env, ok_codes=ok_codes, stdin=stdin).wait()


class Captures:
    """Short queries running in the background (`start_captures`); `wait` gives their stdouts."""

    def __init__(self, commands: list[list[str]], running: list[sh.RunningCommand]) -> None:
        self._commands = commands
        self._running = running

    def wait(self) -> list[str]:
        """Their stdouts, in order, once all have ended. The first that fails raises
        CommandFailed, the others are stopped."""
        found = []
        for number, (args, process) in enumerate(zip(self._commands, self._running, strict=True)):
            try:
                found.append(str(_wait(process, STOP_GRACE_SECONDS)))
            except sh.ErrorReturnCode as exc:
                for other in self._running[number + 1 :]:
                    _stop(other, STOP_GRACE_SECONDS)
                stderr = exc.stderr.decode(errors="replace") if exc.stderr else ""
                raise CommandFailed(args, exc.exit_code, stderr) from None
        return found


def start_captures(
    argvs: Sequence[Sequence[str | os.PathLike[str]]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str | None] | None = None,
    ok_codes: Sequence[int] = (0,),
    stdin: str | bytes | None = None,
) -> Captures:
    """Start short queries, all at once, and return at once: galley goes on with its own work
    while they run. ToolNotFound (before any starts) when a program is missing; when one
    cannot start, those already started are stopped before the error goes on."""
    commands = [[str(arg) for arg in argv] for argv in argvs]
    programs = [_command(args[0]) for args in commands]  # all found before any starts
    options: dict[str, Any] = {
        "_cwd": str(cwd) if cwd else None,
        "_env": _environment(env),
        "_tty_out": False,
        "_ok_code": list(ok_codes),
        "_in": _stdin(stdin),
        "_decode_errors": "replace",
        "_bg": True,
        "_bg_exc": False,
        **_process_options(),
    }
    running: list[sh.RunningCommand] = []
    try:
        for program, args in zip(programs, commands, strict=True):
            running.append(_start(program, args, **options))
    except BaseException:  # one could not start, or an interrupt: none is left running
        for process in running:
            _stop(process, STOP_GRACE_SECONDS)
        raise
    return Captures(commands, running)


def _wait(process: sh.RunningCommand, stop_grace: float) -> sh.RunningCommand:
    """Wait for a command started in the background; when galley is interrupted meanwhile,
    stop the command's process group first, then re-raise."""
    try:
        process.wait()
    except (KeyboardInterrupt, Terminated):
        _stop(process, stop_grace)
        raise
    return process


def _stop(process: sh.RunningCommand, grace: float) -> None:
    """SIGTERM to the command's process group, SIGKILL to what is left of it after `grace`
    (or at once on a second Ctrl-C; a repeated SIGTERM changes nothing: the kernel sends one at
    a parent's death for each of the parent's threads). Returns when no process of the group is
    left, or when SIGKILL has not ended it in `grace` either."""
    group = process.process.pgid  # the command is the group's leader: it has the same id
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    ended = False
    with contextlib.suppress(KeyboardInterrupt):
        ended = _uninterrupted(lambda: _group_ends(process, group, deadline), (Terminated,))
    if not ended:
        _signal_group(group, signal.SIGKILL)
        deadline = time.monotonic() + grace
        _uninterrupted(lambda: _group_ends(process, group, deadline))
    if not process.is_alive():  # never block on a process that SIGKILL could not end
        _uninterrupted(lambda: _reap(process))


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _uninterrupted(
    call: Callable[[], Result],
    interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt, Terminated),
) -> Result:
    """`call()`, called again when one of `interrupts` cuts it short: what is left of a stop is
    waited for all the same (galley's exit follows it)."""
    while True:
        with contextlib.suppress(*interrupts):
            return call()


def _reap(process: sh.RunningCommand) -> None:
    with contextlib.suppress(sh.ErrorReturnCode, sh.SignalException):
        process.wait()  # it stopped, as asked


def _group_ends(process: sh.RunningCommand, group: int, deadline: float) -> bool:
    """Wait until `deadline` (monotonic) for process group `group` to have no running process
    left."""
    while True:
        process.is_alive()  # reaps the leader once it has exited
        if not _live_members(group):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def _live_members(group: int) -> list[int]:
    """Processes of group `group` that have not exited. Zombies do not count: the leader's
    orphans are reaped by init, which in a container may never do it."""
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):  # none left, or none of them ours
        return []
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # after the command name
        except OSError:
            continue  # it ended meanwhile
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(stat.parent.name))
    return members


def succeeds(argv: Sequence[str | os.PathLike[str]], **kwargs: object) -> bool:
    """True when the command exists and exits 0 (a probe)."""
    try:
        capture(argv, **kwargs)  # type: ignore[arg-type]
    except (CommandFailed, ToolNotFound):
        return False
    return True
