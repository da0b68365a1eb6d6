"""Crash safety: `kill -9` of a cook at many moments never leaves an entry that looks complete;
the next run cleans the leftovers and succeeds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from galley import shell
from galley.store import Store
from helpers import (
    galley,
    kill_processes_mentioning,
    processes_mentioning,
    results,
    sigint_at_default,
    write_tree,
)

KILL_POINTS = 24  # spread over 0.04..0.9 of a cook; each must land before the cook ends


def _cook_seconds(workspace: Path, cache: Path) -> float:
    started = time.monotonic()
    galley("cook", cwd=workspace, cache=cache)
    return time.monotonic() - started


def _start_cook(workspace: Path, cache: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "galley", "cook"],
        cwd=workspace,
        env={**os.environ, "GALLEY_CACHE_DIR": str(cache)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: killpg reaches galley (its commands
    )  # run in groups of their own, and stop when it dies: see the next tests)


def _assert_only_complete_entries(cache: Path) -> int:
    store = Store(cache)
    entries = cache / "entries"
    names = [p.name for p in entries.iterdir()] if entries.is_dir() else []
    for name in names:
        entry = store.get(name)
        assert entry is not None, f"{name} looks like an entry but has no files.json"
        assert store.problems(entry) == [], f"{name} is published but incomplete"
    return len(names)


@pytest.mark.slow
def test_kill_9_at_many_points(toy: Path, tmp_path: Path) -> None:
    workspace = toy
    probes = ("probe-1", "probe-2")  # the first also warms the page cache: take the faster
    estimate = min(_cook_seconds(workspace, tmp_path / probe) for probe in probes)
    cache = tmp_path / "cache"
    point, attempts = 1, 0
    while point <= KILL_POINTS and attempts < 2 * KILL_POINTS:
        attempts += 1
        started = time.monotonic()
        process = _start_cook(workspace, cache)
        try:
            assert process.wait(timeout=0.9 * estimate * point / KILL_POINTS) == 0
            estimate = min(estimate, time.monotonic() - started)  # faster than thought: again
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            point += 1
        if _assert_only_complete_entries(cache):  # it finished first: start cold again
            shutil.rmtree(cache / "entries")
    assert point > KILL_POINTS, f"only {point - 1} kills landed in {attempts} cooks"
    result = results(galley("cook", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert result["cache"] == "miss"
    assert _assert_only_complete_entries(cache) == 1
    assert list((cache / "tmp").glob(f"{result['key']}.*")) == []
    built = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert built["cache"] == "hit"
    binary = workspace / "dist" / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "hello 41\n"


SLOW_RUSTC = """#!/bin/sh
# cargo's RUSTC_WRAPPER: a compile (not cargo's `rustc -vV` probe) waits 60 s before it runs
# trap '' TERM
case " $* " in *" --out-dir "*) sleep 60 ;; esac
exec "$@"
"""


def _compiling(cache: Path) -> list[int]:
    """rustc at work in the cache: galley → galley-chef → cargo → rustc (its wrapper)."""
    return processes_mentioning(f"--out-dir\0{cache}/")


def _slow_compiling(cache: Path) -> list[int]:
    """The compiles of a cook started by _start_slow_cook (through its wrapper), not those of
    a later cook in the same cache."""
    return sorted(set(_compiling(cache)) & set(processes_mentioning("/bin/slow-rustc\0")))


def _start_slow_cook(
    workspace: Path, cache: Path, compile_ignores_sigterm: bool
) -> subprocess.Popen[str]:
    """Start a cook whose compiles take 60 s longer (SLOW_RUSTC) and return once one runs."""
    wrapper = SLOW_RUSTC.replace("# trap", "trap" if compile_ignores_sigterm else "# trap")
    slow_rustc = write_tree(workspace.parent / "bin", {"slow-rustc": wrapper}) / "slow-rustc"
    slow_rustc.chmod(0o755)
    with sigint_at_default():
        process = subprocess.Popen(
            [sys.executable, "-m", "galley", "cook"], cwd=workspace, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, "GALLEY_CACHE_DIR": str(cache), "RUSTC_WRAPPER": str(slow_rustc)},
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while not _compiling(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None and _compiling(cache), "rustc never ran"
    return process


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code", "said", "compile_ignores_sigterm"), [
    (signal.SIGTERM, 143, "galley: terminated", False),
    (signal.SIGINT, 130, "galley: interrupted", False),
    (signal.SIGTERM, 143, "galley: terminated", True),  # galley-chef must SIGKILL it
])  # fmt: skip
def test_a_signal_to_galley_alone_stops_the_cargo_it_started(
    toy: Path, tmp_path: Path, signum: int, code: int, said: str, compile_ignores_sigterm: bool
) -> None:
    """SIGTERM or SIGINT sent to the galley process only (a supervisor, `kill PID`), not to
    its process group: galley stops galley-chef's process group, galley-chef stops cargo's, so
    no compiler keeps writing into the work dir whose lock galley let go (cargo alone would
    leave its rustc running). Then a new cook succeeds.

    The compile must outlast galley's exit for a leak to show every time, so a RUSTC_WRAPPER
    makes each compile 60 s slower (as a big crate on a slow disk is); the later cook runs
    without it. A compile that ignores SIGTERM is killed after the grace period, by galley-chef
    (galley, which waits longer, must not kill galley-chef first and orphan that compile)."""
    workspace, cache = toy, tmp_path / "cache"
    process = _start_slow_cook(workspace, cache, compile_ignores_sigterm)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code and stderr.strip().splitlines()[-1] == said, stderr[-2000:]
    time.sleep(0.5)
    assert kill_processes_mentioning(str(cache)) == []
    result = results(galley("cook", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert result["cache"] == "miss"
    assert _assert_only_complete_entries(cache) == 1


@pytest.mark.slow
def test_kill_9_of_galley_holds_its_locks_until_what_it_started_is_gone(
    toy: Path, tmp_path: Path
) -> None:
    """SIGKILL to galley (the OOM killer, `kill -9 PID`) runs none of its code. The kernel
    sends galley-chef SIGTERM at its parent's death, and galley-chef stops its cargo; until the
    last of them has exited they still hold galley's locks, so a cook started meanwhile waits
    instead of cooking in the work dir they write to. The compile ignores SIGTERM here: it
    lives on through galley-chef's grace period, and the new cook must wait for its SIGKILL.
    (Before, that cook started at once while the old compile went on for a minute.)"""
    workspace, cache = toy, tmp_path / "cache"
    first = _start_slow_cook(workspace, cache, compile_ignores_sigterm=True)
    first.kill()
    first.communicate()
    second = subprocess.Popen(
        [sys.executable, "-m", "galley", "cook", "--json"], cwd=workspace, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "GALLEY_CACHE_DIR": str(cache)},
    )  # fmt: skip
    deadline = time.monotonic() + 3 * shell.STOP_GRACE_SECONDS
    while _slow_compiling(cache) and time.monotonic() < deadline:
        assert second.poll() is None, "a new cook ran beside what was left of the killed one"
        time.sleep(0.05)
    assert not _slow_compiling(cache), "what galley started outlived it: nobody stopped it"
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr[-2000:]
    waited = [line for line in stderr.splitlines() if line.startswith("galley: waiting for")]
    assert waited and "galley-chef" in waited[0], stderr[-2000:]
    assert results(stdout)[0]["cache"] == "miss"
    assert _assert_only_complete_entries(cache) == 1
    assert kill_processes_mentioning(str(cache)) == []
