"""The recipe engine: a pure-Python, cargo-chef 0.1.77-compatible `prepare` and `cook`."""

from galley.chef.cook import CookOptions, CookResult, cook
from galley.chef.prepare import prepare
from galley.chef.recipe import Manifest, Recipe, Target, TargetKind

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
