"""File digests (one implementation for the store, the dist and the cook cleanup)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    with path.open("rb") as handle:
        return sha256_stream(handle)


def sha256_stream(handle: IO[bytes]) -> str:
    """Hex sha256 of what an open binary file (or a tar member) holds, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
