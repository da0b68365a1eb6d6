"""The `galley` program's own command line: its help, its flags, its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from galley.commands import Stop, one_line_errors
from galley.errors import INTERNAL_ERROR, TRACEBACK_VARIABLE


def galley(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "galley", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})}, cwd=Path(__file__).parent,
    )  # fmt: skip


def test_help_offers_galleys_flags_and_tasks_only() -> None:
    shown = galley("--help")
    assert shown.returncode == 0
    for offered in ("--list", "--version", "--help", "--traceback", "--print-completion-script"):
        assert offered in shown.stdout
    for task in ("prepare", "cook", "build", "cache-prune", "verify", "builder-image"):
        assert task in shown.stdout
    for invokes in ("sudo", "pty", "echo", "warn-only", "--dry", "--hide", "command-timeout"):
        assert invokes not in shown.stdout
    assert "-f STRING" not in shown.stdout and "--config" not in shown.stdout


@pytest.mark.parametrize("flag", ["--pty", "--echo", "--warn-only", "--prompt-for-sudo-password"])
def test_invokes_run_flags_are_not_accepted(flag: str) -> None:
    refused = galley(flag, "--list")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"galley: error: no such flag or task: '{flag}' (see `galley --help`)"
    )


def test_a_tasks_help_lists_the_flags_of_the_option_table() -> None:
    shown = galley("build", "--help")
    assert shown.returncode == 0
    for flag in ("--arch", "--registry", "--push", "--dist", "--cache-dir", "--config"):
        assert flag in shown.stdout
    assert "--reproducible" not in shown.stdout  # verify's


def test_version() -> None:
    from galley import __version__

    assert galley("--version").stdout.strip() == f"galley {__version__}"


def _fail_inside() -> None:
    """A fault in galley itself: nothing a user does causes one, so the test raises it."""
    with one_line_errors():
        raise RuntimeError("an unexpected state")


def test_an_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(Stop) as caught:
        _fail_inside()
    assert caught.value.code == INTERNAL_ERROR
    assert str(caught.value.message) == (
        "galley: error: internal error: RuntimeError: an unexpected state "
        f"({TRACEBACK_VARIABLE}=1 or --traceback shows where)"
    )


def test_the_traceback_switch_prints_where(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TRACEBACK_VARIABLE, "1")
    with pytest.raises(Stop) as caught:
        _fail_inside()
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert str(caught.value.message).endswith("RuntimeError: an unexpected state")


def test_a_command_asks_the_toolchain_before_it_loads_the_backends() -> None:
    """The program loads what reads its command line and galley.toml, and what asks the
    toolchain (galley.shell); the backends, the recipe engine and the store load after
    `execute` has started asking, while rustc and cargo answer."""
    loaded = _galley_modules_after("galley.program")
    assert "galley.shell" in loaded and "galley.host_toolchain" in loaded
    for later in ("galley.operations", "galley.backends", "galley.plan", "galley.store"):
        assert later not in loaded


def test_a_local_run_does_not_load_verify_or_prune() -> None:
    """What cook, build and test load with the local backend leaves verify's and prune's
    modules (and the ELF reader) to their own commands."""
    loaded = _galley_modules_after("galley.program, galley.operations, galley.backends.local")
    assert "galley.operations" in loaded and "galley.backends.local" in loaded
    for unused in ("galley.verify", "galley.prune", "galley.elf"):
        assert unused not in loaded


def _galley_modules_after(imports: str) -> list[str]:
    """The galley modules a fresh interpreter has loaded after `import <imports>`."""
    script = (
        f"import sys, {imports}\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('galley.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout.split()
