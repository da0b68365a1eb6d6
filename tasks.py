"""invoke entry point: `invoke --list`, `invoke build --arch amd64`. The tasks live in galley."""

from galley.tasks import ns

__all__ = ["ns"]
