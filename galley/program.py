"""The installed `galley` program: invoke's Program over galley's task collection."""

from __future__ import annotations

from invoke.program import Program

from galley import __version__
from galley.tasks import ns

program = Program(namespace=ns, version=__version__, name="galley", binary="galley")


def run() -> None:
    program.run()
