"""The docker backend: offline builder images, cook images keyed by the cache key, builds."""
