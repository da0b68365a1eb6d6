"""A second CI runner: a docker daemon of its own, with no image at all, fed by the registry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers import LIBC_TOY as TOY
from helpers import REPO, galley, require, write_tree

sys.path.insert(0, str(REPO))
from benchmarks.runners import runner

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def only_result(output: str) -> dict[str, Any]:
    (result,) = json.loads(output)["results"]
    return dict(result)


def test_a_runner_with_no_image_builds_from_the_registry_alone(
    docker: str, registry: str, tmp_path: Path, cargo: str
) -> None:
    """The main daemon builds and pushes (builder, cook and warm images); a second dockerd in
    a network namespace of its own (no bridge, no route out: it reaches the registry through a
    forwarder at the same 127.0.0.1:5000), started with no image, builds the same workspace:
    the builder is pulled (before the cook image, and the same image: the key, which holds the
    builder's ID, is the same), the cook image is pulled, nothing is cooked. Before, the
    builder was never in the registry: a new machine built it (minutes) or could not (no
    network). The main daemon still runs bridged containers afterwards."""
    require(shutil.which("ip") is not None and shutil.which("nsenter") is not None, "ip, nsenter")
    metadata = f'[workspace.metadata]\nrun = "{uuid.uuid4()}"\n'  # a recipe no registry has
    workspace = write_tree(tmp_path / "toy", {**TOY, "Cargo.toml": TOY["Cargo.toml"] + metadata})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    common = ("build", "--backend", "docker", "--arch", "s390x", "--registry", registry, "--json")
    first = only_result(galley(*common, "--push", cwd=workspace, cache=tmp_path / "a").stdout)
    assert first["cache"] == "miss" and first["builder"] in ("hit", "built")
    assert 0 < first["builder_size"] <= 1_200_000_000

    with runner("test", Path("/var/tmp") / f"galley-runner-{uuid.uuid4().hex[:8]}") as second:
        assert second.docker("images", "-q").stdout.split() == []
        done = galley(*common, cwd=workspace, cache=tmp_path / "b", env=second.env)
        result = only_result(done.stdout)
        images = second.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert result["builder"] == "pulled" and result["builder_image"] == first["builder_image"]
    assert result["cache"] == "pulled" and result["key"] == first["key"], done.stderr[-3000:]
    assert "cook_seconds" not in result and "Compiling libc" not in done.stderr
    pulls = [line for line in done.stderr.splitlines() if " pull " in line]
    assert ":builder-" in pulls[0] and any(":cook-s390x-" in line for line in pulls[1:]), pulls
    assert not any(name.startswith("galley-base:") for name in images)  # nothing debootstrapped
    assert second.counts["pulled"] > 300_000_000  # the builder, through the forwarder
    binary = workspace / "dist" / "s390x" / "bin" / "app"
    qemu = ["qemu-s390x-static", "-L", "/usr/s390x-linux-gnu", str(binary)]
    ran = subprocess.run(qemu, capture_output=True, text=True, check=True)
    assert ran.stdout == "app on s390x pid>0=true\n"
    # the main daemon is untouched: its bridge works and its images are there
    bridged = [docker, "run", "--rm", "--network", "bridge", first["builder_image"], "true"]
    subprocess.run(bridged, check=True, capture_output=True)
    again = only_result(galley(*common, cwd=workspace, cache=tmp_path / "a").stdout)
    assert again["cache"] == "hit" and again["builder"] == "hit"
