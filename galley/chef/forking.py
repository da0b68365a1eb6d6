"""Independent jobs of `prepare` on two CPUs: a forked child runs the second half.

Only results cross the process boundary, through a pipe with `marshal` (built in, so nothing to
import: plain data only); the jobs themselves are closures the child already has. A child that
fails (an error, or a result marshal cannot carry) sends nothing and the parent runs its half
again, so errors are raised in the parent exactly as a serial run would raise them.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

#: Fewer jobs than this are not worth a fork (about a millisecond with the pipe).
MIN_JOBS = 48


def run_split(
    jobs: Sequence[Callable[[], Result]], weights: Sequence[float] | None = None
) -> list[Result]:
    """The results of `jobs`, in order; when that pays, a child runs the jobs after the point
    where half of the total `weight` (estimated cost, default 1 each) is done."""
    if not _fork_pays(len(jobs)):
        return [job() for job in jobs]
    middle = _halfway(weights or [1.0] * len(jobs))
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is the parent's result
        os.close(reader)
        _child(jobs[middle:], writer)
    os.close(writer)
    try:
        first = [job() for job in jobs[:middle]]
    except BaseException:
        import signal

        os.kill(pid, signal.SIGKILL)
        _reap(pid, reader)
        raise
    second = _reap(pid, reader)
    return first + (second if second is not None else [job() for job in jobs[middle:]])


def _fork_pays(count: int) -> bool:
    if count < MIN_JOBS or not hasattr(os, "fork") or _usable_cpus() < 2:
        return False
    threading = sys.modules.get("threading")  # forking a threaded process can deadlock the child
    return threading is None or threading.active_count() == 1


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _halfway(weights: Sequence[float]) -> int:
    half, done = sum(weights) / 2, 0.0
    for index, weight in enumerate(weights):
        done += weight
        if done >= half:
            return index + 1
    return len(weights)


def _child(jobs: Sequence[Callable[[], Any]], writer: int) -> None:
    status = 1
    try:
        payload = marshal.dumps([job() for job in jobs])
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)


def _reap(pid: int, reader: int) -> list[Any] | None:
    """The child's results, or None when it failed."""
    with os.fdopen(reader, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not payload:
        return None
    results: list[Any] = marshal.loads(payload)
    return results
