"""The docker backend's files (Dockerfiles, sh scripts), read as package resources.

They live in the repository's top-level `build/`; `galley/assets` is a symlink to it, which
setuptools follows, so a wheel carries them as regular files under `galley/assets/` and an
installed galley needs no checkout. Docker reads files from a directory, so `write` puts the
ones a build needs into a build context.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from galley import filelock
from galley.errors import DockerError


def text(name: str) -> str:
    """The content of asset `name` (`Dockerfile.cook`, `build-base.sh`, ...)."""
    resource = resources.files("galley").joinpath("assets", name)
    try:
        return resource.read_text(encoding="utf-8")
    except OSError:
        raise DockerError(
            f"galley/assets/{name}: missing from the installed galley package (reinstall it)"
        ) from None


def write(directory: Path, *names: str) -> Path:
    """The assets `names` as files in `directory` (made if absent; scripts executable)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = directory / name
        content = text(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            filelock.write_atomically(path, content)  # another galley may be reading it
        if name.endswith(".sh"):
            path.chmod(0o755)
    return directory
