"""The recipe engine: a pure-Python, cargo-chef 0.1.77-compatible `prepare` and `cook`.

Public API: `prepare(workspace) -> Recipe`, `Recipe.to_json()/from_json()/digest()`,
`cook(recipe, directory, CookOptions)`. Imports are lazy so `galley-chef prepare` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from galley.chef.cooker import CookOptions, CookResult, cook
    from galley.chef.planner import prepare
    from galley.chef.recipe import Manifest, Recipe, Target, TargetKind

_EXPORTS = {
    "CookOptions": "galley.chef.cooker",
    "CookResult": "galley.chef.cooker",
    "cook": "galley.chef.cooker",
    "prepare": "galley.chef.planner",
    "Manifest": "galley.chef.recipe",
    "Recipe": "galley.chef.recipe",
    "Target": "galley.chef.recipe",
    "TargetKind": "galley.chef.recipe",
}

__all__ = [
    "CookOptions",
    "CookResult",
    "Manifest",
    "Recipe",
    "Target",
    "TargetKind",
    "cook",
    "prepare",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
