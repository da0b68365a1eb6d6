"""SIGTERM unwinds like Ctrl-C: `finally` blocks run, locks are let go, and `shell` stops the
command it is waiting for. Kept free of heavy imports: galley-chef installs it first thing."""

from __future__ import annotations

import signal


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt: only the CLIs catch it."""


def stop_on_sigterm() -> None:
    """Make the first SIGTERM raise Terminated in the main thread; later ones change nothing.
    The kernel sends a dying parent's death signal once for each of its threads, and a second
    Terminated raised while the first is handled would cut short the stop of a command."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, _stop_under_way)
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)


def _stop_under_way(signum: int, frame: object) -> None:
    """A SIGTERM after the first: the stop it asks for is already under way."""
