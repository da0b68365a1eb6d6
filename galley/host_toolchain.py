"""The host's Rust toolchain, asked once per process, and as soon as a command knows it will need
it (`start`): rustc and cargo answer while galley reads the rest of its modules and the
workspace, instead of after."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from pathlib import Path

from galley import cachekey
from galley.cachekey import Toolchain
from galley.errors import ToolNotFound

_asked: dict[tuple[str, Path], Callable[[], Toolchain]] = {}
_known: dict[tuple[str, Path], Toolchain] = {}


def start(cargo: str, workspace: Path) -> None:
    """Ask the toolchain cargo uses in the workspace, in the background, unless it is asked
    already or the workspace is not a directory (the command says so itself). A missing rustc
    or cargo is said by `get`, if the command comes to need the toolchain (auto falls back to
    docker)."""
    key = (cargo, workspace)
    if key not in _asked and key not in _known and workspace.is_dir():
        with contextlib.suppress(ToolNotFound):
            _asked[key] = cachekey.start_probe(cargo, workspace)


def get(cargo: str, workspace: Path, triples: Collection[str] = ()) -> Toolchain:
    """The toolchain cargo uses in the workspace, with its sysroot when the std of one of
    `triples` is not the host's (ToolNotFound when it does not answer)."""
    key = (cargo, workspace)
    if key not in _known:
        answer = _asked.pop(key, None) or cachekey.start_probe(cargo, workspace)
        _known[key] = answer()
    if _known[key].needs_sysroot(triples):
        _known[key] = cachekey.with_sysroot(_known[key], workspace)
    return _known[key]
