"""The docker backend against the real daemon, registry and qemu (CI provisions all three)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from galley import arch as arches
from galley import elf
from galley.backends.docker import images
from galley.chef import prepare
from helpers import (
    EPOCH_CRATE,
    EXAMPLE,
    RENAMED_LIBS,
    RENAMED_LIBS_OUTPUT,
    REPO,
    TWO_BINARIES,
    flipped_metadata,
    galley,
    outside_crates_repo,
    patched_workspace,
    plugin_workspace,
    proto_reading_crate,
    rootfs_mtimes,
    set_plugin_answer,
    vendored_workspace,
    write_tree,
)
from helpers import (
    LIBC_TOY as TOY,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def assert_one_line_error(failed: subprocess.CompletedProcess[str], message: str) -> None:
    assert failed.returncode != 0, failed.args
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("galley: error:") and message in last, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr


def only_result(output: str) -> dict[str, Any]:
    (result,) = json.loads(output)["results"]
    return dict(result)


def forget_cook_images(docker: str, workspace: Path) -> None:
    """Remove local cook images of this workspace's recipe, so the next cook is cold."""
    digest = prepare(workspace).digest()
    ids = subprocess.run(
        [docker, "images", "-q", "--filter", f"label=galley.recipe={digest}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if ids:
        subprocess.run([docker, "image", "rm", "-f", *sorted(set(ids))], capture_output=True)


def run_foreign(binary: Path, gcc_triple: str) -> str:
    """Run a cross-built binary with qemu-user and the Debian cross sysroot."""
    qemu = {"aarch64-linux-gnu": "aarch64", "s390x-linux-gnu": "s390x",
            "powerpc64le-linux-gnu": "ppc64le"}[gcc_triple]  # fmt: skip
    sysroot = f"/usr/{gcc_triple}"
    result = subprocess.run(
        [f"qemu-{qemu}-static", "-L", sysroot, "-E", f"LD_LIBRARY_PATH={sysroot}/lib", binary],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return result.stdout


def test_arm64_cross_build_of_the_example(docker: str, registry: str, tmp_path: Path) -> None:
    workspace = tmp_path / "agent"
    shutil.copytree(EXAMPLE, workspace, ignore=shutil.ignore_patterns("target"))
    cache = tmp_path / "cache"
    forget_cook_images(docker, workspace)
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)  # mounts
    common = ("--backend", "docker", "--arch", "arm64", "--json")

    cold = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert cold["cache"] == "miss" and cold["cook_image"].startswith("galley-cook:arm64-")
    assert set(cold["compiled"]) == {"agent", "agent-macros", "protocols", "rustjail"}
    binaries = sorted((workspace / "dist" / "arm64" / "bin").iterdir())
    assert [b.name for b in binaries] == ["agent-ctl", "kata-agent"]
    for binary in binaries:
        info = elf.read_elf(binary)
        assert info is not None and info.machine == elf.EM_AARCH64 and info.elf_class == 64
    kata_agent = workspace / "dist" / "arm64" / "bin" / "kata-agent"
    assert run_foreign(kata_agent, "aarch64-linux-gnu") == "kata-agent 3.2.1: ready (protocol v7)\n"
    rootfs = (workspace / "dist" / "arm64" / "rootfs.tar").read_bytes()
    galley("verify", "--arch", "arm64", cwd=workspace, cache=cache)

    main = workspace / "crates" / "agent" / "src" / "main.rs"
    main.write_text(
        main.read_text().replace('GREETING: &str = "ready"', 'GREETING: &str = "edited"')
    )
    warm = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert warm["cache"] == "hit" and warm["key"] == cold["key"]
    assert warm["compiled"] == ["agent"]  # the cache mount keeps the other local crates
    assert (
        run_foreign(kata_agent, "aarch64-linux-gnu") == "kata-agent 3.2.1: edited (protocol v7)\n"
    )

    main.write_text(main.read_text().replace('"edited"', '"ready"'))
    again = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert again["key"] == cold["key"]
    assert (workspace / "dist" / "arm64" / "rootfs.tar").read_bytes() == rootfs  # reproducible

    # nothing changed: nothing runs in docker; an altered output is built again
    noop = galley("build", *common, cwd=workspace, cache=cache)
    assert only_result(noop.stdout)["up_to_date"] is True
    assert only_result(noop.stdout)["compiled"] == []
    assert " build --file" not in noop.stderr, noop.stderr[-2000:]
    kata_agent.write_bytes(b"not the agent")
    rebuilt = galley("build", *common, cwd=workspace, cache=cache)
    assert "up_to_date" not in only_result(rebuilt.stdout)
    assert " build --file" in rebuilt.stderr
    # BuildKit reused the build step (same sources): its outputs, and no stale cargo messages
    assert only_result(rebuilt.stdout)["cached_step"] is True
    assert only_result(rebuilt.stdout)["compiled"] == []
    assert run_foreign(kata_agent, "aarch64-linux-gnu") == "kata-agent 3.2.1: ready (protocol v7)\n"

    pushed = only_result(
        galley("cook", *common, "--registry", registry, "--push", cwd=workspace, cache=cache).stdout
    )
    assert pushed["pushed"] == f"{registry}/galley:cook-arm64-{cold['key'][:12]}"
    forget_cook_images(docker, workspace)
    subprocess.run([docker, "image", "rm", "-f", pushed["pushed"]], capture_output=True)
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)
    pulled = only_result(
        galley("build", *common, "--registry", registry, cwd=workspace, cache=cache).stdout
    )
    assert pulled["cache"] == "pulled" and "cook_seconds" not in pulled
    assert "serde" not in pulled["compiled"]
    assert run_foreign(kata_agent, "aarch64-linux-gnu") == "kata-agent 3.2.1: ready (protocol v7)\n"


@pytest.mark.parametrize(
    ("arch", "machine", "little", "gcc"),
    [
        ("s390x", elf.EM_S390, False, "s390x-linux-gnu"),
        ("ppc64le", elf.EM_PPC64, True, "powerpc64le-linux-gnu"),
    ],
)
def test_big_endian_and_power_cross_builds(
    docker: str, tmp_path: Path, cargo: str, arch: str, machine: int, little: bool, gcc: str
) -> None:
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    result = only_result(
        galley("build", "--backend", "docker", "--arch", arch, "--json", cwd=workspace,
               cache=tmp_path / "cache").stdout
    )  # fmt: skip
    binary = workspace / "dist" / arch / "bin" / "app"
    info = elf.read_elf(binary)
    assert info is not None and (info.machine, info.little_endian) == (machine, little)
    assert result["target"].startswith(("s390x", "powerpc64le"))
    expected = "s390x" if arch == "s390x" else "powerpc64"
    assert run_foreign(binary, gcc) == f"app on {expected} pid>0=true\n"
    galley("verify", "--arch", arch, cwd=workspace, cache=tmp_path / "cache")


def test_one_binary_of_a_workspace_builds_in_docker(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """`--bin tool` for s390x: the cook image holds tool's dependencies only, and only tool is
    compiled and shipped (it runs under qemu)."""
    workspace = write_tree(tmp_path / "two", TWO_BINARIES)
    with (workspace / "tool" / "src" / "main.rs").open("a") as main:  # not a step BuildKit ran
        main.write(f"// {uuid.uuid4()}\n")
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ["--backend", "docker", "--arch", "s390x", "--bin", "tool"]
    built = galley("build", *common, "--json", cwd=workspace, cache=tmp_path / "cache")
    result = only_result(built.stdout)
    assert result["compiled"] == ["tool"] and result["artifacts"] == ["bin/tool", "rootfs.tar"]
    assert "Compiling libc" not in built.stderr
    binary = workspace / "dist" / "s390x" / "bin" / "tool"
    assert run_foreign(binary, "s390x-linux-gnu") == "tool OFF\n"


def test_a_cdylib_ships_from_docker_builds(docker: str, tmp_path: Path, cargo: str) -> None:
    """The s390x `libplug.so` is copied out of the build beside the binary: a big-endian
    shared object in dist/s390x/lib and usr/lib of rootfs.tar that verify accepts (so not the
    cook's dummy); an edit compiles `plug` alone and reaches it."""
    workspace = plugin_workspace(tmp_path / "plugin", cargo, 42)
    common = ["--backend", "docker", "--arch", "s390x"]
    cache, arch_dir = tmp_path / "cache", workspace / "dist" / "s390x"
    galley("build", *common, cwd=workspace, cache=cache)
    manifest = json.loads((arch_dir / "manifest.json").read_text())
    assert sorted(manifest["artifacts"]) == ["bin/tool", "lib/libplug.so", "rootfs.tar"]
    info = elf.read_elf(arch_dir / "lib" / "libplug.so")
    assert info is not None and (info.machine, info.elf_type) == (elf.EM_S390, elf.ET_DYN)
    assert info.interpreter is None and not info.little_endian
    galley("verify", *common, cwd=workspace, cache=cache)
    before = (arch_dir / "lib" / "libplug.so").read_bytes()
    set_plugin_answer(workspace, 43)
    again = only_result(galley("build", *common, "--json", cwd=workspace, cache=cache).stdout)
    assert again["compiled"] == ["plug"]
    assert (arch_dir / "lib" / "libplug.so").read_bytes() != before


@pytest.mark.parametrize(
    "table", ["s390x-unknown-linux-gnu", "'cfg(all(target_arch = \"s390x\", unix))'"]
)
def test_the_workspace_config_linker_is_used(
    docker: str, tmp_path: Path, cargo: str, table: str
) -> None:
    """A linker the workspace's .cargo/config.toml names for the target, in its triple's table
    or a cfg table that matches, is the one cargo runs (galley used to override it with the arch
    table's cross gcc). /usr/bin/false makes that visible: the cook fails at the first link."""
    config = f'[target.{table}]\nlinker = "/usr/bin/false"\n'
    workspace = write_tree(tmp_path / "toy", {**TOY, ".cargo/config.toml": config})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    forget_cook_images(docker, workspace)
    failed = galley("cook", "--backend", "docker", "--arch", "s390x", cwd=workspace,
                    cache=tmp_path / "cache", check=False)  # fmt: skip
    assert failed.returncode == 6 and "linking with `/usr/bin/false` failed" in failed.stderr
    # galley's own line names cargo's error, not BuildKit's "executor failed running [...]"
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("galley: error: /usr/bin/docker exited with 1: error: could not compile")


def test_a_crate_without_dependencies_builds(docker: str, tmp_path: Path, cargo: str) -> None:
    """`cargo vendor` makes no directory when there is nothing to vendor (the build used to stop
    with "No such file or directory")."""
    workspace = write_tree(tmp_path / "bare", {
        "Cargo.toml": '[package]\nname = "bare"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("bare"); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    galley("build", "--backend", "docker", "--arch", "amd64", cwd=workspace,
           cache=tmp_path / "cache")  # fmt: skip
    binary = workspace / "dist" / "amd64" / "bin" / "bare"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "bare\n"


def test_a_git_dependency_is_served_from_the_vendor_dir(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """A git dependency (a repository on disk: there is no network here) is vendored with the
    rest and replaced in the cook's cargo config like crates.io (the cook used to fail with
    "failed to get `gdep`": galley's config replaced crates.io only)."""
    dep = write_tree(tmp_path / "gdep", {
        "Cargo.toml": '[package]\nname = "gdep"\nversion = "0.3.0"\nedition = "2021"\n'
                      '[dependencies]\nlog = "0.4"\n',
        "src/lib.rs": 'pub fn hello() -> &\'static str { log::max_level(); "from git" }\n',
    })  # fmt: skip
    git = ["git", "-c", "user.name=galley", "-c", "user.email=galley@localhost"]
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "gdep"]):
        subprocess.run([*git, *argv], cwd=dep, check=True)
    workspace = write_tree(tmp_path / "app", {
        "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
                      f'[dependencies]\ngdep = {{ git = "{dep.as_uri()}" }}\n',
        "src/main.rs": 'fn main() { println!("{}", gdep::hello()); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile"], cwd=workspace, check=True)
    galley("build", "--backend", "docker", "--arch", "s390x", cwd=workspace,
           cache=tmp_path / "cache")  # fmt: skip
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == "from git\n"


def test_profile_variables_reach_docker_builds(docker: str, tmp_path: Path, cargo: str) -> None:
    """CARGO_PROFILE_<NAME>_<KEY> is set in the cook and build steps too (docker builds used to
    ignore it: same key, a hit, and no debug assertions in the binary)."""
    workspace = write_tree(tmp_path / "asserting", {
        "Cargo.toml": '[package]\nname = "asserting"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("{}", cfg!(debug_assertions)); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    binary = workspace / "dist" / "s390x" / "bin" / "asserting"
    keys = []
    for value in ("false", "true"):
        built = only_result(galley(
            "build", "--backend", "docker", "--arch", "s390x", "--json", cwd=workspace,
            cache=tmp_path / "cache", env={"CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS": value},
        ).stdout)  # fmt: skip
        keys.append(built["key"])
        assert run_foreign(binary, "s390x-linux-gnu") == f"{value}\n"
    assert keys[0] != keys[1]


def test_a_toolchain_file_is_reported_not_obeyed(docker: str, tmp_path: Path, cargo: str) -> None:
    """Builder images have no rustup: a rust-toolchain.toml pinning another release gets one
    warning line and the build goes on with the image's rustc; vendoring on the host runs with
    the host's default toolchain (it used to fail: rustup had no 1.80.0 to run `cargo vendor`)."""
    workspace = write_tree(tmp_path / "pinned", {
        "Cargo.toml": '[package]\nname = "pinned"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("pinned"); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ("--backend", "docker", "--arch", "amd64", "--rust", "1.85")  # s390x's base image
    for pin, warned in (("1.80.0", True), ("1.85", False)):
        (workspace / "rust-toolchain.toml").write_text(f'[toolchain]\nchannel = "{pin}"\n')
        forget_cook_images(docker, workspace)  # so that it vendors and cooks
        built = galley("build", *common, cwd=workspace, cache=tmp_path / "cache")
        warnings = [line for line in built.stderr.splitlines() if "warning: the workspace" in line]
        expected = (
            f"galley: warning: the workspace's toolchain file pins Rust {re.escape(pin)}, but "
            r"builder image galley-builder:\S+ has rustc 1\.85\.0 \(no rustup "
            f"there\\); set rust or builder_image to one with {re.escape(pin)}"
        )
        assert len(warnings) == warned and all(re.fullmatch(expected, w) for w in warnings)
        binary = workspace / "dist" / "amd64" / "bin" / "pinned"
        assert subprocess.run([binary], capture_output=True, text=True).stdout == "pinned\n"


def test_a_cache_dir_inside_the_workspace_stays_out_of_the_context(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """The docker build context mirrors the workspace without galley's cache dir in it (it
    used to copy the cache into itself until "File name too long")."""
    workspace = write_tree(tmp_path / "inside", {
        "Cargo.toml": '[package]\nname = "inside"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("inside"); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = workspace / ".cache" / "galley"
    galley("build", "--backend", "docker", "--arch", "amd64", cwd=workspace, cache=cache)
    binary = workspace / "dist" / "amd64" / "bin" / "inside"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "inside\n"
    assert not (cache / "docker" / "build-amd64" / "src" / ".cache" / "galley").exists()


def test_a_vendored_workspace_cooks_in_docker(docker: str, tmp_path: Path, cargo: str) -> None:
    """The workspace's own vendor dir goes into the cook context with the skeleton, where its
    cargo config (closer than galley's) looks for it (the cook used to fail)."""
    workspace = vendored_workspace(tmp_path / "vendored", cargo, f"v{uuid.uuid4().hex[:8]}")
    forget_cook_images(docker, workspace)
    galley("build", "--backend", "docker", "--arch", "s390x", cwd=workspace,
           cache=tmp_path / "cache")  # fmt: skip
    greeting = (workspace / "src" / "main.rs").read_text().split('"')[1].split()[0]
    binary = workspace / "dist" / "s390x" / "bin" / "vendored"
    assert run_foreign(binary, "s390x-linux-gnu") == f"{greeting} OFF\n"


@pytest.mark.parametrize("place", ["../shared-vendor", "absolute"])
def test_a_vendor_dir_outside_the_workspace_serves_docker_builds(
    docker: str, tmp_path: Path, cargo: str, place: str
) -> None:
    """The workspace's cargo config serves crates.io from a vendor dir outside the workspace
    (one several workspaces share, `../vendor` or `/opt/vendor`), which is not in the image:
    the cook and the build replace that source with galley's vendor dir, which `cargo vendor`
    filled from it (both used to fail: "failed to get `log` ... No such file or directory")."""
    vendor_dir = str(tmp_path / "shared-vendor") if place == "absolute" else place
    greeting = f"v{uuid.uuid4().hex[:8]}"
    workspace = vendored_workspace(tmp_path / "ws", cargo, greeting, vendor_dir=vendor_dir)
    assert (tmp_path / "shared-vendor").is_dir() and not (workspace / "vendor").exists()
    forget_cook_images(docker, workspace)
    galley("build", "--backend", "docker", "--arch", "s390x", cwd=workspace,
           cache=tmp_path / "cache")  # fmt: skip
    binary = workspace / "dist" / "s390x" / "bin" / "vendored"
    assert run_foreign(binary, "s390x-linux-gnu") == f"{greeting} OFF\n"


#: cargo-chef cannot be compiled here (crates.io is out of reach), so galley-chef, galley's
#: cargo-chef-compatible engine (same recipe schema and cook flags), is installed under its name
#: in a builder image, as cargo finds subcommands. It records each argv in the image.
CHEF_STAND_IN = """#!/bin/sh
printf '%s\\n' "$*" >> /galley-chef.log
PYTHONPATH=/opt/galley-chef exec python3 -m galley.chef.cli "$@"
"""
CHEF_DOCKERFILE = """ARG BUILDER
FROM ${BUILDER}
RUN (apt-get update || true) && apt-get install -y --no-install-recommends python3 \\
    && rm -rf /var/lib/apt/lists/*
COPY site /opt/galley-chef
COPY cargo-chef /usr/local/bin/cargo-chef
"""


def chef_builder_image(docker: str, builder: str, context: Path) -> str:
    """`builder` with python3 and galley-chef as /usr/local/bin/cargo-chef."""
    import sh
    import tomli_w

    site = context / "site"
    shutil.copytree(REPO / "galley", site / "galley", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(sh.__file__, site / "sh.py")
    shutil.copytree(Path(tomli_w.__file__).parent, site / "tomli_w",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    write_tree(context, {"cargo-chef": CHEF_STAND_IN, "Dockerfile": CHEF_DOCKERFILE})
    (context / "cargo-chef").chmod(0o755)
    tag = "galley-test-chef:latest"
    subprocess.run(
        [docker, "build", "-q", "--build-arg", f"BUILDER={builder}", "-t", tag, str(context)],
        check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )  # fmt: skip
    return tag


def test_chef_cargo_chef_cooks_with_cargo_chef_in_the_builder_image(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """chef = cargo-chef (or auto, where the builder image has it) in docker: the cook stage is
    `cargo chef cook --recipe-path` in the builder image, as in the seed's Dockerfile, with a
    vendor dir outside the workspace served through the recipe's config (cargo-chef passes no
    `--config`). A builder without cargo-chef is one line for cargo-chef and builtin for auto.
    Before, the docker backend ignored the chef: it always cooked galley's skeleton."""
    cache = tmp_path / "cache"
    builder = json.loads(galley("builder-image", "--arch", "amd64", "--json", cwd=REPO,
                                cache=cache).stdout)["image"]  # fmt: skip
    chef_image = chef_builder_image(docker, builder, tmp_path / "chef-image")
    greeting = f"v{uuid.uuid4().hex[:8]}"
    workspace = vendored_workspace(tmp_path / "ws", cargo, greeting, vendor_dir="../shared-vendor")
    forget_cook_images(docker, workspace)
    docker_amd64 = ("--backend", "docker", "--arch", "amd64", "--json")
    failed = galley("cook", *docker_amd64, "--chef", "cargo-chef", cwd=workspace, cache=cache,
                    check=False)  # fmt: skip
    assert_one_line_error(failed, f"builder image {builder} has no cargo-chef")
    plain = only_result(galley("cook", *docker_amd64, "--chef", "auto", cwd=workspace,
                               cache=cache).stdout)  # fmt: skip
    assert plain["chef"] == "builtin"

    with_chef = (*docker_amd64, "--chef", "auto", "--builder-image", chef_image)
    built = only_result(galley("build", *with_chef, cwd=workspace, cache=cache).stdout)
    assert built["chef"] == "cargo-chef" and built["cache"] == "miss"
    assert built["key"] != plain["key"]
    read_log = [docker, "run", "--rm", "--network=none", built["cook_image"], "cat"]
    log = subprocess.run([*read_log, "/galley-chef.log"], capture_output=True, text=True,
                         check=True)  # fmt: skip
    cooks = [line for line in log.stdout.splitlines() if line.startswith("chef cook ")]
    assert cooks == [
        "chef cook --recipe-path /galley/recipe.json --release --target x86_64-unknown-linux-gnu "
        "--target-dir /galley/target --offline --locked"
    ], log.stdout
    binary = workspace / "dist" / "amd64" / "bin" / "vendored"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == f"{greeting} OFF\n"
    galley("verify", "--backend", "docker", "--arch", "amd64", "--chef", "auto",
           "--builder-image", chef_image, cwd=workspace, cache=cache)  # fmt: skip

    (workspace / "src" / "main.rs").write_text(
        f'fn main() {{ println!("{greeting} edited {{}}", log::max_level()); }}\n'
    )
    again = only_result(galley("build", *with_chef, cwd=workspace, cache=cache).stdout)
    assert again["cache"] == "hit" and again["compiled"] == ["vendored"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == (
        f"{greeting} edited OFF\n"
    )


def test_a_dist_dir_inside_the_workspace_stays_out_of_the_context(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """`--dist out/bin` is not mirrored into the build context, so the next build with nothing
    changed is a no-op (the last build's outputs used to be part of the context: its digest
    changed every time and docker ran again)."""
    workspace = write_tree(tmp_path / "outside", {
        "Cargo.toml": '[package]\nname = "outside"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("outside"); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    for up_to_date in (None, True):
        argv = ["build", "--backend", "docker", "--arch", "amd64", "--dist", "out/bin", "--json"]
        built = only_result(galley(*argv, cwd=workspace, cache=cache).stdout)
        assert built.get("up_to_date") is up_to_date
    assert (workspace / "out" / "bin" / "amd64" / "bin" / "outside").is_file()
    assert not (cache / "docker" / "build-amd64" / "src" / "out" / "bin").exists()


def test_source_date_epoch_reaches_docker_builds(docker: str, tmp_path: Path, cargo: str) -> None:
    """SOURCE_DATE_EPOCH is set in the docker steps as in local ones (build scripts there used
    to see none) and dates rootfs.tar."""
    workspace = write_tree(tmp_path / "epoch", EPOCH_CRATE)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    galley("build", "--backend", "docker", "--arch", "s390x", cwd=workspace,
           cache=tmp_path / "cache", env={"SOURCE_DATE_EPOCH": "1700000000"})  # fmt: skip
    arch_dir = workspace / "dist" / "s390x"
    assert run_foreign(arch_dir / "bin" / "epoch", "s390x-linux-gnu") == "1700000000\n"
    assert rootfs_mtimes(arch_dir / "rootfs.tar") == {1700000000}


def test_a_builder_without_the_target_std_is_one_line(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """musl for s390x: galley's builders have a musl std for amd64 and arm64 only, said before
    any work (the cook used to fail inside the image: "docker exited with 1: executor
    failed")."""
    workspace = write_tree(tmp_path / "musl", {
        "Cargo.toml": '[package]\nname = "musl"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": "fn main() {}\n",
        "galley.toml": '[arch.s390x]\nlibc = "musl"\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    failed = galley("build", "--backend", "docker", "--arch", "s390x", cwd=workspace,
                    cache=tmp_path / "cache", check=False)  # fmt: skip
    errors = [line for line in failed.stderr.splitlines() if "error" in line]
    assert failed.returncode == 5 and len(errors) == 1, failed.stderr
    assert re.fullmatch(
        r"galley: error: builder image galley-builder:\S+ \(rustc 1\.\d+\.\d+\) has no "
        r"std for s390x-unknown-linux-musl \(galley's builders build a musl std for amd64 "
        r"and arm64 only\); set builder_image \(or --builder-image\) to one that has it", errors[0]
    )  # fmt: skip


def test_builders_are_layered_and_lean(docker: str, tmp_path: Path) -> None:
    """The s390x builder is the common amd64 image of its Rust release (rustc, cargo, the
    native std, gcc) with one layer on top (s390x's std, cross gcc and libc); what an s390x
    build needs is at most 1.2 GB (one image with every cross arch was 2.8 GB). The amd64
    builder of the same release is that common image itself. Sizes are reported."""
    asked = ("builder-image", "--arch", "s390x", "--arch", "amd64", "--rust", "1.85", "--json")
    s390x, amd64 = json.loads(galley(*asked, cwd=REPO, cache=tmp_path / "cache").stdout)["images"]

    def layers(image: str) -> list[str]:
        inspect = [docker, "image", "inspect", "-f", "{{json .RootFS.Layers}}", image]
        return list(json.loads(subprocess.run(inspect, capture_output=True, text=True,
                                              check=True).stdout))  # fmt: skip

    assert s390x["image"].startswith("galley-builder:amd64-s390x-rust1.85-")
    assert amd64["image"].startswith("galley-builder:amd64-rust1.85-")
    below, above = layers(amd64["image"]), layers(s390x["image"])
    assert above[: len(below)] == below and len(above) == len(below) + 2  # COPY pins, RUN
    assert amd64["size"] < s390x["size"] <= 1_200_000_000, (amd64, s390x)
    history = subprocess.run(
        [docker, "history", "--no-trunc", "--format", "{{.CreatedBy}}", s390x["image"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    installs = re.findall(r"apt-get install[^;]*", history)
    assert len(installs) >= 2 and all("--no-install-recommends" in i for i in installs)
    # the s390x std is unpacked, not installed: no s390x LLVM, rustc driver or their libraries
    listed = subprocess.run(
        [docker, "run", "--rm", "--network=none", s390x["image"], "dpkg-query", "-W", "-f",
         "${Package}:${Architecture}\\n"], capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "rustc-web:amd64" in listed and not [p for p in listed if p.endswith(":s390x")]


def test_a_workspace_asking_for_a_newer_rust_is_one_line(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """`rust-version = "1.99"`, which no Debian rustc-web meets: one line naming the releases
    Debian has per arch, in seconds, before any image is built or anything cooked (the cook
    used to fail deep inside the image). A toolchain file pinning 1.99 is the same line."""
    workspace = write_tree(tmp_path / "new", {
        "Cargo.toml": '[package]\nname = "new"\nversion = "0.1.0"\nedition = "2021"\n'
                      'rust-version = "1.99"\n',
        "src/main.rs": "fn main() {}\n",
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    for source in ("rust-version of package new", "the toolchain file"):
        started = time.monotonic()
        failed = galley("build", "--backend", "docker", "--arch", "amd64", "--arch", "s390x",
                        cwd=workspace, cache=cache, check=False)  # fmt: skip
        seconds = time.monotonic() - started
        assert_one_line_error(failed, f"the workspace needs Rust 1.99 ({source}), newer than")
        last = failed.stderr.strip().splitlines()[-1]
        assert re.search(r"Debian's rustc-web has amd64: 1\.\d+(, 1\.\d+)*; s390x: 1\.85", last)
        assert " build --file" not in failed.stderr and "Compiling" not in failed.stderr
        assert seconds < 60, seconds
        manifest = workspace / "Cargo.toml"
        manifest.write_text(manifest.read_text().replace('rust-version = "1.99"\n', ""))
        (workspace / "rust-toolchain").write_text("1.99\n")
    assert (
        not list((cache / "docker").glob("cook-*")) and not (workspace / "dist" / "amd64").exists()
    )


def test_cfg_table_rustflags_reach_a_cross_build(docker: str, tmp_path: Path, cargo: str) -> None:
    """The cfg is the builder's rustc's for the target (big-endian s390x here, not the host).
    Its answer is recorded: a no-op build then starts no container (0.3 s saved per arch)."""
    config = """[target.'cfg(target_endian = "big")']\nrustflags = ["--cfg", "galley_big"]\n"""
    main = 'fn main() { println!("big={}", cfg!(galley_big)); }\n'
    workspace = write_tree(tmp_path / "flagged", {
        "Cargo.toml": '[package]\nname = "flagged"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": main, ".cargo/config.toml": config,
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    for arch, gcc, big in (("s390x", "s390x-linux-gnu", "true"), ("amd64", None, "false")):
        galley("build", "--backend", "docker", "--arch", arch, cwd=workspace,
               cache=tmp_path / "cache")  # fmt: skip
        binary = workspace / "dist" / arch / "bin" / "flagged"
        printed = (
            run_foreign(binary, gcc)
            if gcc
            else subprocess.run([binary], capture_output=True, text=True, check=True).stdout
        )
        assert printed == f"big={big}\n"
    since = time.time()
    again = galley("build", "--backend", "docker", "--arch", "s390x", "--json", cwd=workspace,
                   cache=tmp_path / "cache")  # fmt: skip
    until = time.time()
    assert only_result(again.stdout)["up_to_date"] is True
    created = subprocess.run(
        [docker, "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
         "--filter", "type=container", "--filter", "event=create", "--format", "{{.ID}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert created == [], "the no-op build asked rustc for the cfg again in a container"


def test_path_crates_outside_the_workspace_build_in_docker(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """The workspace `src/agent` with `../../libs/util` and `../proto` (cargo-chef #4): the
    cook and build contexts hold them at their places, the s390x binary runs under qemu, an
    edit of `proto` recompiles the local crates only, and a fresh rebuild elsewhere has the
    same bits (in the image the tree is always at /galley/src)."""
    workspace = outside_crates_repo(tmp_path / "repo", cargo)
    common = ["--backend", "docker", "--arch", "s390x"]
    cache, binary = tmp_path / "cache", workspace / "dist" / "s390x" / "bin" / "app"
    galley("build", *common, cwd=workspace, cache=cache)
    assert run_foreign(binary, "s390x-linux-gnu") == "util one 3\n"
    (tmp_path / "repo" / "src" / "proto" / "src" / "lib.rs").write_text(
        'pub const WORD: &str = "two";\n'
    )
    again = only_result(galley("build", *common, "--json", cwd=workspace, cache=cache).stdout)
    assert again["cache"] == "hit" and sorted(again["compiled"]) == ["app", "proto", "util"]
    assert run_foreign(binary, "s390x-linux-gnu") == "util two 3\n"
    galley("verify", *common, "--reproducible", cwd=workspace, cache=cache)


def test_extra_sources_reach_docker_builds(docker: str, tmp_path: Path, cargo: str) -> None:
    """`extra_sources = ["../proto"]`: the build context holds the dir beside the workspace, so
    the build script reads it in the image; an edit of it reaches the s390x binary."""
    workspace = proto_reading_crate(tmp_path / "repo", cargo, "proto one")
    (workspace / "galley.toml").write_text('extra_sources = ["../proto"]\n')
    common = ["--backend", "docker", "--arch", "s390x"]
    cache, binary = tmp_path / "cache", workspace / "dist" / "s390x" / "bin" / "app"
    galley("build", *common, cwd=workspace, cache=cache)
    assert run_foreign(binary, "s390x-linux-gnu") == "proto one\n"
    (tmp_path / "repo" / "proto" / "msg.txt").write_text("proto two\n")
    galley("build", *common, cwd=workspace, cache=cache)
    assert run_foreign(binary, "s390x-linux-gnu") == "proto two\n"


ZLIB_VERSION = {
    "Cargo.toml": (
        '[package]\nname = "zver"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibz-sys = "1"\n'
    ),
    "src/main.rs": (
        "fn main() {\n"
        "    let version = unsafe { std::ffi::CStr::from_ptr(libz_sys::zlibVersion()) };\n"
        '    println!("zlib {}", version.to_str().unwrap());\n'
        "}\n"
    ),
}


def test_target_packages_let_sys_crates_link_system_libraries(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """libz-sys (Debian's links the system zlib only) finds no s390x zlib in the default
    builder: the cook fails in its build script. `target_packages = ["zlib1g-dev"]` puts
    zlib1g-dev and zlib1g-dev:<arch> in the builder and pkg-config answers for the target: the
    s390x binary needs libz.so.1 and runs in the builder under qemu, the amd64 one on the host.
    (Kata's agent needs libseccomp-dev the same way.)"""
    workspace = write_tree(tmp_path / "zver", ZLIB_VERSION)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ["--backend", "docker", "--arch", "s390x"]
    cache = tmp_path / "cache"
    failed = galley("cook", *common, cwd=workspace, cache=cache, check=False)
    assert_one_line_error(failed, "could not find system library 'zlib' required by the 'libz-sys'")
    (workspace / "galley.toml").write_text('[docker]\ntarget_packages = ["zlib1g-dev"]\n')
    built = only_result(galley("build", *common, "--json", cwd=workspace, cache=cache).stdout)
    binary = workspace / "dist" / "s390x" / "bin" / "zver"
    info = elf.read_elf(binary)
    assert info is not None and info.machine == elf.EM_S390 and "libz.so.1" in info.needed
    mount = f"{binary.parent}:/galley-bin:ro"
    ran = subprocess.run(
        [docker, "run", "--rm", "-v", mount, built["builder_image"], "/galley-bin/zver"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.fullmatch(r"zlib 1\.\d+\.\d+\n", ran.stdout), ran.stdout
    galley("build", "--backend", "docker", "--arch", "amd64", cwd=workspace, cache=cache)
    native = workspace / "dist" / "amd64" / "bin" / "zver"
    assert subprocess.run([native], capture_output=True, text=True).stdout == ran.stdout


@pytest.mark.parametrize("patch", ["patched/cfg-if", "../patches/cfg-if"])
def test_a_path_patch_is_cooked_from_its_real_sources(
    docker: str, tmp_path: Path, cargo: str, patch: str
) -> None:
    """The patched cfg-if (log depends on it) goes into the cook context with its real sources,
    inside the workspace dir or outside it: the cook compiles, and the s390x binary prints the
    patch's constant."""
    workspace = patched_workspace(tmp_path / "ws", f"patched {uuid.uuid4().hex[:8]}", patch)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    greeting = (workspace / patch / "src" / "lib.rs").read_text().split('"')[-2]
    result = only_result(galley("build", "--backend", "docker", "--arch", "s390x", "--json",
                                cwd=workspace, cache=tmp_path / "cache").stdout)  # fmt: skip
    assert result["cache"] == "miss"
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == f"{greeting} Off\n"


def test_auto_builds_each_arch_where_it_can(docker: str, tmp_path: Path, cargo: str) -> None:
    """The default backend (auto): amd64 with the host's cargo, s390x (no std on the host) in
    docker, said on stderr; results in the order asked."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    done = galley("build", "--arch", "s390x", "--arch", "amd64", "--json", cwd=workspace,
                  cache=tmp_path / "cache")  # fmt: skip
    s390x, amd64 = json.loads(done.stdout)["results"]
    assert (s390x["arch"], amd64["arch"]) == ("s390x", "amd64")
    assert (s390x["backend"], amd64["backend"]) == ("docker", "local")
    assert "cook_image" in s390x and "cook_image" not in amd64
    assert "galley: s390x: no std for it on the host; the docker backend builds it" in done.stderr
    app = workspace / "dist" / "{}" / "bin" / "app"
    assert run_foreign(Path(str(app).format("s390x")), "s390x-linux-gnu").startswith("app on s390x")
    native = subprocess.run([str(app).format("amd64")], capture_output=True, text=True)
    assert native.stdout.startswith("app on x86_64")


def test_arm64_emulated_build(docker: str, tmp_path: Path, cargo: str) -> None:
    """Emulate mode: an arm64 builder under qemu, no cross linker (tiny crate: qemu is slow)."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    result = only_result(
        galley("build", "--backend", "docker", "--mode", "emulate", "--arch", "arm64", "--json",
               cwd=workspace, cache=tmp_path / "cache").stdout
    )  # fmt: skip
    assert result["builder_image"].startswith("galley-builder:arm64-rust")  # arm64's own
    binary = workspace / "dist" / "arm64" / "bin" / "app"
    info = elf.read_elf(binary)
    assert info is not None and info.machine == elf.EM_AARCH64
    assert run_foreign(binary, "aarch64-linux-gnu") == "app on aarch64 pid>0=true\n"
    explained = galley("cook", "--backend", "docker", "--mode", "emulate", "--arch", "arm64",
                       "--explain", cwd=workspace, cache=tmp_path / "cache").stderr  # fmt: skip
    assert "same inputs as the previous key" in explained  # the build recorded its key


def test_the_client_mode_is_remembered_until_the_client_changes(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build mode is asked once per client and kept in the cache dir; a plugin directory
    that appears ($DOCKER_CONFIG/cli-plugins here) makes galley ask again."""
    from galley.backends.docker import client

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    asked = client.detect(docker, tmp_path).mode
    assert asked in ("buildx", "buildkit")  # never legacy: the Debian client speaks BuildKit
    modes = tmp_path / "docker" / "client-modes.json"
    remembered = json.loads(modes.read_text())
    remembered[docker]["mode"] = "legacy"  # a mark: galley answers from the file, unasked
    modes.write_text(json.dumps(remembered))
    assert client.detect(docker, tmp_path).mode == "legacy"
    (tmp_path / "config" / "cli-plugins").mkdir(parents=True)
    assert client.detect(docker, tmp_path).mode == asked


@contextlib.contextmanager
def another_daemon(socket_path: Path, daemon_id: str) -> Iterator[None]:
    """A fake: an HTTP server on `socket_path` that answers `GET /info` as a docker daemon with
    another ID would. A second real dockerd on this machine would need its own data root,
    containerd and network set-up, only to be a socket whose daemon is not the client's."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"ID": daemon_id}).encode()
            self.send_response(200 if self.path.endswith("/info") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    with Server(str(socket_path), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()
            socket_path.unlink(missing_ok=True)


def wrapper_client(tmp_path: Path) -> Path:
    """A client program that talks to the real daemon whatever DOCKER_HOST says."""
    wrapper = tmp_path / "docker-wrapper"
    wrapper.write_text(
        '#!/bin/sh\nDOCKER_HOST=unix:///var/run/docker.sock exec /usr/bin/docker "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def test_queries_go_to_the_socket_only_when_it_is_the_clients_daemon(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Image queries and copy-outs go to the daemon's socket when the client's own rules name
    it and the daemon there is the client's (same ID); through the client otherwise: under a
    docker context (galley does not read its endpoint), or with a client whose daemon is not
    the one at the socket DOCKER_HOST names."""
    from galley.backends.docker import client

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    image = f"galley-test-empty:{uuid.uuid4().hex[:12]}"
    subprocess.run([docker, "import", "-", image], input=b"\0" * 10240, check=True,
                   capture_output=True)  # fmt: skip
    try:
        found = client.detect(docker, tmp_path / "a")
        assert found.engine is not None and found.engine.socket_path == "/var/run/docker.sock"
        assert "queries via /var/run/docker.sock" in found.describe()
        by_client = subprocess.run([docker, "image", "inspect", "-f", "{{.Id}}", image],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert found.image_id(image) == by_client.strip()
        assert found.image(f"{image}-absent") is None
        without = client.Docker(found.program, found.mode)  # the same queries by the client
        assert without.image_id(image) == found.image_id(image)
        assert without.image(image) == found.image(image)
    finally:
        subprocess.run([docker, "image", "rm", image], capture_output=True, check=False)
    subprocess.run(
        [docker, "context", "create", "galley-test", "--docker", "host=unix:///var/run/docker.sock"],
        capture_output=True, check=True,
    )  # fmt: skip
    monkeypatch.setenv("DOCKER_CONTEXT", "galley-test")
    assert client.detect(docker, tmp_path / "a").engine is None
    monkeypatch.delenv("DOCKER_CONTEXT")
    other = tmp_path / "other.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{other}")
    wrapper = str(wrapper_client(tmp_path))
    assert client.detect(wrapper, tmp_path / "b").engine is None  # nothing answers: undecided
    remembered = tmp_path / "b" / "docker" / "client-modes.json"
    assert "socket" not in json.loads(remembered.read_text())[wrapper]
    with another_daemon(other, "NOT:THE:CLIENTS:DAEMON"):
        assert client.detect(wrapper, tmp_path / "b").engine is None
    assert json.loads(remembered.read_text())[wrapper]["socket"] == ""  # decided: the client


def test_a_build_through_the_client_alone_ships_the_same(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """A build whose copy-out goes through the client (`docker create`/`cp`/`rm`) ships what
    one through the daemon's socket ships."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, main = tmp_path / "cache", workspace / "app" / "src" / "main.rs"
    manifest = workspace / "dist" / "amd64" / "manifest.json"
    args = ("build", "--backend", "docker", "--arch", "amd64", "--json")
    by_socket = only_result(galley(*args, cwd=workspace, cache=cache).stdout)
    assert "queries via /var/run/docker.sock" in by_socket["docker_client"]
    shipped = json.loads(manifest.read_text())["artifacts"]
    wrapper = wrapper_client(tmp_path)
    config = tmp_path / "galley.toml"
    config.write_text(
        f'workspace = "{workspace}"\ndist_dir = "{workspace / "dist"}"\n'
        f'[docker]\nclient = "{wrapper}"\n'
    )
    other = tmp_path / "other.sock"

    def build_by_client(source: str) -> dict[str, Any]:
        main.write_text(source)
        with another_daemon(other, "NOT:THE:CLIENTS:DAEMON"):
            done = galley(*args, "--config", str(config), cwd=workspace, cache=cache,
                          env={"DOCKER_HOST": f"unix://{other}"})  # fmt: skip
        result = only_result(done.stdout)
        assert result["docker_client"] == f"{wrapper} (buildkit)"
        return result

    edited = f"edited {uuid.uuid4().hex[:12]} on"  # new to BuildKit's cache
    by_client = build_by_client(TOY["app/src/main.rs"].replace("app on", edited))
    assert by_client["compiled"] == ["app"]
    binary = workspace / "dist" / "amd64" / "bin" / "app"
    assert edited in subprocess.run([binary], capture_output=True, text=True).stdout
    # the sources as they were: BuildKit reuses the first build's step, copied out all the same
    assert build_by_client(TOY["app/src/main.rs"]).get("cached_step") is True
    ran = subprocess.run([binary], capture_output=True, text=True, check=True)
    assert ran.stdout == "app on x86_64 pid>0=true\n"
    assert json.loads(manifest.read_text())["artifacts"] == shipped


def test_docker_errors_are_one_line(docker: str, tmp_path: Path, cargo: str) -> None:
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    base = images.base_tag(arches.get("amd64"))
    with_packages, misspelt = (
        write_tree(tmp_path / name, {
            "galley.toml": f'workspace = "{workspace}"\n[docker]\ntarget_packages = ["{package}"]\n'
        }) / "galley.toml"
        for name, package in (("conf", "zlib1g-dev"), ("typo", "zlib1g-devv"))
    )  # fmt: skip
    cases = [
        (["cook", "--backend", "docker", "--arch", "riscv64"], "no riscv64 port"),
        (["cook", "--backend", "docker", "--arch", "riscv64", "--mode", "emulate"],
         "no riscv64 port"),
        (["cook", "--backend", "docker", "--arch", "arm64", "--registry", "127.0.0.1:1"],
         "registry 127.0.0.1:1 is unreachable"),
        (["cook", "--backend", "docker", "--builder-image", "galley-nonexistent:1"],
         "galley-nonexistent"),
        (["cook", "--backend", "docker", "--builder-image", base],
         "`rustc -vV` and `cargo -V` do not run in it"),  # the base of every amd64 builder
        (["cook", "--backend", "docker", "--builder-image", base,
          "--config", str(with_packages)], f"install them in {base} instead"),
        # apt's own line, not BuildKit's "executor failed running [<the whole RUN script>]"
        (["cook", "--backend", "docker", "--arch", "s390x", "--config", str(misspelt)],
         "exited with 1: E: Unable to locate package zlib1g-devv:"),
    ]  # fmt: skip
    for args, message in cases:
        failed = galley(*args, cwd=workspace, cache=cache, check=False)
        assert_one_line_error(failed, message)
    # a daemon that is not running (a socket nobody listens on)
    dead = {"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}
    failed = galley(
        "cook", "--backend", "docker", cwd=workspace, cache=cache, check=False, env=dead
    )
    assert failed.returncode == 8
    assert_one_line_error(failed, "daemon is not running")


def test_docker_prune_dry_run_and_real(docker: str, tmp_path: Path, cargo: str) -> None:
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    cooked = only_result(
        galley("cook", "--backend", "docker", "--arch", "s390x", "--json", cwd=workspace,
               cache=cache).stdout
    )  # fmt: skip
    image = cooked["cook_image"]
    dry = galley("cache-prune", "--backend", "docker", "--keep", "0", "--dry-run", cwd=workspace,
                 cache=cache)  # fmt: skip
    assert f"{image}" in dry.stderr and "would remove" in dry.stderr
    assert "would run: /usr/bin/docker builder prune --force" in dry.stderr
    assert subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode == 0
    kept = galley("cache-prune", "--backend", "docker", "--older-than", "100w", cwd=workspace,
                  cache=cache)  # fmt: skip
    assert "removed" not in kept.stderr
    assert subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode == 0


def test_prune_removes_vendor_dirs_but_never_one_in_use(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """The vendor dirs of docker cooks (one per lockfile) are pruned like entries: by count,
    age and size, never while a cook holds one; a cook after that vendors again."""
    workspace = write_tree(tmp_path / "toy", TOY)
    cache, images = tmp_path / "cache", []

    def cook_lockfile(extra: str) -> Path:
        manifest = workspace / "app" / "Cargo.toml"
        manifest.write_text(TOY["app/Cargo.toml"] + extra)
        subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
        forget_cook_images(docker, workspace)
        cooked = galley("cook", "--backend", "docker", "--arch", "s390x", "--json",
                        cwd=workspace, cache=cache)  # fmt: skip
        images.append(only_result(cooked.stdout)["cook_image"])
        return (
            cache
            / "vendor"
            / hashlib.sha256((workspace / "Cargo.lock").read_bytes()).hexdigest()[:16]
        )

    def vendor_dirs() -> list[Path]:
        return sorted(p for p in (cache / "vendor").iterdir() if p.is_dir())

    old = cook_lockfile("")
    new = cook_lockfile('memchr = "*"\n')
    assert vendor_dirs() == sorted([old, new])
    dry = galley("cache-prune", "--keep", "1", "--dry-run", cwd=workspace, cache=cache)
    assert f"vendor  {old.name[:12]}" in re.sub(" +", "  ", dry.stderr), dry.stderr
    assert "would remove" in dry.stderr and vendor_dirs() == sorted([old, new])
    galley("cache-prune", "--keep", "1", cwd=workspace, cache=cache)
    assert vendor_dirs() == [new]
    assert sorted(cache.glob("vendor/*.lock")) == [new.with_name(f"{new.name}.lock")]
    with (new.parent / f"{new.name}.lock").open("a") as held:  # as a cook copying from it
        fcntl.flock(held, fcntl.LOCK_EX)
        busy = galley("cache-prune", "--max-size", "1K", cwd=workspace, cache=cache)
    assert "in use, kept" in busy.stderr and vendor_dirs() == [new]
    galley("cache-prune", "--older-than", "0s", cwd=workspace, cache=cache)
    assert vendor_dirs() == []
    assert cook_lockfile('memchr = "*"\n') == new and (new / "sources.toml").is_file()
    subprocess.run([docker, "image", "rm", "-f", *set(images)], capture_output=True, check=True)


def test_a_stale_lockfile_is_one_line_with_its_cause(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """A dependency added to Cargo.toml but not to Cargo.lock: the line says why vendoring
    failed (cargo's innermost cause), not only "failed to sync"."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    manifest = workspace / "app" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'memchr = "2"\n')
    forget_cook_images(docker, workspace)
    failed = galley("cook", "--backend", "docker", "--arch", "s390x", cwd=workspace,
                    cache=tmp_path / "cache", check=False)  # fmt: skip
    assert_one_line_error(
        failed,
        f"error: failed to sync: cannot update the lock file {workspace / 'Cargo.lock'} "
        "because --locked was passed",
    )


def test_refused_push_keeps_the_local_image(docker: str, tmp_path: Path, cargo: str) -> None:
    """A real registry started read-only by the test: the push is refused, nothing is lost."""
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        "  maintenance:\n    readonly:\n      enabled: true\n"
        "http:\n  addr: 127.0.0.1:5001\n"
    )
    server = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen("http://127.0.0.1:5001/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        workspace = write_tree(tmp_path / "toy", TOY)
        subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
        failed = galley(
            "cook", "--backend", "docker", "--arch", "s390x", "--registry", "127.0.0.1:5001",
            "--push", cwd=workspace, cache=tmp_path / "cache", check=False,
        )  # fmt: skip
        assert failed.returncode == 8
        last = failed.stderr.strip().splitlines()[-1]
        # the builder is pushed first (the cook is built on it)
        assert "push of 127.0.0.1:5001/galley:builder-amd64-s390x-" in last and "is kept" in last
        local = last.split("the builder image ")[1].split(" is kept")[0]
        assert (
            subprocess.run([docker, "image", "inspect", local], capture_output=True).returncode == 0
        )
    finally:
        server.terminate()
        server.wait()


def test_an_image_under_a_cook_images_name_is_used_only_if_it_is_that_cook(
    docker: str, registry: str, tmp_path: Path, cargo: str
) -> None:
    """An image under a key's cook image name that is not its cook (a tag made by hand, a push
    by mistake; here an empty image), first locally, then only in the registry, then under the
    warm image's name: each time a warning names it, nothing is built on it, and the cook is
    made (and pushed) again under the name, so the next machine pulls the right one."""
    unseen = {"Cargo.toml": TOY["Cargo.toml"] + f'[workspace.metadata]\nrun = "{uuid.uuid4()}"\n'}
    workspace = write_tree(tmp_path / "toy", {**TOY, **unseen})  # a recipe no registry has
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x", "--registry", registry, "--json")

    def cook(*extra: str) -> tuple[dict[str, Any], str]:
        done = galley("cook", *common, *extra, cwd=workspace, cache=cache)
        return only_result(done.stdout), done.stderr

    def docker_run(*args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run([docker, *args], input=stdin, capture_output=True, check=True)
        return done.stdout.decode()

    first, _ = cook()
    key, local, remote = first["key"], first["cook_image"], first["registry_image"]
    empty = f"galley-test-intruder:{key[:12]}"
    docker_run("import", "-", empty, stdin=bytes(10240))  # an empty tar: an image of nothing
    try:
        docker_run("image", "rm", local)
        docker_run("tag", empty, local)
        again, warned = cook()
        assert again["cache"] == "miss", warned
        assert warned.count(f"galley: {local} is not the cook image of key {key[:12]}") == 1
        labels = json.loads(docker_run("image", "inspect", "-f", "{{json .Config.Labels}}", local))
        assert labels["galley.key"] == key

        docker_run("tag", empty, remote)
        docker_run("push", remote)
        docker_run("image", "rm", local, remote)  # a new machine: only the registry has it
        pushed, warned = cook("--push")
        assert pushed["cache"] == "miss" and pushed["pushed"] == remote, warned
        assert warned.count(f"galley: {remote} is not the cook image of key {key[:12]}") == 1
        docker_run("image", "rm", local, remote)  # another new machine, with a stray warm name
        docker_run("tag", empty, f"{local}-warm")
        built = galley("build", *common, cwd=workspace, cache=cache)
        result = only_result(built.stdout)
        assert result["cache"] == "pulled" and "warm_image" not in result, built.stderr
        assert f"galley: {local}-warm is not the warm image of key {key[:12]}" in built.stderr
        assert "is not the cook image" not in built.stderr
        binary = workspace / "dist" / "s390x" / "bin" / "app"
        assert run_foreign(binary, "s390x-linux-gnu") == "app on s390x pid>0=true\n"
    finally:
        subprocess.run([docker, "image", "rm", "-f", empty], capture_output=True, check=False)


def test_parallel_cook_images_of_different_keys(docker: str, tmp_path: Path, cargo: str) -> None:
    """Two recipes cooked at the same time in docker: each gets its own image, with its own
    dependencies, and the binaries built on top run."""
    workspaces = {}
    for extra in ("memchr", "cfg-if"):
        files = {**TOY, "app/Cargo.toml": TOY["app/Cargo.toml"] + f'{extra} = "*"\n'}
        workspaces[extra] = write_tree(tmp_path / extra, files)
        subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspaces[extra], check=True)
    common = ["--backend", "docker", "--arch", "s390x", "--json"]
    for workspace in workspaces.values():
        forget_cook_images(docker, workspace)
    env = {**os.environ, "GALLEY_CACHE_DIR": str(tmp_path / "cache")}
    runs = {}
    for extra, workspace in workspaces.items():  # output to files: pipes would throttle them
        with (
            (tmp_path / f"{extra}.out").open("w") as out,
            (tmp_path / f"{extra}.err").open("w") as err,
        ):
            runs[extra] = subprocess.Popen(
                [sys.executable, "-m", "galley", "cook", *common], cwd=workspace, env=env,
                stdout=out, stderr=err,
            )  # fmt: skip
    images = {}
    for extra, run in runs.items():
        assert run.wait(timeout=600) == 0, (tmp_path / f"{extra}.err").read_text()[-3000:]
        images[extra] = only_result((tmp_path / f"{extra}.out").read_text())["cook_image"]
    assert images["memchr"] != images["cfg-if"]
    for extra, workspace in workspaces.items():
        other = "cfg-if" if extra == "memchr" else "memchr"
        lock = json.loads(subprocess.run(
            [docker, "image", "inspect", "-f", '{{index .Config.Labels "galley.lock"}}',
             images[extra]], capture_output=True, text=True, check=True).stdout)  # fmt: skip
        assert any(p.startswith(f"{extra} ") for p in lock)
        assert not any(p.startswith(f"{other} ") for p in lock)
        built = only_result(
            galley("build", *common, cwd=workspace, cache=tmp_path / "cache").stdout
        )
        assert built["cache"] == "hit" and built["cook_image"] == images[extra]
        binary = workspace / "dist" / "s390x" / "bin" / "app"
        assert run_foreign(binary, "s390x-linux-gnu").startswith("app on s390x")
    # later tests seed delta cooks from the closest image: leave none of these behind
    subprocess.run([docker, "image", "rm", *images.values()], capture_output=True, check=True)


def test_concurrent_cooks_of_one_lockfile_share_the_work(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """Three cooks of one workspace started at once with one cache dir (`make cook` per arch
    in parallel, two of them for s390x): the lockfile is vendored once, s390x is cooked once
    (the other s390x cook waits and hits), ppc64le is cooked beside it."""
    files = {**TOY, "app/Cargo.toml": TOY["app/Cargo.toml"] + 'memchr = "*"\ncfg-if = "*"\n'}
    workspace = write_tree(tmp_path / "ws", files)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    forget_cook_images(docker, workspace)
    env = {**os.environ, "GALLEY_CACHE_DIR": str(tmp_path / "cache")}
    runs = []
    for number, arch in enumerate(("s390x", "s390x", "ppc64le")):
        out_path, err_path = tmp_path / f"{number}.out", tmp_path / f"{number}.err"
        with out_path.open("w") as out, err_path.open("w") as err:
            command = ["cook", "--backend", "docker", "--arch", arch, "--json"]
            runs.append(subprocess.Popen(
                [sys.executable, "-m", "galley", *command], cwd=workspace, env=env,
                stdout=out, stderr=err,
            ))  # fmt: skip
    results = []
    for number, run in enumerate(runs):
        assert run.wait(timeout=600) == 0, (tmp_path / f"{number}.err").read_text()[-3000:]
        results.append(only_result((tmp_path / f"{number}.out").read_text()))
    assert sorted(r["cache"] for r in results[:2]) == ["hit", "miss"]
    assert results[0]["cook_image"] == results[1]["cook_image"]
    assert results[2]["cache"] == "miss"
    vendored = [p for p in (tmp_path / "cache" / "vendor").iterdir() if p.is_dir()]
    assert len(vendored) == 1
    assert any(p.name.startswith("memchr-") for p in (vendored[0] / "vendor").iterdir())
    assert list((tmp_path / "cache" / "docker" / "locks").iterdir()) == []  # cook locks went
    subprocess.run(
        [docker, "image", "rm", results[0]["cook_image"], results[2]["cook_image"]],
        capture_output=True, check=True,
    )  # fmt: skip


def test_concurrent_builds_share_a_cache_dir(docker: str, tmp_path: Path, cargo: str) -> None:
    """Two workspaces built at the same time for one arch with one cache dir (two CI jobs of
    one user): each dist gets the binary of its own sources. They share the arch's build
    context, so the builds take turns."""
    workspaces = {}
    for word in ("one", "two"):
        main = TOY["app/src/main.rs"].replace('"app on {}', f'"app {word} on {{}}')
        workspaces[word] = write_tree(tmp_path / word, {**TOY, "app/src/main.rs": main})
        subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspaces[word], check=True)
    common = ["--backend", "docker", "--arch", "s390x", "--json"]
    cache = tmp_path / "cache"
    galley("cook", *common, cwd=workspaces["one"], cache=cache)  # one recipe: one cook image
    env = {**os.environ, "GALLEY_CACHE_DIR": str(cache)}
    for round_ in range(2):
        runs = {}
        for word, workspace in workspaces.items():
            main = workspace / "app" / "src" / "main.rs"
            main.write_text(main.read_text().replace(" on {}", f" on {{}} {round_}", 1))
            with (tmp_path / f"{word}.err").open("w") as err:
                runs[word] = subprocess.Popen(
                    [sys.executable, "-m", "galley", "build", *common], cwd=workspace, env=env,
                    stdout=subprocess.DEVNULL, stderr=err,
                )  # fmt: skip
        for word, run in runs.items():
            assert run.wait(timeout=600) == 0, (tmp_path / f"{word}.err").read_text()[-3000:]
        for word, workspace in workspaces.items():
            printed = run_foreign(workspace / "dist" / "s390x" / "bin" / "app", "s390x-linux-gnu")
            assert printed.startswith(f"app {word} on s390x {round_}"), (word, printed)


def test_delta_cook_image(docker: str, tmp_path: Path, cargo: str) -> None:
    """Adding a dependency cooks from the previous cook image: only the new crate compiles."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    forget_cook_images(docker, workspace)  # a fresh first image, with today's labels
    first = only_result(galley("cook", *common, cwd=workspace, cache=cache).stdout)
    manifest = workspace / "app" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'itoa = "1"\n')
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    others = subprocess.run(  # only the first image may seed: other tests leave s390x images
        [docker, "images", "--filter", "label=galley.arch=s390x", "--format",
         "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for image in set(others) - {first["cook_image"]}:
        subprocess.run([docker, "image", "rm", "-f", image], capture_output=True)
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)
    second = galley("cook", *common, cwd=workspace, cache=cache)
    result = only_result(second.stdout)
    assert result["cache"] == "miss" and result["key"] != first["key"]
    assert result["seeded_from"] == first["cook_image"]
    compiling = {
        line.split("Compiling ")[1].split()[0]
        for line in second.stderr.splitlines()
        if " Compiling " in line
    }
    assert "itoa" in compiling and "libc" not in compiling, compiling
    built = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert built["cache"] == "hit"
    assert run_foreign(workspace / "dist" / "s390x" / "bin" / "app", "s390x-linux-gnu").startswith(
        "app on s390x"
    )


BUILT_AT = (
    "fn main() {\n"
    "    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();\n"
    '    println!("cargo:rustc-env=BUILT_AT={}", t.as_nanos());\n'
    "}\n"
)


def test_verify_reproducible_rebuilds_from_scratch(docker: str, tmp_path: Path, cargo: str) -> None:
    """With the docker backend, `verify --reproducible` cooks again with no cook image, no
    delta seed and no layer cache, under a throw-away name it removes afterwards."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x")
    galley("build", *common, cwd=workspace, cache=cache)
    ok = galley("verify", "--reproducible", *common, cwd=workspace, cache=cache)
    assert "verify OK" in ok.stderr
    from_scratch = [
        line for line in ok.stderr.splitlines() if " build " in line and "--no-cache" in line
    ]
    assert len(from_scratch) == 2, ok.stderr[-3000:]  # the cook stage and the build stage
    assert "--tag galley-verify-" in from_scratch[0]
    assert "Compiling libc" in ok.stderr.split(from_scratch[0])[1]  # cooked again, not reused
    left = subprocess.run([docker, "images", "--format", "{{.Repository}}"], capture_output=True,
                          text=True, check=True).stdout.split()  # fmt: skip
    assert not [name for name in left if name.startswith("galley-verify-")]
    # a build script that embeds the time: the fresh rebuild differs and verify names the files
    (workspace / "app" / "build.rs").write_text(BUILT_AT)
    main = workspace / "app" / "src" / "main.rs"
    main.write_text(
        main.read_text().replace("fn main() {", 'fn main() { println!("{}", env!("BUILT_AT"));')
    )
    galley("build", *common, cwd=workspace, cache=cache)
    failed = galley("verify", "--reproducible", *common, cwd=workspace, cache=cache, check=False)
    assert failed.returncode == 9, failed.stderr[-3000:]
    assert "s390x: bin/app differs from a fresh rebuild" in failed.stderr
    assert "s390x: rootfs.tar differs from a fresh rebuild" in failed.stderr


def wait_for_dockerd_to_exit() -> None:
    for _ in range(120):
        if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0:
            break
        time.sleep(0.5)


def start_dockerd() -> None:
    """Start the shared daemon again the way CI does, once the stopped one has exited."""
    wait_for_dockerd_to_exit()
    subprocess.run(["bash", str(REPO / "ci" / "docker" / "provision.sh")], check=True,
                   capture_output=True, timeout=300)  # fmt: skip


def test_daemon_stopped_mid_cook(docker: str, tmp_path: Path) -> None:
    """`dockerd` stopped (SIGTERM, as `systemctl stop docker` does) while a cook compiles: one
    clear line, exit 8, no half-made image tagged, every earlier image kept; once the daemon
    is back the same command succeeds. The test stops the shared daemon and starts it again,
    so the suite runs it alone (pytest runs tests one at a time here)."""
    workspace = tmp_path / "agent"
    shutil.copytree(EXAMPLE, workspace, ignore=shutil.ignore_patterns("target"))
    cache = tmp_path / "cache"
    # a key no other test uses, so the cook really compiles (and takes tens of seconds)
    env = {"RUSTFLAGS": f"--cfg galley_daemon_test_{os.getpid()}"}
    before = set(subprocess.run([docker, "images", "-q", "--no-trunc"], capture_output=True,
                                text=True, check=True).stdout.split())  # fmt: skip
    argv = [sys.executable, "-m", "galley", "cook", "--backend", "docker", "--arch", "amd64",
            "--json"]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=workspace, env={**os.environ, "GALLEY_CACHE_DIR": str(cache), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            if sum(" Compiling " in s for s in seen) >= 3:
                break
        assert sum(" Compiling " in s for s in seen) >= 3, "".join(seen)[-3000:]
        subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=True)
        _, rest = process.communicate(timeout=180)
        wait_for_dockerd_to_exit()
        # the cache dir remembers the daemon's socket: queries there fail as clearly
        assert "queries via /var/run/docker.sock" in "".join(seen)
        down = galley(*argv[3:], cwd=workspace, cache=cache, check=False, env=env)
        assert down.returncode == 8
        assert_one_line_error(down, "daemon is not running")
    finally:
        if process.poll() is None:
            process.kill()
        start_dockerd()
    stderr = "".join(seen) + rest
    assert process.returncode == 8, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("galley: error: the docker daemon stopped during `docker build`"), last
    assert "Traceback" not in stderr
    after = set(subprocess.run([docker, "images", "-q", "--no-trunc"], capture_output=True,
                               text=True, check=True).stdout.split())  # fmt: skip
    assert before <= after  # nothing lost
    key_tag = [w for w in stderr.split() if w.startswith("galley-cook:amd64-")]
    assert key_tag, stderr[-3000:]
    assert (
        subprocess.run([docker, "image", "inspect", key_tag[0]], capture_output=True).returncode
        != 0
    )  # nothing half-made is tagged
    again = galley("cook", "--backend", "docker", "--arch", "amd64", "--json", cwd=workspace,
                   cache=cache, env=env)  # fmt: skip
    result = only_result(again.stdout)
    assert result["cache"] == "miss" and result["cook_image"] == key_tag[0]
    assert not list((cache / "docker").glob("cook-*"))  # the dead run's context is gone
    subprocess.run([docker, "image", "rm", key_tag[0]], capture_output=True, check=True)


WARM_TOY = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "greet"]\nresolver = "2"\n',
    "greet/Cargo.toml": '[package]\nname = "greet"\nversion = "0.1.0"\nedition = "2021"\n',
    "greet/src/lib.rs": 'pub fn greeting() -> &\'static str {\n    "hello"\n}\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibc = "0.2"\ngreet = { path = "../greet" }\n'
    ),
    "app/src/main.rs": (
        'const EDIT: &str = "one";\n'
        'fn main() { println!("{} {} {}", greet::greeting(), EDIT, '
        "unsafe { libc::getpid() } > 0); }\n"
    ),
}


def new_machine(docker: str, workspace: Path, cache: Path) -> Path:
    """What a fresh CI machine has: no cook or warm image, no builder cache, no galley cache
    dir (returned: a new one)."""
    forget_cook_images(docker, workspace)
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)
    return cache.with_name(cache.name + "-new")


def test_a_new_machine_starts_from_the_warm_image(
    docker: str, registry: str, tmp_path: Path, cargo: str
) -> None:
    """`build --push` publishes the compiled workspace crates; a new machine recompiles only
    the crates whose sources changed, even when a changed file has an old mtime."""
    unseen = {
        "Cargo.toml": WARM_TOY["Cargo.toml"] + f'[workspace.metadata]\nrun = "{uuid.uuid4()}"\n'
    }
    workspace = write_tree(tmp_path / "toy", {**WARM_TOY, **unseen})  # a recipe no registry has
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x", "--registry", registry, "--json")
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    cache = new_machine(docker, workspace, cache)  # other tests built these crates already

    first = only_result(galley("build", *common, "--push", cwd=workspace, cache=cache).stdout)
    assert first["cache"] == "miss" and set(first["compiled"]) == {"app", "greet"}
    assert first["pushed_warm"] == f"{registry}/galley:warm-s390x-{first['key'][:12]}"

    cache = new_machine(docker, workspace, cache)
    main = workspace / "app" / "src" / "main.rs"
    main.write_text(main.read_text().replace('"one"', '"two"'))
    for path in workspace.rglob("*.rs"):
        os.utime(path)  # a fresh checkout: every mtime is new
    pulled = only_result(galley("build", *common, "--push", cwd=workspace, cache=cache).stdout)
    assert pulled["cache"] == "pulled" and pulled["warm_image"].endswith("-warm")
    assert pulled["compiled"] == ["app"]  # greet came compiled with the warm image
    assert run_foreign(binary, "s390x-linux-gnu") == "hello two true\n"

    cache = new_machine(docker, workspace, cache)
    lib = workspace / "greet" / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace('"hello"', '"howdy"'))
    os.utime(lib, (978307200, 978307200))  # 2001: older than every warm artifact
    stale_mtime = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert stale_mtime["cache"] == "pulled" and "warm_image" in stale_mtime
    assert set(stale_mtime["compiled"]) == {"app", "greet"}
    assert run_foreign(binary, "s390x-linux-gnu") == "howdy two true\n"


def test_a_dependency_bump_keeps_the_workspace_crates(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """The build cache mount outlives a new key: after a dependency is added to `app`, the cook
    compiles only the new crate and the build only `app`; `greet` stays built."""
    workspace = write_tree(tmp_path / "toy", WARM_TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    forget_cook_images(docker, workspace)
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)
    first = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert set(first["compiled"]) == {"app", "greet"}

    manifest = workspace / "app" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'itoa = "1"\n')
    main = workspace / "app" / "src" / "main.rs"
    main.write_text(main.read_text().replace(", EDIT,", ", itoa::Buffer::new().format(7),"))
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    forget_cook_images(docker, workspace)  # an earlier run's cook of the bumped recipe
    bumped = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert bumped["key"] != first["key"] and "seeded_from" in bumped  # a delta cook
    assert bumped["compiled"] == ["app"]
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == "hello 7 true\n"

    manifest.write_text(manifest.read_text().replace('itoa = "1"\n', ""))
    text = main.read_text().replace(", itoa::Buffer::new().format(7),", ", EDIT,")
    main.write_text(text.replace('"one"', '"back"'))
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    back = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert back["key"] == first["key"] and back["compiled"] == ["app"]
    assert run_foreign(binary, "s390x-linux-gnu") == "hello back true\n"


def test_dependencies_named_unlike_their_libraries_stay_cooked(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """Dependencies whose library names differ from their package names (md-5's is `md5`) keep
    their artifacts through drop.sh: the build that fills the cache mount from the cook compiles
    only the workspace's crate, and after a dependency is added, the delta cook seeded from that
    cook compiles only the new one and the build only the workspace's crate again."""
    workspace = write_tree(tmp_path / "renamed", RENAMED_LIBS)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    unique = {"RUSTFLAGS": f"--cfg galley_test_{uuid.uuid4().hex}"}  # a new cook and mount

    def build() -> subprocess.CompletedProcess[str]:
        return galley("build", *common, cwd=workspace, cache=tmp_path / "cache", env=unique)

    first = only_result(build().stdout)
    assert first["cache"] == "miss" and first["compiled"] == ["app"]
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == RENAMED_LIBS_OUTPUT

    manifest = workspace / "app" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'itoa = "1"\n')
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    bumped = build()
    result = only_result(bumped.stdout)
    assert result["seeded_from"] == first["cook_image"] and result["compiled"] == ["app"]
    compiling = {
        line.split("Compiling ")[1].split()[0]
        for line in bumped.stderr.splitlines()
        if " Compiling " in line
    }
    assert compiling == {"itoa", "app"}, compiling  # app: the cook's dummy, then the real one
    assert run_foreign(binary, "s390x-linux-gnu") == RENAMED_LIBS_OUTPUT


def test_a_bump_cooked_elsewhere_keeps_the_workspace_crates(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """A bump whose cook image was cooked after the last build (by a CI machine, then pulled):
    its dependencies' artifacts are newer than the workspace crates in the cache mount, and a
    crate is stale to cargo when a dependency is newer. Only the bumped crate compiles: the
    mount keeps its own copy of every artifact the new cook shares with it."""
    toy = {
        **WARM_TOY,
        "greet/Cargo.toml": WARM_TOY["greet/Cargo.toml"] + '[dependencies]\nlibc = "0.2"\n',
    }
    workspace = write_tree(tmp_path / "toy", toy)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    unique = {"RUSTFLAGS": f"--cfg galley_test_{uuid.uuid4().hex}"}  # no other test's seed fits

    def build(*args: str, cwd: Path, cache: str) -> dict[str, Any]:
        return only_result(galley(*args, cwd=cwd, cache=tmp_path / cache, env=unique).stdout)

    first = build("build", *common, cwd=workspace, cache="cache")
    assert set(first["compiled"]) == {"app", "greet"}

    def bump(tree: Path) -> None:
        manifest = tree / "app" / "Cargo.toml"
        manifest.write_text(manifest.read_text() + 'itoa = "1"\n')
        subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=tree, check=True)

    elsewhere = tmp_path / "ci-machine"
    shutil.copytree(workspace, elsewhere, ignore=shutil.ignore_patterns("dist"))
    bump(elsewhere)
    forget_cook_images(docker, workspace)  # no seed: the bump's cook starts from nothing
    time.sleep(1.1)  # image layers keep whole seconds: its artifacts must be newer than ours
    cooked = build("cook", *common, cwd=elsewhere, cache="ci")
    assert cooked["cache"] == "miss" and "seeded_from" not in cooked

    bump(workspace)
    bumped = build("build", *common, cwd=workspace, cache="cache")
    assert bumped["cook_image"] == cooked["cook_image"] and bumped["cache"] == "hit"
    assert bumped["compiled"] == ["app"]
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == "hello one true\n"


def test_a_fill_cut_short_is_done_again(docker: str, tmp_path: Path, cargo: str) -> None:
    """A build stopped while it filled the cache mount from a cook (Ctrl-C, a stopped daemon)
    leaves part-copied files there, which the next fill must not keep. Made by hand, a fault
    no test can time: the mark of a fill in progress, another key, a truncated dependency."""
    unseen = {"app/src/main.rs": TOY["app/src/main.rs"] + f"// {uuid.uuid4()}\n"}
    workspace = write_tree(tmp_path / "toy", {**TOY, **unseen})  # the build step runs
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    cache = tmp_path / "cache"
    first = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert first["compiled"] == ["app"]
    dockerfile = (cache / "docker" / "build-s390x" / "Dockerfile").read_text()
    found = re.search(r"id=(galley-s390x-[0-9a-f]{16}),target=/galley/target", dockerfile)
    assert found, dockerfile
    damage = write_tree(tmp_path / "damage", {"Dockerfile": (
        f"FROM {first['cook_image']}\n"
        f"RUN --mount=type=cache,id={found.group(1)},target=/galley/target,sharing=locked "
        "cd /galley/target && touch .galley-filling && echo another-key > .galley-key && "
        "for f in s390x-unknown-linux-gnu/release/deps/liblibc-*.rlib; do : > $f; done "
        f"&& echo {uuid.uuid4()}\n"  # a step BuildKit has not cached (--no-cache: a new mount)
    )})  # fmt: skip
    subprocess.run([docker, "build", "-q", str(damage)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "1"})  # fmt: skip

    main = workspace / "app" / "src" / "main.rs"
    main.write_text(main.read_text().replace('"app on {}', '"app again on {}'))
    again = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert again["compiled"] == ["app"]
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    assert run_foreign(binary, "s390x-linux-gnu") == "app again on s390x pid>0=true\n"


def damage_mount(docker: str, cache: Path, cook_image: str, keep_mtime: bool, where: Path) -> str:
    """Flip 64 bytes of libc's rlib in the s390x build cache mount of `cache`'s last build,
    through a BuildKit step that mounts it (the only way into a cache mount); `keep_mtime`: as
    a bad sector does. Returns the rlib's path in the mount."""
    dockerfile = (cache / "docker" / "build-s390x" / "Dockerfile").read_text()
    found = re.search(r"id=(galley-s390x-[0-9a-f]{16}),target=/galley/target", dockerfile)
    assert found, dockerfile
    run = [docker, "run", "--rm", "--network", "none", cook_image]
    listed = subprocess.run([*run, "sh", "-c", "ls /galley/target/*/release/deps/liblibc-*.rlib"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    [path] = listed
    rlib = subprocess.run([*run, "cat", path], capture_output=True, check=True).stdout
    offset, flipped = flipped_metadata(rlib)  # the cook's copy is the mount's: the fill copied it
    (where / "flipped.bin").write_bytes(flipped)
    keep = "touch -r /tmp/before {path} && " if keep_mtime else ""
    (where / "Dockerfile").write_text(
        f"FROM {cook_image}\nCOPY flipped.bin /galley/flipped.bin\n"
        f"RUN --mount=type=cache,id={found.group(1)},target=/galley/target,sharing=locked "
        f"cp -p {path} /tmp/before && "
        f"dd if=/galley/flipped.bin of={path} bs=1 seek={offset} conv=notrunc status=none && "
        + keep.format(path=path)
        + f"echo {uuid.uuid4()}\n"  # a step BuildKit has not cached
    )
    subprocess.run([docker, "build", "-q", str(where)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "1"})  # fmt: skip
    return path.removeprefix("/galley/target/")


def test_a_damaged_dependency_in_the_cache_mount_is_found_and_healed(
    docker: str, tmp_path: Path, cargo: str
) -> None:
    """64 bytes of libc's rlib in the build cache mount flipped by hand, through a BuildKit step
    with the same cache mount (a bad sector cannot be caused on purpose): `verify` names it and
    the next build restores it from the cook image; with its mtime kept (no cheap check sees
    it), the build fails, restores and builds again; `verify --repair` restores it too. Each
    binary runs right under qemu. Before: verify said OK, and every build failed."""
    unique = {"RUSTFLAGS": f"--cfg galley_test_{uuid.uuid4().hex}"}  # a mount no other test uses
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x")
    main = workspace / "app" / "src" / "main.rs"
    binary = workspace / "dist" / "s390x" / "bin" / "app"

    def edit_and_build(word: str) -> subprocess.CompletedProcess[str]:
        main.write_text(re.sub(r'"app \w* ?on', f'"app {word} on', main.read_text()))
        built = galley("build", *common, "--json", cwd=workspace, cache=cache, env=unique)
        assert run_foreign(binary, "s390x-linux-gnu") == f"app {word} on s390x pid>0=true\n"
        return built

    cook_image = only_result(edit_and_build("first").stdout)["cook_image"]
    galley("verify", *common, cwd=workspace, cache=cache, env=unique)  # untouched: OK

    damage = tmp_path / "damage"
    damage.mkdir()
    rlib = damage_mount(docker, cache, cook_image, keep_mtime=True, where=damage)
    failed = galley("verify", *common, cwd=workspace, cache=cache, env=unique, check=False)
    fails = [line for line in failed.stderr.splitlines() if line.startswith("  FAIL: ")]
    assert failed.returncode == 9 and len(fails) == 1, failed.stderr[-3000:]
    assert f"build cache mount of s390x: {rlib} differs from {cook_image}" in fails[0]
    healed = edit_and_build("second")  # verify marked it: restored before cargo runs
    assert only_result(healed.stdout)["healed"] == [rlib]
    galley("verify", *common, cwd=workspace, cache=cache, env=unique)

    damage_mount(docker, cache, cook_image, keep_mtime=True, where=damage)
    retried = edit_and_build("third")
    assert "error: could not compile `app`" in retried.stderr  # rustc: corrupt metadata
    said = [line for line in retried.stderr.splitlines() if "galley: the build failed" in line]
    assert len(said) == 1 and "restored, building again" in said[0], retried.stderr[-3000:]
    assert only_result(retried.stdout)["healed"] == [rlib]

    damage_mount(docker, cache, cook_image, keep_mtime=True, where=damage)
    repaired = galley("verify", "--repair", *common, cwd=workspace, cache=cache, env=unique)
    assert f"build cache mount of s390x: {rlib} differed from {cook_image}; restored" in (
        repaired.stderr
    )
    galley("verify", *common, cwd=workspace, cache=cache, env=unique)
    assert "healed" not in only_result(edit_and_build("fourth").stdout)


def test_an_edit_with_an_old_mtime_is_rebuilt(docker: str, tmp_path: Path, cargo: str) -> None:
    """cargo-chef #212 in the build cache mount: a source edited after the last build but with
    an older mtime than its artifacts (a tarball, a restored CI cache, a BuildKit COPY layer
    reused from an earlier build) is still rebuilt; an unchanged file whose mtime moved is not."""
    # NOTES.txt (in no crate) makes every context of this run new to BuildKit, whose cache may
    # hold the build steps of an earlier run of this test: each build below runs its step
    notes = {"NOTES.txt": f"run {uuid.uuid4()}\n"}
    workspace = write_tree(tmp_path / "toy", {**WARM_TOY, **notes})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ("--backend", "docker", "--arch", "s390x", "--json")
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    galley("build", *common, cwd=workspace, cache=cache)

    lib = workspace / "greet" / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace('"hello"', '"old mtime"'))
    os.utime(lib, (978307200, 978307200))  # 2001: older than every artifact
    old = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert set(old["compiled"]) == {"app", "greet"}
    assert run_foreign(binary, "s390x-linux-gnu") == "old mtime one true\n"

    main = workspace / "app" / "src" / "main.rs"
    main.write_text(main.read_text() + "// a comment\n")  # new content: the build step reruns
    os.utime(lib)  # unchanged content, new mtime
    touched = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert touched["compiled"] == ["app"]

    # Back to the first build's sources, whose context equals the first build's: BuildKit
    # reuses that build's step, and its outputs are the first build's program.
    for name, text in WARM_TOY.items():
        (workspace / name).write_text(text)
    reverted = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert reverted["cached_step"] is True and reverted["compiled"] == []
    assert run_foreign(binary, "s390x-linux-gnu") == "hello one true\n"
    # An unrelated file changed: the step runs, on sources older than the edited artifacts in the
    # mount. The reverted crates compile again and the first build's program comes out.
    (workspace / "NOTES.txt").write_text(f"run {uuid.uuid4()}\n")
    rerun = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert "cached_step" not in rerun and set(rerun["compiled"]) == {"app", "greet"}
    assert run_foreign(binary, "s390x-linux-gnu") == "hello one true\n"


def test_warm_sources_are_retimed(docker: str, tmp_path: Path) -> None:
    """The warm-image step of build.sh in the builder image, on warm artifacts from a machine
    whose clock is a day ahead: an unchanged source gets its recorded mtime back (in whole
    seconds), a changed one is made newer than every warm artifact (so cargo rebuilds it), not
    just "now"."""
    from galley.backends.docker import scripts

    builder = json.loads(galley("builder-image", "--arch", "amd64", "--json", cwd=REPO,
                                cache=tmp_path / "cache").stdout)["image"]  # fmt: skip
    ahead = int(time.time()) + 86400
    setup = f"""set -eu
mkdir -p /galley/warm/target/release /galley/target /galley/src
touch -d @{ahead} /galley/warm/target/release/libgreet.rlib
echo same > /galley/src/same.rs && echo new > /galley/src/changed.rs
printf '%s 1000000000.5 /galley/src/same.rs\\n' "$(echo same | sha256sum | cut -d' ' -f1)" \\
    > /galley/warm/sources.txt
printf '%s 1000000000.5 /galley/src/changed.rs\\n' "$(echo old | sha256sum | cut -d' ' -f1)" \\
    >> /galley/warm/sources.txt
"""
    check = (
        "stat -c '%n %.9Y' /galley/src/same.rs /galley/src/changed.rs "
        + "/galley/target/release/libgreet.rlib"
    )
    script = setup + scripts.warm_apply_script() + scripts.retime_script() + check
    out = subprocess.run([docker, "run", "--rm", "--network=none", builder, "sh", "-c", script],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    mtimes = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()}
    assert mtimes["/galley/src/same.rs"] == 1000000000  # whole seconds, as image layers keep
    assert mtimes["/galley/target/release/libgreet.rlib"] == ahead  # copied, mtime kept
    assert mtimes["/galley/src/changed.rs"] > ahead


def test_a_build_right_after_the_last_one_does_not_wait(docker: str, tmp_path: Path) -> None:
    """The retime step of build.sh, with an artifact written this very moment (the last build
    just ended): the changed source is stamped newer than it and not ahead of the clock, so
    nothing is waited for (with a stamp in whole seconds it waited up to 1 s)."""
    from galley.backends.docker import scripts

    builder = json.loads(galley("builder-image", "--arch", "amd64", "--json", cwd=REPO,
                                cache=tmp_path / "cache").stdout)["image"]  # fmt: skip
    setup = f"""set -eu
mkdir -p /galley/target/release /galley/src
echo new > /galley/src/changed.rs
printf '%s 1000000000.5 /galley/src/changed.rs\\n' "$(echo old | sha256sum | cut -d' ' -f1)" \\
    > /galley/target/{scripts.SOURCES}
touch /galley/target/release/libgreet.rlib
start=$(date +%s.%N)
"""
    check = (
        'echo elapsed $(awk -v s="$start" -v e="$(date +%s.%N)" \'BEGIN { print e - s }\')\n'
        "echo end $(date +%s.%N)\n"
        "stat -c '%n %.9Y' /galley/src/changed.rs /galley/target/release/libgreet.rlib\n"
    )
    script = setup + scripts.retime_script() + check
    out = subprocess.run([docker, "run", "--rm", "--network=none", builder, "sh", "-c", script],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    values = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()}
    assert values["elapsed"] < 0.5, out
    artifact = values["/galley/target/release/libgreet.rlib"]
    assert artifact < values["/galley/src/changed.rs"] <= values["end"], out


def test_prune_keeps_or_removes_every_reference_of_a_key(
    docker: str, registry: str, tmp_path: Path, cargo: str
) -> None:
    """Two keys of one arch, each under its local tag and its registry name: `--keep 1` keeps
    both names of the newer key and removes both of the older one; a build of the newer key is
    then still a hit. Last in this module: a real prune is daemon-wide (images and builder
    cache), so it would take earlier tests' images with it."""
    unique = f'description = "prune test {uuid.uuid4()}"\n'  # a recipe no registry has seen
    manifest = TOY["app/Cargo.toml"].replace("[dependencies]\n", unique + "[dependencies]\n")
    workspace = write_tree(tmp_path / "toy", {**TOY, "app/Cargo.toml": manifest})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    common = ["--backend", "docker", "--arch", "s390x", "--json"]
    names = {}
    for profile in ("dev", "release"):  # release is the newer key
        cooked = only_result(
            galley(
                "cook",
                *common,
                "--profile",
                profile,
                "--registry",
                registry,
                "--push",
                cwd=workspace,
                cache=cache,
            ).stdout
        )
        assert cooked["cache"] == "miss"
        names[profile] = (cooked["cook_image"], cooked["registry_image"])
        time.sleep(1.1)  # the created labels are whole seconds

    def actions(output: str) -> dict[str, str]:
        rows = [line.split(None, 3) for line in output.splitlines() if line.startswith("  s390x")]
        return {row[1]: row[3].strip() for row in rows if len(row) == 4}

    dry = actions(galley("cache-prune", "--backend", "docker", "--keep", "1", "--dry-run",
                         cwd=workspace, cache=cache).stderr)  # fmt: skip
    assert [dry[name] for name in names["release"]] == ["keep", "keep"], dry
    assert [dry[name] for name in names["dev"]] == ["would remove", "would remove"], dry
    real = actions(galley("cache-prune", "--backend", "docker", "--keep", "1", cwd=workspace,
                          cache=cache).stderr)  # fmt: skip
    assert [real[name] for name in names["dev"]] == ["removed", "removed"], real

    def present(name: str) -> bool:
        inspect = [docker, "image", "inspect", name]
        return subprocess.run(inspect, capture_output=True).returncode == 0

    assert all(present(name) for name in names["release"])
    assert not any(present(name) for name in names["dev"])
    built = only_result(galley("build", *common, cwd=workspace, cache=cache).stdout)
    assert built["cache"] == "hit" and built["cook_image"] == names["release"][0]
    assert run_foreign(workspace / "dist" / "s390x" / "bin" / "app", "s390x-linux-gnu").startswith(
        "app on s390x"
    )
