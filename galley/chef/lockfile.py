"""Cargo.lock masked as text: the same data as `masking.mask_lockfile`, without a TOML parse.

cargo writes its lockfiles in one regular layout: header comments, `version = N`, then
`[[package]]` tables whose keys are `name`, `version`, `source`, `checksum` and a
one-string-per-line `dependencies` array, in that order, with plain strings. `recognised` accepts
exactly that layout (anything else, CRLF line ends, escapes, other keys or tables, goes through
tomllib); `mask` then rewrites only the versions it has to, keeping the rest of the text as it is.
"""

from __future__ import annotations

import re
from collections.abc import Set

from galley.chef.masking import MASKED_VERSION

_COMMENT = r"#[^\x00-\x08\x0a-\x1f\x7f]*\n"  # TOML allows tab but no other control character
_STRING = r'"[^"\\\x00-\x1f\x7f]*"'  # a basic string without escapes
_WORD = r'[^"\\\x00-\x20\x7f]+'  # a name or a version: no space, never empty

_LOCKFILE = re.compile(
    rf"(?:{_COMMENT})*"
    r"(?:version = (?:0|[1-9][0-9]*)\n)?"
    r"(?:\n*\[\[package\]\]\n"
    rf'name = "{_WORD}"\n'
    rf'version = "{_WORD}"\n'
    rf"(?:source = {_STRING}\n)?"
    rf"(?:checksum = {_STRING}\n)?"
    rf"(?:dependencies = \[\n(?: {_STRING},\n)*\]\n)?"
    r")*\n*"
)
# In a recognised text these match whole lines only (no string holds a newline, comments come
# first), so they need no `^`, which would turn off the regex engine's literal-prefix search.
_PACKAGE = re.compile(
    rf'(\[\[package\]\]\nname = "({_WORD})"\nversion = ")({_WORD})("\n(source = )?)'
)
_REFERENCE = re.compile(rf'(\n "({_WORD}) )({_WORD})(",)')


def recognised(text: str) -> bool:
    """Whether `text` is in the layout `mask` handles."""
    return _LOCKFILE.fullmatch(text) is not None


def mask(text: str, local_names: Set[str]) -> str:
    """`text` (`recognised`) with local packages' versions and the `"name version"` references
    to them masked: a package without `source` whose name is in `local_names` is local, and so
    is every entry with the same name and version (as in `masking.mask_lockfile`)."""
    local = {
        (found[2], found[3])
        for found in _PACKAGE.finditer(text)
        if found[5] is None and found[2] in local_names
    }
    if not local:
        return text

    def masked(found: re.Match[str]) -> str:
        if (found[2], found[3]) not in local:
            return found[0]
        return f"{found[1]}{MASKED_VERSION}{found[4]}"

    return _REFERENCE.sub(masked, _PACKAGE.sub(masked, text))
