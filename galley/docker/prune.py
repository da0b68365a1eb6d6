"""`cache-prune --backend docker`: cook images by label (age, newest N per arch), each with its
warm image, and the BuildKit builder cache (`docker builder prune`, with the flags the 20.10
client supports)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from galley import shell
from galley.docker.client import Docker
from galley.errors import CommandFailed
from galley.results import print_table


@dataclass(frozen=True)
class CookImage:
    reference: str
    arch: str
    created: float
    key: str
    warm: bool  # the warm image of a cook image (same key): kept and removed with it


def cook_images(docker: Docker) -> list[CookImage]:
    found = []
    for reference in docker.images_with_label("galley.key"):
        labels = docker.labels(reference)
        found.append(
            CookImage(
                reference, labels.get("galley.arch", "?"), float(labels.get("galley.created", 0)),
                labels["galley.key"], labels.get("galley.kind") == "warm",
            )
        )  # fmt: skip
    return sorted(found, key=lambda image: image.created, reverse=True)


def prune(docker: Docker, older_than: float | None, keep: int | None, dry_run: bool) -> None:
    """Remove cook images beyond the policy and the builder cache; print a table to stderr."""
    now, seen, kept_keys = time.time(), dict[str, int](), set[str]()
    rows = [("arch", "image", "age", "action")]
    images = cook_images(docker)
    for image in [i for i in images if not i.warm] + [i for i in images if i.warm]:
        if image.warm:
            expired = image.key not in kept_keys
        else:
            seen[image.arch] = seen.get(image.arch, 0) + 1
            too_old = older_than is not None and now - image.created > older_than
            expired = too_old or (keep is not None and seen[image.arch] > keep)
        action = "keep"
        if expired:
            action = "would remove" if dry_run else _remove(docker, image.reference)
        elif not image.warm:
            kept_keys.add(image.key)
        rows.append((image.arch, image.reference, f"{(now - image.created) / 3600:.1f}h", action))
    print_table(rows)
    argv = [docker.program, "builder", "prune", "--force"]
    if older_than is not None:
        argv += ["--filter", f"until={int(older_than)}s"]
    if dry_run:
        print(f"  would run: {shell.describe(argv)}", file=sys.stderr)
    else:
        shell.run(argv)


def _remove(docker: Docker, reference: str) -> str:
    try:
        docker.remove_image(reference)
    except CommandFailed as exc:  # an image used by a container is kept, and said so
        return f"kept ({str(exc)[:40]})"
    return "removed"
