"""Helpers shared by the tests (importable as `helpers`; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from galley.chef.recipe import Manifest, Recipe, Target, TargetKind

REPO = Path(__file__).resolve().parent.parent
DOCKER = "/usr/bin/docker"  # Debian's client: BuildKit with DOCKER_BUILDKIT=1
REGISTRY = "127.0.0.1:5000"  # the local registry ci/docker/provision.sh starts
EXAMPLE = REPO / "examples" / "agent"
IN_CI = os.environ.get("CI") == "true"


def require(condition: bool, what: str) -> None:
    """Skip when `what` is missing on a developer machine; fail in CI, never skip silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (ci/provision should have installed it)")
    pytest.skip(f"{what} is not available")


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # it ended meanwhile
    return found


def kill_processes_mentioning(text: str) -> list[int]:
    """SIGKILL the processes whose command line contains `text` (so a failing test leaves
    nothing behind); returns their PIDs, for the test to assert on."""
    found = processes_mentioning(text)
    for pid in found:
        os.kill(pid, signal.SIGKILL)
    return found


@contextlib.contextmanager
def sigint_at_default() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here, and children started meanwhile get it at its
    default, even when the runner started the tests with it ignored (`cmd &` in a script):
    galley, like any program, keeps ignoring an inherited ignore, as the shell asked."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # SIG_DFL after exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def galley(
    *args: str, cwd: Path, cache: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `galley` program (as a user would) with `cache` as its cache dir."""
    environ = {**os.environ, "GALLEY_CACHE_DIR": str(cache), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "galley", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr[-5000:]
    return result


def results(output: str) -> list[dict[str, Any]]:
    document = json.loads(output)
    assert list(document) == ["results"]
    return list(document["results"])


def flipped_metadata(rlib: bytes) -> tuple[int, bytes]:
    """(offset, 64 bytes) that flip every bit of 64 bytes near the start of an rlib's metadata
    member, where rustc reads first: what a bad sector or a stray write does there. rustc then
    refuses the crate (`required to be available in rlib format`)."""
    offset = rlib.index(b"lib.rmeta/") + 60 + 16  # past the ar member header and rustc's magic
    return offset, bytes(byte ^ 0xFF for byte in rlib[offset : offset + 64])


def flip_metadata(rlib: Path, keep_mtime: bool) -> None:
    """Flip 64 bytes of the rlib's metadata in place; `keep_mtime`: as a bad sector does (size
    and mtime unchanged), else as a tool writing the file does."""
    before = rlib.stat()
    offset, flipped = flipped_metadata(rlib.read_bytes())
    with rlib.open("r+b") as handle:
        handle.seek(offset)
        handle.write(flipped)
    if keep_mtime:
        os.utime(rlib, ns=(before.st_atime_ns, before.st_mtime_ns))


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Create files (parents included) under root; returns root."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cargo_artifacts(cargo: str, cwd: Path, *args: str) -> list[dict[str, object]]:
    """Run `cargo build --message-format=json ...` and return the compiler-artifact messages."""
    result = subprocess.run(
        [cargo, "build", "--message-format=json", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [m for m in messages if m.get("reason") == "compiler-artifact"]


def package_of(package_id: str) -> tuple[str, bool]:
    """(name, is local) of a cargo package id (`path+file:///x/app#1.0`, `...#log@0.4`)."""
    source, _, fragment = package_id.partition("#")
    name = fragment.split("@")[0] if "@" in fragment else source.rstrip("/").rsplit("/", 1)[-1]
    return name, source.startswith("path+")


def compiled(artifacts: list[dict[str, object]]) -> tuple[set[str], set[str]]:
    """(local, external) names of the packages that were compiled, not fresh."""
    local: set[str] = set()
    external: set[str] = set()
    for message in artifacts:
        if not message["fresh"]:
            name, is_local = package_of(str(message["package_id"]))
            (local if is_local else external).add(name)
    return local, external


DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")


def patched_workspace(root: Path, greeting: str, patch: str = "patched/cfg-if") -> Path:
    """A workspace whose `[patch.crates-io]` points cfg-if at a local copy (from Debian's
    registry) at `patch` (relative to the workspace; `../…` lies outside it) that adds a
    constant; `app` prints it and uses `log`, which depends on cfg-if: a stub of cfg-if would
    break log (cargo-chef #64)."""
    shutil.copytree(DEBIAN_REGISTRY / "cfg-if-1.0.0", root / patch)
    set_patched_greeting(root, greeting, patch)
    return write_tree(root, {
        "Cargo.toml": '[workspace]\nmembers = ["app"]\nresolver = "2"\n'
        f'[patch.crates-io]\ncfg-if = {{ path = "{patch}" }}\n',
        "app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\ncfg-if = "1"\nlog = "0.4"\n',
        "app/src/main.rs": "fn main() {\n"
        '    println!("{} {:?}", cfg_if::GREETING, log::max_level());\n}\n',
    })  # fmt: skip


def set_patched_greeting(root: Path, greeting: str, patch: str = "patched/cfg-if") -> None:
    lib = root / patch / "src" / "lib.rs"
    original = lib.read_text(encoding="utf-8").split("\n/// galley:")[0]
    lib.write_text(
        f'{original}\n/// galley: a greeting\npub const GREETING: &str = "{greeting}";\n'
    )


def vendored_workspace(root: Path, cargo: str, greeting: str, vendor_dir: str = "vendor") -> Path:
    """A crate depending on `log`, vendored as Kata's `make vendor` does: `cargo vendor` into
    `vendor_dir`, its printed source replacement as the workspace's `.cargo/config.toml`."""
    write_tree(root, {
        "Cargo.toml": '[package]\nname = "vendored"\nversion = "0.1.0"\nedition = "2021"\n'
                      '[dependencies]\nlog = "0.4"\n',
        "src/main.rs": f'fn main() {{ println!("{greeting} {{}}", log::max_level()); }}\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)
    printed = subprocess.run(
        [cargo, "vendor", "--respect-source-config", "--offline", vendor_dir],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    write_tree(root, {".cargo/config.toml": printed})
    return root


#: A crate whose binary prints the SOURCE_DATE_EPOCH its build script saw.
EPOCH_CRATE = {
    "Cargo.toml": '[package]\nname = "epoch"\nversion = "0.1.0"\nedition = "2021"\n',
    "build.rs": (
        "fn main() {\n"
        '    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");\n'
        '    let epoch = std::env::var("SOURCE_DATE_EPOCH").unwrap_or_else(|_| "unset".into());\n'
        '    println!("cargo:rustc-env=GALLEY_EPOCH={epoch}");\n'
        "}\n"
    ),
    "src/main.rs": 'fn main() { println!("{}", env!("GALLEY_EPOCH")); }\n',
}


def rootfs_mtimes(rootfs: Path) -> set[int]:
    with tarfile.open(rootfs) as tar:
        return {member.mtime for member in tar.getmembers()}


def outside_crates_repo(root: Path, cargo: str) -> Path:
    """A repository whose Rust workspace (`src/agent`) depends on path crates outside its
    directory, as Kata's agent once did on `../libs`: `../../libs/util`, which depends on
    `../../src/proto`. Returns the workspace; `docs/` and `src/other/` are not sources of it."""
    package = '[package]\nname = "{}"\nversion = "0.1.0"\nedition = "2021"\n'
    write_tree(root, {
        "docs/notes.txt": "not a source\n",
        "src/other/junk.txt": "not a source either\n",
        "src/proto/Cargo.toml": package.format("proto"),
        "src/proto/src/lib.rs": 'pub const WORD: &str = "one";\n',
        "libs/util/Cargo.toml": package.format("util")
        + '[dependencies]\nlibc = "0.2"\nproto = { path = "../../src/proto" }\n',
        "libs/util/src/lib.rs": 'pub fn said() -> String { format!("util {}", proto::WORD) }\n',
        "src/agent/Cargo.toml": '[workspace]\nmembers = ["rustjail"]\n\n' + package.format("app")
        + '[dependencies]\nutil = { path = "../../libs/util" }\nrustjail = { path = "rustjail" }\n',
        "src/agent/src/main.rs": 'fn main() { println!("{} {}", util::said(), rustjail::n()); }\n',
        "src/agent/rustjail/Cargo.toml": package.format("rustjail"),
        "src/agent/rustjail/src/lib.rs": "pub fn n() -> u8 { 3 }\n",
    })  # fmt: skip
    workspace = root / "src" / "agent"
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    return workspace


def proto_reading_crate(repo: Path, cargo: str, word: str) -> Path:
    """A crate at `repo/app` whose build script reads `../proto/msg.txt`, outside its
    workspace (a shared proto dir); `repo/proto/msg.txt` holds `word`. Returns the crate."""
    write_tree(repo, {
        "proto/msg.txt": f"{word}\n",
        "app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n',
        "app/build.rs": "fn main() {\n"
        '    println!("cargo:rerun-if-changed=../proto/msg.txt");\n'
        '    let text = std::fs::read_to_string("../proto/msg.txt").expect("../proto/msg.txt");\n'
        '    println!("cargo:rustc-env=MSG={}", text.trim());\n}\n',
        "app/src/main.rs": 'fn main() { println!("{}", env!("MSG")); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=repo / "app", check=True)
    return repo / "app"


#: A crate whose dependencies' library names differ from their package names (issue #41):
#: md-5 (a `[lib] name` override, `md5`), rust-ini (`ini`), xml-rs (`xml`), Inflector (upper
#: case, `inflector`) and utf-8 (hyphenated, `utf8`); cargo names their `deps/` files after the
#: library. Inflector without its default features, which only add regex.
RENAMED_LIBS = {
    "Cargo.toml": '[workspace]\nmembers = ["app"]\nresolver = "2"\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nmd-5 = "0.10"\nrust-ini = "0.18"\nxml-rs = "0.8"\n'
        'Inflector = { version = "0.11", default-features = false }\nutf-8 = "0.7"\n'
    ),
    "app/src/main.rs": (
        "use md5::Digest;\n"
        "fn main() {\n"
        '    let ini = ini::Ini::load_from_str("[a]\\nb = c\\n").unwrap();\n'
        '    let xml = xml::reader::EventReader::from_str("<a/>").into_iter().count();\n'
        '    let snake = inflector::cases::snakecase::to_snake_case("HelloWorld");\n'
        '    let text = utf8::decode(b"ok").unwrap();\n'
        '    println!("{:x} {} {xml} {snake} {text}", md5::Md5::digest(b"x"), ini.len());\n'
        "}\n"
    ),
}
#: What the RENAMED_LIBS binary prints.
RENAMED_LIBS_OUTPUT = "9dd4e461268c8034f5c8564e155c67a6 1 4 hello_world ok\n"


#: Two unrelated binaries: `app` (needs libc) and `tool` (needs log).
# the small workspace of the task tests (fixture `toy`): an app, a path library, two crates
TOY = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "lib1"]\nresolver = "2"\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "1.2.3"\nedition = "2021"\n'
        '[dependencies]\nlib1 = { path = "../lib1" }\nanyhow = "1"\n'
    ),
    "app/src/main.rs": (
        'const GREETING: &str = "hello";\nfn main() { println!("{GREETING} {}", lib1::x()); }\n'
    ),
    "lib1/Cargo.toml": (
        '[package]\nname = "lib1"\nversion = "1.2.3"\nedition = "2021"\n'
        '[dependencies]\nlog = "0.4"\n'
    ),
    "lib1/src/lib.rs": "pub fn x() -> u32 { 41 + (log::max_level() as u32 > 100) as u32 }\n",
}


TWO_BINARIES = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "tool"]\nresolver = "2"\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibc = "0.2"\n'
    ),
    "app/src/main.rs": 'fn main() { println!("app {}", unsafe { libc::getpid() } > 0); }\n',
    "tool/Cargo.toml": (
        '[package]\nname = "tool"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlog = "0.4"\n'
    ),
    "tool/src/main.rs": 'fn main() { println!("tool {}", log::max_level()); }\n',
}


def plugin_workspace(root: Path, cargo: str, answer: int) -> Path:
    """A workspace shipping a binary and a cdylib (`libplug.so`, C symbol `plug_answer`)."""
    write_tree(root, {
        "Cargo.toml": '[workspace]\nmembers = ["plug", "tool"]\nresolver = "2"\n',
        "plug/Cargo.toml": (
            '[package]\nname = "plug"\nversion = "0.1.0"\nedition = "2021"\n'
            '[lib]\ncrate-type = ["cdylib"]\n[dependencies]\nlibc = "0.2"\n'
        ),
        "tool/Cargo.toml": '[package]\nname = "tool"\nversion = "0.1.0"\nedition = "2021"\n',
        "tool/src/main.rs": 'fn main() { println!("tool"); }\n',
    })  # fmt: skip
    set_plugin_answer(root, answer)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)
    return root


def set_plugin_answer(root: Path, answer: int) -> None:
    (root / "plug" / "src").mkdir(parents=True, exist_ok=True)
    (root / "plug" / "src" / "lib.rs").write_text(
        '#[no_mangle]\npub extern "C" fn plug_answer() -> i32 {\n'
        f"    {answer} + (unsafe {{ libc::getpid() }} < 0) as i32\n}}\n"
    )


#: A one-crate workspace whose binary prints its arch and links libc (the docker tests').
LIBC_TOY = {
    "Cargo.toml": '[workspace]\nmembers = ["app"]\nresolver = "2"\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibc = "0.2"\n'
    ),
    "app/src/main.rs": (
        'fn main() { println!("app on {} pid>0={}", std::env::consts::ARCH, '
        "unsafe { libc::getpid() } > 0); }\n"
    ),
}


#: A recipe of one package with one binary.
APP_RECIPE = Recipe(
    manifests=(
        Manifest(
            "Cargo.toml",
            '[package]\nname = "app"\nversion = "0.0.1"\n',
            (Target("src/main.rs", TargetKind.BIN, "app"),),
        ),
    ),
    lock_file="version = 4\n",
)
RUSTC = (  # `rustc -vV` of Rust 1.95 on amd64
    "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n"
    "commit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\n"
    "host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n"
)
