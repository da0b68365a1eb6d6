"""galley: per-architecture Rust dependency caching for container builds."""

__version__ = "0.1.0"

#: Bumped whenever the layout of cache entries or key manifests changes.
FORMAT_VERSION = 1
