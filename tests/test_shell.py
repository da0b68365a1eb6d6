"""galley.shell: an interrupt stops the whole process group of the running command, not only
the command (cargo, for one, exits on SIGTERM and leaves its compilers running)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from galley import interrupts, shell
from helpers import kill_processes_mentioning


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
