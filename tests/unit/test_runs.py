"""`galley test|check|clippy`: the commands a plan gives, and what a run's output says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from galley import config, errors, runs
from galley.arch import get as arch
from galley.backends.docker import scripts
from galley.cachekey import Toolchain
from galley.chef.planner import prepare
from galley.errors import CommandFailed
from galley.plan import make_plan
from galley.results import ArchResult
from galley.runs import RunReport, check_failed
from helpers import APP_RECIPE as RECIPE
from helpers import write_tree


def test_each_work_cooks_and_runs_its_own_command(tmp_path: Path, toolchain: Toolchain) -> None:
    settings = config.from_table({"bins": ["app"]}, tmp_path, "galley.toml")
    keys = set()
    for work, cook_flag, command in [
        ("build", None, "build"), ("test", "--tests", "test"),
        ("check", None, "check"), ("clippy", None, "clippy"),
    ]:  # fmt: skip
        plan = make_plan(settings, arch("amd64"), RECIPE, toolchain, work=work)  # type: ignore[arg-type]
        cook = plan.cook_options(Path("/t"))
        assert cook.subcommand == ("build" if work == "test" else work)
        assert cook.tests == (cook_flag == "--tests")
        argv = plan.cargo_command(Path("/t"), ["--nocapture"] if work == "test" else [])
        assert argv[0] == command and "--bin" in argv and "--release" in argv
        assert ("--no-fail-fast" in argv) == (work == "test")
        if work == "test":
            assert argv[-2:] == ["--", "--nocapture"]
        keys.add(plan.key)
    assert len(keys) == 4  # each its own cook


def test_only_a_run_keeps_cargos_incremental_setting(tmp_path: Path, toolchain: Toolchain) -> None:
    """Cook and build compile without incremental (their output is cached or shipped); a test,
    check or clippy run compiles the edited crates as a plain `cargo test` does. In the docker
    backend's scripts too."""
    settings = config.from_table({"bins": ["app"]}, tmp_path, "galley.toml")
    for work in ("build", "test", "check", "clippy"):
        plan = make_plan(settings, arch("amd64"), RECIPE, toolchain, work=work)  # type: ignore[arg-type]
        assert plan.cargo_env({})["CARGO_INCREMENTAL"] == "0"  # the cook's
        assert "CARGO_INCREMENTAL=0" in scripts.cook_script(plan, "cross")
        run = plan.cargo_env({}, keep_incremental=True)
        step = scripts.build_script(plan, "cross", True) if work == "build" else (
            scripts.run_script(plan, "cross", True, []))  # fmt: skip
        assert ("CARGO_INCREMENTAL=0" in step) == (work == "build")
        assert "CARGO_INCREMENTAL" not in run


LIBTEST = """\
   Compiling rustjail v3.2.1 (/galley/src/crates/rustjail)
#14 12.5 running 2 tests
#14 12.5 test parses ... ok
#14 12.5 test broken ... FAILED
#14 12.6 test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
test runs_on_the_arch_it_was_built_for ... ok
test result: ok. 3 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s
"""


def test_a_runs_output_gives_its_counts_even_through_buildkit() -> None:
    report = RunReport()
    for line in LIBTEST.splitlines(keepends=True):
        report.watch(line)
    assert (report.passed, report.failed, report.ignored) == (4, 1, 2)
    assert report.failures == ["broken"] and report.compiled == {"rustjail"}
    assert report.details("test")["failed"] == 1
    assert "passed" not in report.details("clippy")


def test_only_failed_tests_make_a_failed_run_a_result() -> None:
    error = CommandFailed(["cargo", "test"], 101, "error: could not compile `app`")
    with pytest.raises(CommandFailed):
        check_failed(error, RunReport())
    report = RunReport(failed=1, failures=["x"])
    check_failed(error, report)  # the tests ran: a result, reported with the others


def test_failed_tests_are_one_line_after_the_report() -> None:
    ok = ArchResult("amd64", "x86_64-unknown-linux-gnu", "k", details={"failed": 0})
    assert runs.tests_failed([ok]) is None
    bad = ArchResult("arm64", "aarch64-unknown-linux-gnu", "k",
                     details={"failed": 4, "failures": ["a", "b", "c", "d"]})  # fmt: skip
    error = runs.tests_failed([ok, bad])
    assert isinstance(error, errors.TestsFailed) and error.exit_code == 10
    assert str(error) == "tests failed: arm64: 4 failed (a, b, c, …)"


THREE_BINARIES = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "tool", "other", "shared"]\n',
    "app/Cargo.toml": '[package]\nname = "app"\nversion = "1.0.0"\n'
    '[dependencies]\nshared = { path = "../shared" }\n',
    "app/src/main.rs": "",
    "tool/Cargo.toml": '[package]\nname = "tool"\nversion = "1.0.0"\n',
    "tool/src/main.rs": "",
    "other/Cargo.toml": '[package]\nname = "other"\nversion = "1.0.0"\n',
    "other/src/main.rs": "",
    "shared/Cargo.toml": '[package]\nname = "shared"\nversion = "1.0.0"\n',
    "shared/src/lib.rs": "",
}


def test_several_binaries_keep_the_union_of_their_closures(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "ws", THREE_BINARIES)
    recipe = prepare(root, bin_names=["app", "tool"])
    kept = {m.relative_path for m in recipe.manifests}
    assert kept == {"Cargo.toml", "app/Cargo.toml", "tool/Cargo.toml", "shared/Cargo.toml"}
    assert prepare(root, bin_names=["tool", "app"]).digest() == recipe.digest()


def test_the_mount_record_is_filtered_by_path(tmp_path: Path) -> None:
    """galley_listed, as the builders' sh and awk run it: the record lines (size, mtime, path
    with spaces) whose path a file lists, or with `unlisted` the others. The cook's record,
    the restore, the retiming and the warm start all filter the record with it."""
    functions = scripts.mount_check_functions()
    listed = tmp_path / "listed"
    listed.write_text("deps/a b.rlib\nbuild/x/out\n")
    record = "10 1.5 deps/a b.rlib\n20 2.5 build/x/out\n30 3.5 deps/c.rlib\n"
    for how, expected in [
        ("", "10 1.5 deps/a b.rlib\n20 2.5 build/x/out\n"),
        ("unlisted", "30 3.5 deps/c.rlib\n"),
    ]:
        script = f"{functions}galley_listed {listed} {how}\n"
        done = subprocess.run(["sh", "-euc", script], input=record, capture_output=True,
                              text=True, check=True)  # fmt: skip
        assert done.stdout == expected
