"""`cfg(...)` expressions as cargo evaluates them for `[target.'cfg(...)']` config tables,
against what `rustc --print cfg --target T` says of the target."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from galley import filelock, shell
from galley.cachekey import Toolchain
from galley.errors import CommandFailed, ConfigError, ToolNotFound

#: One cfg as rustc prints it: `unix` is ("unix", None), `target_os="linux"` ("target_os", "linux").
Cfg = tuple[str, str | None]
Cfgs = frozenset[Cfg]

_TOKEN = re.compile(r'\s*(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]*"|[(),=])')


@dataclass(frozen=True)
class Expr:
    """`all(..)`, `any(..)` and `not(..)` (op and args), or one cfg (op "cfg" and `cfg`)."""

    op: str
    args: tuple[Expr, ...] = ()
    cfg: Cfg = ("", None)

    def matches(self, cfgs: Cfgs) -> bool:
        if self.op == "all":
            return all(arg.matches(cfgs) for arg in self.args)
        if self.op == "any":
            return any(arg.matches(cfgs) for arg in self.args)
        if self.op == "not":
            return not self.args[0].matches(cfgs)
        if self.cfg in (("true", None), ("false", None)):
            return self.cfg[0] == "true"
        return self.cfg in cfgs


def parse_key(key: str) -> Expr | None:
    """The expression of a `target` table key `cfg(...)`; None for a key that is a triple.
    A malformed expression is a ConfigError (cargo would not match it either)."""
    if not (key.startswith("cfg(") and key.endswith(")")):
        return None
    try:
        tokens = _tokenize(key[4:-1])
        expr, rest = _expr(tokens)
        if rest:
            raise ValueError(f"unexpected {rest[0]!r}")
    except ValueError as exc:
        raise ConfigError(f"[target.'{key}'] in .cargo/config.toml: bad cfg ({exc})") from None
    return expr


def _tokenize(text: str) -> list[str]:
    tokens, at = [], 0
    while text[at:].strip():
        found = _TOKEN.match(text, at)
        if not found:
            raise ValueError(f"unexpected {text[at:].strip()[0]!r}")
        tokens.append(found.group(0).strip())
        at = found.end()
    return tokens


def _expr(tokens: list[str]) -> tuple[Expr, list[str]]:
    if not tokens or not re.fullmatch(r"[A-Za-z_]\w*", tokens[0]):
        raise ValueError("expected a name" + (f", not {tokens[0]!r}" if tokens else ""))
    name, rest = tokens[0], tokens[1:]
    if name in ("all", "any", "not") and rest[:1] == ["("]:
        args, rest = _list(rest[1:])
        if name == "not" and len(args) != 1:
            raise ValueError("not() takes one expression")
        return Expr(name, tuple(args)), rest
    if rest[:1] == ["="]:
        if len(rest) < 2 or not rest[1].startswith('"'):
            raise ValueError(f'expected a "string" after {name} =')
        return Expr("cfg", cfg=(name, rest[1][1:-1])), rest[2:]
    return Expr("cfg", cfg=(name, None)), rest


def _list(tokens: list[str]) -> tuple[list[Expr], list[str]]:
    """Comma-separated expressions up to `)` (a trailing comma allowed)."""
    args: list[Expr] = []
    while tokens[:1] != [")"]:
        expr, tokens = _expr(tokens)
        args.append(expr)
        if tokens[:1] == [","]:
            tokens = tokens[1:]
        elif tokens[:1] != [")"]:
            raise ValueError("expected , or )")
    return args, tokens[1:]


def parse_print_cfg(output: str) -> Cfgs:
    """`rustc --print cfg` output as a set."""
    found: set[Cfg] = set()
    for line in output.splitlines():
        name, eq, value = line.strip().partition("=")
        if name:
            found.add((name, value.strip('"') if eq else None))
    return frozenset(found)


@functools.cache
def target_cfg(
    toolchain: Toolchain, cwd: Path, triple: str, flags: tuple[str, ...], record_dir: Path
) -> Cfgs:
    """What the toolchain's rustc (`rustc_argv`: a path, or `docker run … IMAGE rustc`) says of
    the target's cfg under `flags`. Asked once per process, and recorded in `record_dir` per
    `rustc -vV`, triple and flags (through `docker run` it costs 0.3 s on every build), except
    when a flag says `native`: the answer then depends on the CPU."""
    if any("native" in flag for flag in flags):
        return parse_print_cfg(_ask(toolchain, cwd, triple, flags))
    identity = "\0".join([toolchain.rustc, triple, *flags]).encode()
    record = record_dir / f"cfg-{hashlib.sha256(identity).hexdigest()[:16]}.txt"
    try:
        return parse_print_cfg(record.read_text(encoding="utf-8"))
    except OSError:
        printed = _ask(toolchain, cwd, triple, flags)
    record_dir.mkdir(parents=True, exist_ok=True)
    filelock.write_atomically(record, printed)
    return parse_print_cfg(printed)


def _ask(toolchain: Toolchain, cwd: Path, triple: str, flags: tuple[str, ...]) -> str:
    argv = [*toolchain.rustc_argv, "--print", "cfg", "--target", triple, *flags]
    try:
        return shell.capture(argv, cwd=cwd)
    except CommandFailed as exc:
        raise ToolNotFound(f"`rustc --print cfg --target {triple}` failed: {exc}") from None


def matching_tables(config: dict[str, object], cfgs: Cfgs) -> list[dict[str, object]]:
    """The `[target.'cfg(...)']` tables that match, in cargo's order (by key)."""
    targets = config.get("target")
    if not isinstance(targets, dict):
        return []
    found = []
    for key in sorted(targets):
        expr, table = parse_key(key), targets[key]
        if expr is not None and isinstance(table, dict) and expr.matches(cfgs):
            found.append(table)
    return found


def has_cfg_tables(config: dict[str, object], field: str) -> bool:
    """Whether any `[target.'cfg(...)']` table sets `field` (then rustc must be asked)."""
    targets = config.get("target")
    return isinstance(targets, dict) and any(
        parse_key(key) is not None and isinstance(table, dict) and field in table
        for key, table in targets.items()
    )
