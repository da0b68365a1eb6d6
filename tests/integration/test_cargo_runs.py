"""`galley test`, `check` and `clippy` on cooked dependencies, and several binaries at once."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from helpers import EXAMPLE, galley, results, write_tree

#: The example's arch test (examples/agent/crates/rustjail/tests/arch.rs): what uname(2)
#: reports must be the arch the test was built for, natively or under qemu-user.
ARCH_TEST = (EXAMPLE / "crates" / "rustjail" / "tests" / "arch.rs").read_text(encoding="utf-8")

PROBE = {
    "Cargo.toml": '[workspace]\nmembers = ["probe"]\nresolver = "2"\n',
    "probe/Cargo.toml": '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n'
    '[dependencies]\nlibc = "0.2"\n[dev-dependencies]\nlog = "0.4"\n',
    "probe/src/lib.rs": "pub fn pid() -> i32 { unsafe { libc::getpid() } }\n"
    "#[cfg(test)]\nmod tests {\n    #[test]\n    fn pid_is_positive() {\n"
    '        log::debug!("checked");\n        assert!(super::pid() > 0);\n    }\n}\n',
    "probe/tests/arch.rs": ARCH_TEST,
}


def probe(tmp_path: Path, cargo: str, files: dict[str, str] | None = None) -> Path:
    root = write_tree(tmp_path / "probe", {**PROBE, **(files or {})})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)
    return root


def test_tests_of_a_foreign_arch_run_under_qemu(docker: str, tmp_path: Path, cargo: str) -> None:
    """arm64 tests cross-compiled in the builder and run under qemu-user pass; a one-line edit
    of a test is a cook hit that compiles only that crate's tests; forced to expect the wrong
    arch, the same test fails: exit 10, one line, and the counts in --json."""
    unseen = {"Cargo.toml": PROBE["Cargo.toml"] + f'[workspace.metadata]\nrun = "{uuid.uuid4()}"\n'}
    root, cache = probe(tmp_path, cargo, unseen), tmp_path / "cache"  # a recipe no image has
    args = ("test", "--arch", "arm64", "--backend", "docker", "--profile", "dev", "--json")
    first = results(galley(*args, cwd=root, cache=cache).stdout)[0]
    assert first["cache"] == "miss" and first["failed"] == 0 and first["passed"] == 2
    arch_test = root / "probe" / "tests" / "arch.rs"
    arch_test.write_text(
        ARCH_TEST.replace("arch => arch,", '"aarch64" => "x86_64",\n        arch => arch,')
    )
    failed = galley(*args, cwd=root, cache=cache, check=False)
    assert failed.returncode == 10, failed.stderr[-3000:]
    assert failed.stderr.strip().splitlines()[-1] == (
        "galley: error: tests failed: arm64: 1 failed (runs_on_the_arch_it_was_built_for)"
    )
    second = results(failed.stdout)[0]
    assert second["cache"] == "hit" and second["compiled"] == ["probe"]
    assert (second["passed"], second["failed"]) == (1, 1)


def test_check_and_clippy_cook_their_own_dependencies(tmp_path: Path, cargo: str) -> None:
    """check and clippy cook metadata builds of their own (own keys); on top, only the
    workspace is checked; a lint clippy reports is shown, and `-- -D warnings` fails on it."""
    linted = {
        "probe/src/lib.rs": PROBE["probe/src/lib.rs"] + "pub fn one() -> u8 {\n    return 1;\n}\n"
    }
    root, cache = probe(tmp_path, cargo, linted), tmp_path / "cache"
    checked = results(galley("check", "--json", cwd=root, cache=cache).stdout)[0]
    assert checked["cache"] == "miss" and checked["compiled"] == ["probe"]
    linted_run = galley("clippy", "--json", cwd=root, cache=cache)
    clippy = results(linted_run.stdout)[0]
    assert clippy["cache"] == "miss" and clippy["key"] != checked["key"]
    assert "needless_return" in linted_run.stderr
    denied = galley("clippy", "--", "-D", "warnings", cwd=root, cache=cache, check=False)
    assert denied.returncode == 6 and "needless_return" in denied.stderr
    again = results(galley("check", "--json", cwd=root, cache=cache).stdout)[0]
    assert again["cache"] == "hit" and again["key"] == checked["key"]


def test_only_a_run_compiles_the_workspace_incrementally(tmp_path: Path, cargo: str) -> None:
    """`galley test` after an edit compiles the workspace's crates as `cargo test` does, with
    the profile's incremental compilation; the build, whose output is shipped, does not."""
    shipped = {"probe/src/main.rs": 'fn main() {\n    println!("{}", probe::pid());\n}\n'}
    root, cache = probe(tmp_path, cargo, shipped), tmp_path / "cache"
    for task in ("test", "build"):
        galley(task, "--arch", "amd64", "--backend", "local", "--profile", "dev", cwd=root,
               cache=cache)  # fmt: skip

    def sessions(work: str) -> list[str]:
        found = cache / "work" / work / "target" / "x86_64-unknown-linux-gnu" / "debug"
        return sorted(p.name.rsplit("-", 1)[0] for p in (found / "incremental").glob("*"))

    assert "probe" in sessions("amd64-test")
    assert sessions("amd64") == []


def test_build_takes_no_arguments_after_the_dashes(toy: Path, tmp_path: Path) -> None:
    refused = galley("build", "--", "--nocapture", cwd=toy, cache=tmp_path / "cache", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "galley: error: build takes no arguments after --"


THREE = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "tool", "other"]\nresolver = "2"\n',
    "app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
    '[dependencies]\nlibc = "0.2"\n',
    "app/src/main.rs": 'fn main() { println!("app {}", unsafe { libc::getpid() } > 0); }\n',
    "tool/Cargo.toml": '[package]\nname = "tool"\nversion = "0.1.0"\nedition = "2021"\n'
    '[dependencies]\nlog = "0.4"\n',
    "tool/src/main.rs": 'fn main() { println!("tool {}", log::max_level()); }\n',
    "other/Cargo.toml": '[package]\nname = "other"\nversion = "0.1.0"\nedition = "2021"\n'
    '[dependencies]\nanyhow = "1"\n',
    "other/src/main.rs": "fn main() { let _: anyhow::Result<()> = Ok(()); }\n",
}


@pytest.mark.parametrize("where", ["flags", "galley.toml"])
def test_several_binaries_build_together(tmp_path: Path, cargo: str, where: str) -> None:
    root = write_tree(tmp_path / "three", THREE)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)
    flags = ["--bin", "app", "--bin", "tool"] if where == "flags" else []
    if where == "galley.toml":
        (root / "galley.toml").write_text('bins = ["tool", "app"]\n')
    built = results(galley("build", "--json", *flags, cwd=root, cache=tmp_path / "c").stdout)[0]
    assert built["artifacts"] == ["bin/app", "bin/tool", "rootfs.tar"]
    assert built["compiled"] == ["app", "tool"]  # anyhow, only `other` needs it, is not cooked
    recipe = root / "recipe.json"
    galley("prepare", *flags, "--output", str(recipe), cwd=root, cache=tmp_path / "c")
    assert "other/Cargo.toml" not in recipe.read_text() and "anyhow" not in recipe.read_text()
    galley("verify", *flags, cwd=root, cache=tmp_path / "c")
