"""SIGTERM unwinds like Ctrl-C: `finally` blocks run, locks are let go, and `shell` stops the
command it is waiting for. Kept free of heavy imports: galley-chef installs it first thing."""

from __future__ import annotations

import signal


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt: only the CLIs catch it."""


def stop_on_sigterm() -> None:
    """Make SIGTERM raise Terminated in the main thread."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
