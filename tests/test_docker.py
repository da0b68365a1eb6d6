"""The docker backend against the real daemon, registry and qemu (CI provisions all three)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from galley import elf
from galley.chef import prepare
from helpers import EXAMPLE, require, write_tree

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOCKER = "/usr/bin/docker"
REGISTRY = "127.0.0.1:5000"
TOY = {
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


@pytest.fixture(scope="module")
def docker() -> str:
    up = subprocess.run([DOCKER, "info"], capture_output=True, check=False).returncode == 0
    require(up, "a running docker daemon (/usr/bin/docker)")
    return DOCKER


@pytest.fixture(scope="module")
def registry(docker: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as response:
            reachable = response.status == 200
    except OSError:
        reachable = False
    require(reachable, f"the local registry at {REGISTRY}")
    return REGISTRY


def galley(
    *args: str, cwd: Path, cache: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GALLEY_CACHE_DIR": str(cache), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "galley", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, result.stderr[-5000:]
    return result


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


def test_arm64_emulated_build(docker: str, tmp_path: Path, cargo: str) -> None:
    """Emulate mode: an arm64 builder under qemu, no cross linker (tiny crate: qemu is slow)."""
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    result = only_result(
        galley("build", "--backend", "docker", "--mode", "emulate", "--arch", "arm64", "--json",
               cwd=workspace, cache=tmp_path / "cache").stdout
    )  # fmt: skip
    assert result["builder_image"].startswith("galley-builder:emulate-arm64-")
    binary = workspace / "dist" / "arm64" / "bin" / "app"
    info = elf.read_elf(binary)
    assert info is not None and info.machine == elf.EM_AARCH64
    assert run_foreign(binary, "aarch64-linux-gnu") == "app on aarch64 pid>0=true\n"


def test_docker_errors_are_one_line(docker: str, tmp_path: Path, cargo: str) -> None:
    workspace = write_tree(tmp_path / "toy", TOY)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    cases = [
        (["cook", "--backend", "docker", "--arch", "riscv64"], "no cross std"),
        (["cook", "--backend", "docker", "--arch", "arm64", "--registry", "127.0.0.1:1"],
         "registry 127.0.0.1:1 is unreachable"),
        (["cook", "--backend", "docker", "--builder-image", "galley-nonexistent:1"],
         "galley-nonexistent"),
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
        assert "push of 127.0.0.1:5001/galley:cook-s390x-" in last and "is kept" in last
        local = last.split("the local cook image ")[1].split(" is kept")[0]
        assert (
            subprocess.run([docker, "image", "inspect", local], capture_output=True).returncode == 0
        )
    finally:
        server.terminate()
        server.wait()


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
    forget_cook_images(docker, workspace)  # this recipe's image, if an earlier run left one
    subprocess.run([docker, "builder", "prune", "-af"], capture_output=True, check=True)
    second = galley("cook", *common, cwd=workspace, cache=cache)
    result = only_result(second.stdout)
    assert result["cache"] == "miss" and result["key"] != first["key"]
    assert result["seeded_from"].startswith("galley-cook:s390x-")
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
