"""The recipe: cargo-chef 0.1.77's `recipe.json` schema as typed, validated data.

```
{"skeleton": {"manifests": [{"relative_path", "contents", "targets": [{"path", "kind", "name"}]}],
              "config_file", "lock_file", "rust_toolchain_file": ["Bare"|"Toml", text] | null}}
```
"""

from __future__ import annotations

import json
import posixpath
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pathlib import PurePosixPath

from galley.errors import RecipeError, one_line

MAX_RECIPE_BYTES = 256 * 1024 * 1024
MAX_PATH_CHARS = 4096


class TargetKind(Enum):
    """Cargo target kinds, in cargo-chef's names (`Lib` is split by proc-macro-ness)."""

    LIB = "Lib"
    PROC_MACRO = "ProcMacro"
    BIN = "Bin"
    TEST = "Test"
    BENCH = "Bench"
    EXAMPLE = "Example"
    BUILD_SCRIPT = "BuildScript"

    def to_json(self) -> Any:
        if self in (TargetKind.LIB, TargetKind.PROC_MACRO):
            return {"Lib": {"is_proc_macro": self is TargetKind.PROC_MACRO}}
        return self.value

    @classmethod
    def from_json(cls, value: Any) -> TargetKind:
        if isinstance(value, dict) and set(value) == {"Lib"} and isinstance(value["Lib"], dict):
            flag = value["Lib"].get("is_proc_macro")
            if isinstance(flag, bool):
                return cls.PROC_MACRO if flag else cls.LIB
        if isinstance(value, str) and value not in ("Lib", "ProcMacro"):
            try:
                return cls(value)
            except ValueError:
                pass
        raise RecipeError(f"unknown target kind {json.dumps(value)[:80]}")


_KIND_ORDER = {kind: index for index, kind in enumerate(TargetKind)}


def path_parts(path: str) -> tuple[str, ...]:
    """The components of a relative POSIX path (what `PurePosixPath.parts` gives), for sorting."""
    return tuple(part for part in path.split("/") if part and part != ".")


# Plain NamedTuples rather than dataclasses: `dataclasses` pulls in `inspect`, a fifth of
# `galley-chef prepare`'s import time.
class Target(NamedTuple):
    """One compilation target of a package; `path` is relative to the manifest's directory."""

    path: str
    kind: TargetKind
    name: str

    def sort_key(self) -> tuple[tuple[str, ...], int, str]:
        return (path_parts(self.path), _KIND_ORDER[self.kind], self.name)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind.to_json(), "name": self.name}


class Manifest(NamedTuple):
    """A masked Cargo.toml and the targets its package has."""

    relative_path: str
    contents: str
    targets: tuple[Target, ...] = ()

    @property
    def directory(self) -> PurePosixPath:
        from pathlib import PurePosixPath  # not at import: `prepare` never needs it

        return PurePosixPath(self.relative_path).parent

    def to_json(self) -> dict[str, Any]:
        targets = sorted(self.targets, key=Target.sort_key)
        return {
            "relative_path": self.relative_path,
            "contents": self.contents,
            "targets": [target.to_json() for target in targets],
        }


class Recipe(NamedTuple):
    """Everything that determines which dependencies a workspace compiles."""

    manifests: tuple[Manifest, ...]
    config_file: str | None = None
    lock_file: str | None = None
    rust_toolchain_file: tuple[str, str] | None = None

    def to_json(self) -> str:
        """Compact, deterministic JSON (what cargo-chef writes with `serde_json::to_string`)."""
        manifests = sorted(self.manifests, key=lambda m: path_parts(m.relative_path))
        toolchain = list(self.rust_toolchain_file) if self.rust_toolchain_file else None
        document = {
            "skeleton": {
                "manifests": [manifest.to_json() for manifest in manifests],
                "config_file": self.config_file,
                "lock_file": self.lock_file,
                "rust_toolchain_file": toolchain,
            }
        }
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        if not text.isascii():
            self._check_utf8(text)
        return text

    def _check_utf8(self, text: str) -> None:
        """A RecipeError naming the first path that is not UTF-8 (a file name read with
        Python's surrogate escapes), which the recipe's UTF-8 JSON cannot carry."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            paths = [m.relative_path for m in self.manifests]
            paths += [t.path for m in self.manifests for t in m.targets]
            bad = next((one_line(p) for p in paths if not _is_utf8(p)), "a name or text")
            raise RecipeError(f"{bad}: not valid UTF-8, which a recipe cannot hold") from None

    def digest(self) -> str:
        """sha256 of the JSON text: the recipe's identity in cache keys."""
        import hashlib  # here: loading OpenSSL costs `galley-chef prepare` 4 ms at start-up

        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        """Parse and validate a recipe (ours or cargo-chef's); RecipeError on anything odd."""
        if len(text) > MAX_RECIPE_BYTES:
            raise RecipeError(f"recipe is larger than {MAX_RECIPE_BYTES} bytes")
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RecipeError(f"recipe is not valid JSON ({exc})") from None
        skeleton = _field(document, "skeleton", dict, "recipe")
        manifests = _field(skeleton, "manifests", list, "skeleton")
        return cls(
            manifests=tuple(_manifest(item, index) for index, item in enumerate(manifests)),
            config_file=_optional_str(skeleton, "config_file"),
            lock_file=_optional_str(skeleton, "lock_file"),
            rust_toolchain_file=_toolchain(skeleton.get("rust_toolchain_file")),
        )


def check_relative_path(path: Any, what: str, climbs: bool = False) -> str:
    """A clean relative POSIX path that cannot leave its base directory, or RecipeError.
    `climbs`: it may start with `../` segments (a manifest outside the workspace dir; where
    the skeleton may then be written is skeleton.write's to check)."""
    if not isinstance(path, str) or not path:
        raise RecipeError(f"{what}: path must be a non-empty string")
    if len(path) > MAX_PATH_CHARS or "\0" in path or "\\" in path:
        raise RecipeError(f"{what}: invalid path {path[:80]!r}")
    if path.startswith(("/", "~")):
        raise RecipeError(f"{what}: absolute path {path[:80]!r} is not allowed")
    rest = path
    while climbs and rest.startswith("../"):
        rest = rest[3:]
    if any(part in ("..", ".") for part in rest.split("/")) or "//" in rest:
        raise RecipeError(f"{what}: path {path[:80]!r} must not contain '..', '.' or '//'")
    return path


def _field(table: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(table, dict):
        raise RecipeError(f"{where}: expected an object")
    value = table.get(key)
    if not isinstance(value, kind):
        raise RecipeError(f"{where}.{key}: expected {kind.__name__}")
    return value


def _optional_str(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise RecipeError(f"skeleton.{key}: expected a string or null")
    return value


def _toolchain(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and value[0] in ("Bare", "Toml")
        and isinstance(value[1], str)
    ):
        return (value[0], value[1])
    raise RecipeError('skeleton.rust_toolchain_file: expected ["Bare"|"Toml", text] or null')


def _manifest(item: Any, index: int) -> Manifest:
    where = f"manifests[{index}]"
    relative_path = check_relative_path(
        _field(item, "relative_path", str, where), where, climbs=True
    )
    if posixpath.basename(relative_path) != "Cargo.toml":
        raise RecipeError(f"{where}: relative_path must end in Cargo.toml, got {relative_path!r}")
    contents = _field(item, "contents", str, where)
    targets = _field(item, "targets", list, where) if "targets" in item else []
    return Manifest(
        relative_path=relative_path,
        contents=contents,
        targets=tuple(_target(target, f"{where}.targets[{i}]") for i, target in enumerate(targets)),
    )


def _target(item: Any, where: str) -> Target:
    # `../` ahead: a target file outside its package dir (skeleton.write places it, or refuses)
    path = check_relative_path(_field(item, "path", str, where), where, climbs=True)
    name = _field(item, "name", str, where)
    if not isinstance(item, dict) or "kind" not in item:
        raise RecipeError(f"{where}.kind: missing")
    return Target(path=path, kind=TargetKind.from_json(item["kind"]), name=name)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
