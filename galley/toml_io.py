"""TOML in and out: the standard `tomllib` reads, `tomli-w` writes (TOML 1.0 both ways)."""

from __future__ import annotations

import os
import tomllib
from typing import Any

import tomli_w

from galley.errors import WorkspaceError

Table = dict[str, Any]


def loads(text: str, origin: str) -> Table:
    """Parse TOML text; `origin` names it in the error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{origin}: not valid TOML ({exc})") from None


def load(path: str | os.PathLike[str], origin: str | None = None) -> Table:
    """Parse a TOML file."""
    return loads(read_text(path, origin), origin or os.fspath(path))


def read_text(path: str | os.PathLike[str], origin: str | None = None) -> str:
    """The text of a file (UTF-8); `origin` names it in the error."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{origin or path}: cannot read ({exc})") from None


def dumps(table: Table) -> str:
    """Serialise a table canonically: keys sorted at every level, so equal data gives equal text."""
    return tomli_w.dumps(_sorted(table))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
