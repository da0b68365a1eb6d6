"""Lock files that their holder removes: nobody ever shares the critical section."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from galley import filelock


def test_a_removed_lock_file_never_lets_two_holders_in(tmp_path: Path) -> None:
    """A holds the lock and removes the file as it lets go; B was waiting on that file, C comes
    just after on a new one. B must notice its file is gone and queue behind C (or lead it):
    their critical sections never overlap. (flock on separate opens conflicts even between
    threads of one process, so threads show it.)"""
    path = tmp_path / "locks" / "cook.lock"
    inside: dict[str, tuple[float, float]] = {}

    def hold(name: str, seconds: float, remove: bool = False) -> None:
        with filelock.lock(path, remove=remove):
            entered = time.monotonic()
            time.sleep(seconds)
            inside[name] = (entered, time.monotonic())

    a = threading.Thread(target=hold, args=("a", 0.5, True))
    a.start()
    time.sleep(0.1)
    b = threading.Thread(target=hold, args=("b", 0.5))
    b.start()  # waits on A's file
    a.join()
    time.sleep(0.05)  # B got A's (removed) file by now
    c = threading.Thread(target=hold, args=("c", 0.5))
    c.start()  # makes a new file
    b.join()
    c.join()
    (b_in, b_out), (c_in, c_out) = inside["b"], inside["c"]
    assert b_out <= c_in or c_out <= b_in, inside
    assert inside["a"][1] <= min(b_in, c_in)


def test_discard_keeps_a_held_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with filelock.lock(path, shared=True):
        assert filelock.discard(path) is False and path.exists()
    assert filelock.discard(path) is True and not path.exists()
    assert filelock.discard(path) is True
