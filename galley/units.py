"""Parsing human sizes (`20G`, `512MiB`), durations (`14d`, `12h`) and counts (`--keep 3`)."""

from __future__ import annotations

import re

from galley.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE | re.ASCII)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE | re.ASCII)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(text: str) -> int:
    """Bytes in `text`; K/M/G/T are powers of 1024 (`20G` = 20 GiB)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"bad size {text!r} (examples: 500M, 20G, 1.5T)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "bkmgt".index(unit or "b"))


def parse_duration(text: str) -> float:
    """Seconds in `text` (`30s`, `15m`, `12h`, `14d`, `2w`)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"bad duration {text!r} (examples: 12h, 14d, 2w)")
    return float(match.group(1)) * _SECONDS[match.group(2).lower()]


def parse_count(text: str) -> int:
    """A whole number ≥ 0 (`--keep 0` keeps nothing)."""
    if not is_whole_number(str(text).strip()):
        raise ConfigError(f"bad count {text!r} (a whole number, 0 or more)")
    return int(text)


def is_whole_number(text: str) -> bool:
    """Only the digits 0-9 (str.isdigit also takes `²` and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"
