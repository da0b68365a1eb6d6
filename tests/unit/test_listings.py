"""Task listings and galley's output streams, without cargo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import (
    REPO,
)


def test_a_reader_gone_or_a_full_disk_under_stdout_ends_galley_without_a_traceback() -> None:
    """`galley --list | head -1`: the reader is gone before galley writes; galley ends as
    SIGPIPE ends a C program (status 141), silently. stdout on a full disk: one line, 1."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        gone = subprocess.run([sys.executable, "-m", "galley", "--list"], stdout=writer,
                              stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(writer)
    assert (gone.returncode, gone.stderr) == (141, "")
    with open("/dev/full", "w") as full:
        for args in (["--list"], ["--version"]):
            failed = subprocess.run([sys.executable, "-m", "galley", *args], stdout=full,
                                    stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
            assert failed.returncode == 1
            assert failed.stderr == "galley: error: No space left on device\n"


def test_task_listings() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for program in (["invoke", "--list"], [sys.executable, "-m", "galley", "--list"]):
        listing = subprocess.run(
            program, cwd=REPO, capture_output=True, text=True, env=env, check=True
        ).stdout
        for name in ("prepare", "cook", "build", "cache-prune", "verify"):
            assert f"  {name} " in listing
    sessions = subprocess.run(
        [sys.executable, "-m", "nox", "-t", "cook", "-l", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert [s["call_spec"]["arch"] for s in json.loads(sessions)] == [
        "amd64",
        "arm64",
        "s390x",
        "ppc64le",
    ]
    for arch, flags in [("arm64", " --arch arm64"), ("amd64 s390x", " --arch amd64 --arch s390x"),
                        ("", "")]:  # fmt: skip
        make = subprocess.run(
            ["make", "-n", "cook", f"ARCH={arch}"], cwd=REPO, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        assert make.stdout.strip() == f".venv/bin/invoke cook{flags}"  # ARCH=: galley.toml's
