"""galley as a user installs it: a wheel built from the checkout, in a venv of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import REPO, write_tree

BARE = {
    "Cargo.toml": '[package]\nname = "bare"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/main.rs": 'fn main() { println!("bare from an installed galley"); }\n',
}


def checkout_copy(destination: Path) -> Path:
    """The files git tracks in the checkout, symlinks as symlinks (setuptools builds in the
    source tree: its `build/lib` would land in the checkout's `build/`, and stale files there
    in the wheel)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        if name.startswith("tests/corpus/") or not os.path.lexists(REPO / name):
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target, follow_symlinks=False)
    return destination


def test_an_installed_wheel_builds_in_docker(docker: str, tmp_path: Path, cargo: str) -> None:
    """`pip wheel .`, installed (its dependencies from PyPI) into a venv outside the checkout,
    run from a directory with no checkout in reach and none on PYTHONPATH: the Dockerfiles and
    scripts come from the package, and a docker build works (the wheel used to carry none of
    them: "build/ templates must sit beside the package")."""
    source, wheels = checkout_copy(tmp_path / "source"), tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("galley-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"galley/assets/Dockerfile.builder", "galley/assets/build-base.sh"} <= set(names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, env=clean, cwd=tmp_path)
    workspace = write_tree(tmp_path / "bare", BARE)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import galley; print(galley.__file__)"],
        cwd=workspace, env=clean, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(REPO)
    built = subprocess.run(
        [str(venv / "bin" / "galley"), "build", "--backend", "docker", "--arch", "amd64"],
        cwd=workspace, env={**clean, "GALLEY_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    binary = workspace / "dist" / "amd64" / "bin" / "bare"
    ran = subprocess.run([binary], capture_output=True, text=True, check=True)
    assert ran.stdout == "bare from an installed galley\n"
