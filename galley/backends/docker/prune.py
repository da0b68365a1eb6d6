"""`cache-prune --backend docker`: cook images by label (age, newest N per arch), each with its
warm image, and the BuildKit builder cache (`docker builder prune`, with the flags the 20.10
client supports)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from galley import shell
from galley.backends.docker.client import Docker
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
        if "galley.key" not in labels:  # removed since it was listed
            continue
        found.append(
            CookImage(
                reference, labels.get("galley.arch", "?"), float(labels.get("galley.created", 0)),
                labels["galley.key"], labels.get("galley.kind") == "warm",
            )
        )  # fmt: skip
    return sorted(found, key=lambda image: image.created, reverse=True)


def prune(docker: Docker, older_than: float | None, keep: int | None, dry_run: bool) -> None:
    """Remove cook images beyond the policy and the builder cache; print a table to stderr.
    Every reference of a key (local tag, registry name, warm image) is kept or removed with
    the others: a key counts once towards `keep`."""
    now, images = time.time(), cook_images(docker)
    expired = _expired_keys(images, now, older_than, keep)
    print("docker cook images:", file=sys.stderr)
    rows = [("arch", "image", "age", "action")]
    for image in sorted(images, key=lambda i: (i.arch, -i.created, i.warm, i.reference)):
        action = "keep"
        if image.key in expired:
            action = "would remove" if dry_run else _remove(docker, image.reference)
        rows.append((image.arch, image.reference, f"{(now - image.created) / 3600:.1f}h", action))
    print_table(rows)
    argv = [docker.program, "builder", "prune", "--force"]
    if older_than is not None:
        argv += ["--filter", f"until={int(older_than)}s"]
    if dry_run:
        print(f"  would run: {shell.describe(argv)}", file=sys.stderr)
    else:
        shell.run(argv)


def _expired_keys(
    images: list[CookImage], now: float, older_than: float | None, keep: int | None
) -> set[str]:
    """Keys older than the limit or beyond the newest `keep` cook images of their arch; a warm
    image whose cook image is gone expires too."""
    cooks: dict[str, CookImage] = {}
    for image in images:
        if not image.warm:
            cooks.setdefault(image.key, image)
    kept, seen = set(), dict[str, int]()
    for image in sorted(cooks.values(), key=lambda i: i.created, reverse=True):
        seen[image.arch] = seen.get(image.arch, 0) + 1
        too_old = older_than is not None and now - image.created > older_than
        if not too_old and (keep is None or seen[image.arch] <= keep):
            kept.add(image.key)
    return {image.key for image in images} - kept


def _remove(docker: Docker, reference: str) -> str:
    try:
        docker.remove_image(reference)
    except CommandFailed as exc:  # an image used by a container is kept, and said so
        return f"kept ({str(exc)[:40]})"
    return "removed"
