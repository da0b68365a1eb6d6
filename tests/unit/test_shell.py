"""galley.shell: an interrupt stops the whole process group of the running command, not only
the command (cargo, for one, exits on SIGTERM and leaves its compilers running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sh

from galley import interrupts, shell
from galley.errors import CommandFailed
from helpers import kill_processes_mentioning, sigint_at_default


@pytest.fixture
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises Terminated in this process, as in galley's CLIs."""
    previous = signal.getsignal(signal.SIGTERM)
    interrupts.stop_on_sigterm()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.usefixtures("sigterm_unwinds")
@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_an_interrupt_stops_the_children_of_the_command(ignores_sigterm: bool) -> None:
    """A shell that started two sleeps in the background, as cargo starts rustc: after the
    interrupt, none of the three is left, even when they ignore SIGTERM (then SIGKILL)."""
    seconds = f"3600.{uuid.uuid4().int % 10**9}"  # a unique argument, to find them by
    trap = "trap '' TERM; " if ignores_sigterm else ""
    script = f"{trap}sleep {seconds} & sleep {seconds} & wait"
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    with pytest.raises(interrupts.Terminated):
        shell.run(["sh", "-c", script, seconds], echo=False, stop_grace=2)
    took = time.monotonic() - started
    assert kill_processes_mentioning(seconds) == []
    assert (took > 2.5) == ignores_sigterm, took  # SIGKILL only after the grace, only if needed


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    with sigint_at_default():
        yield


@pytest.mark.usefixtures("sigterm_unwinds", "sigint_raises")
@pytest.mark.parametrize(("signum", "exception", "skips_grace"), [
    (signal.SIGINT, KeyboardInterrupt, True),  # Ctrl-C twice: the user does not want to wait
    (signal.SIGTERM, interrupts.Terminated, False),  # the kernel at galley's death: once a thread
])  # fmt: skip
def test_a_second_ctrl_c_skips_the_grace_a_repeated_sigterm_does_not(
    signum: int, exception: type[BaseException], skips_grace: bool
) -> None:
    """Two sleeps that ignore SIGTERM; the signal comes at 1 s and again at 1.5 s, grace 3 s."""
    seconds = f"3600.{uuid.uuid4().int % 10**9}"
    script = f"trap '' TERM; sleep {seconds} & sleep {seconds} & wait"
    for delay in (1.0, 1.5):
        threading.Timer(delay, os.kill, (os.getpid(), signum)).start()
    started = time.monotonic()
    with pytest.raises(exception):
        shell.run(["sh", "-c", script, seconds], echo=False, stop_grace=3)
    took = time.monotonic() - started
    assert kill_processes_mentioning(seconds) == []
    assert (took < 3.5) == skips_grace, took  # SIGKILL at the second signal, or after 1 + 3 s


def test_a_command_that_reads_stdin_gets_end_of_file() -> None:
    """galley gives its commands no input: one that reads stdin (a build script, `cat`) ends,
    streamed or captured. Left to sh, stdin was a queue that a streamed command waited on for
    ever (and every streamed command's end waited 0.1 s for the queue's thread). A child
    Python, so that a hang fails the test instead of hanging it."""
    script = (
        "import io\n"
        "from galley import shell\n"
        "out = io.StringIO()\n"
        "shell.run(['sh', '-c', 'cat; echo streamed'], stream=out, echo=False)\n"
        "print(out.getvalue() + shell.capture(['sh', '-c', 'cat; echo captured']), end='')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "streamed\ncaptured\n"), done.stderr


def test_a_working_directory_that_is_gone_is_one_line() -> None:
    """What fails between fork and exec is the child's own error, as CommandFailed: streamed,
    captured, or started in the background."""
    gone = f"/nonexistent-{uuid.uuid4().hex}"
    for call in (
        lambda: shell.run(["true"], cwd=gone, echo=False),
        lambda: shell.capture(["true"], cwd=gone),
        lambda: shell.start_captures([["true"]], cwd=gone),
    ):
        with pytest.raises(CommandFailed) as caught:
            call()
        assert str(caught.value) == (
            f"true exited with 255: FileNotFoundError: [Errno 2] No such file or directory: "
            f"'{gone}'"
        )


def test_queries_started_together_answer_in_order() -> None:
    """start_captures returns while its commands run; wait gives each one's stdout, in order,
    and the first that fails raises."""
    started = time.monotonic()
    running = shell.start_captures([["sh", "-c", "sleep 0.5; echo one"], ["echo", "two"]])
    assert time.monotonic() - started < 0.4
    assert running.wait() == ["one\n", "two\n"]
    with pytest.raises(CommandFailed, match="sh exited with 3"):
        shell.start_captures([["sh", "-c", "exit 3"], ["sleep", "5"]]).wait()


def test_queries_started_before_one_that_cannot_start_are_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fake, for a fault this test cannot cause for the second query alone (fork failing
    with EAGAIN): its start raises. The first query, a long sleep, is stopped, not left behind."""
    started: list[sh.RunningCommand] = []
    real_start = shell._start

    def start_once(program: sh.Command, args: list[str], **options: object) -> sh.RunningCommand:
        if started:
            raise CommandFailed(args, 255, "BlockingIOError: [Errno 11] Resource unavailable")
        started.append(real_start(program, args, **options))
        return started[0]

    monkeypatch.setattr(shell, "_start", start_once)
    with pytest.raises(CommandFailed, match="Resource unavailable"):
        shell.start_captures([["sleep", "30"], ["true"]])
    assert len(started) == 1 and not started[0].is_alive()
