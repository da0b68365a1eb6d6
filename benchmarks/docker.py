"""Issue #4's benchmark: the docker backend per arch against a naive Dockerfile, in one run.

`galley build --backend docker` cold, after a one-line edit (warm), registry-pulled and after a
dependency bump, and the naive Dockerfile (`COPY` the sources, `cargo build`) rebuilt after the
same edit, for amd64 and arm64 (cross). It is `benchmarks/compare.py` limited to those two
systems, with the same outputs; its other options pass through:

    .venv/bin/python benchmarks/docker.py [--runs 3] [--arch amd64 --arch arm64] [--out DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import compare

DOCKER_SYSTEMS = ["--system", "naive", "--system", "galley-docker"]

if __name__ == "__main__":
    sys.argv[1:1] = DOCKER_SYSTEMS
    compare.main()
