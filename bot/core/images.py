"""Container image references: `registry:5000/shop/api:1.4.2` is the repository `registry:5000/shop/api` at tag
`1.4.2` (a port is not a tag: the tag follows the last `/`). A digest (`@sha256:…`) pins no tag."""
from __future__ import annotations


def split_image(ref: str) -> tuple[str, str | None]:
    """(repository, tag or None)."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, None


def with_tag(repository: str, tag: str) -> str:
    return f"{repository}:{tag}"
