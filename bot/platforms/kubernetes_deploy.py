"""`/ops deploy` on Kubernetes: `kubectl set image` on the Deployment's container that runs the catalog's image,
then the rollout followed until it is available (`kubectl rollout status`), within the service's timeout. A
rollout that does not finish in time is reported as such: the image *was* set, and the reply says so."""
from __future__ import annotations

import time
from collections.abc import Callable

from bot.core.images import split_image
from bot.errors import BackendError, ConflictError
from bot.platforms.kubernetes_objects import progress, rollout_done

TIMEOUT = 15  # seconds per API call
POLL = 1.0  # seconds between two looks at the rollout


def container_for(deployment, image: str, where: str):
    """The container running the catalog's repository (the image being deployed, any tag)."""
    repository, _ = split_image(image)
    containers = deployment.spec.template.spec.containers
    for container in containers:
        if split_image(container.image)[0] == repository:
            return container
    running = ", ".join(c.image for c in containers)
    raise ConflictError(f"No container of {where} runs {repository} (it runs {running}); check the service's "
                        "`image` in the catalog.")


def plan(platform, service: str, image: str) -> str:
    deployment = platform._call("read", lambda: platform._deployment(service))
    where = f"deployment/{deployment.metadata.name}"
    container = container_for(deployment, image, where)
    if container.image == image:
        raise ConflictError(f"{service} in {platform.env_name} already runs {image}; nothing to deploy.")
    replicas = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    return f"{where} container {container.name}: {container.image} → {image} ({replicas} replicas, rolling)"


def deploy(platform, service: str, image: str, timeout_s: float, sleep: Callable[[float], None] = time.sleep,
           report: Callable[[str], None] | None = None) -> str:
    """`report` hears each change of the rollout's progress while it is followed."""
    deployment = platform._call("read", lambda: platform._deployment(service))
    name = deployment.metadata.name
    container = container_for(deployment, image, f"deployment/{name}")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": container.name, "image": image}]}}}}
    patched = platform._call("set image", lambda: platform.apps.patch_namespaced_deployment(
        name, platform.namespace, patch, _request_timeout=TIMEOUT))
    deadline = time.monotonic() + timeout_s
    said = None
    while True:
        current = platform._call("rollout status", lambda: platform.apps.read_namespaced_deployment(
            name, platform.namespace, _request_timeout=TIMEOUT))
        now = progress(current)
        if report is not None and now != said:
            report(f"deployment/{name} → {image}: {now}")
            said = now
        if rollout_done(current, patched.metadata.generation):
            return f"deployment/{name} runs {image}: {progress(current)}"
        if time.monotonic() >= deadline:
            raise BackendError(f"deployment/{name} was set to {image}, but its rollout did not finish within "
                               f"{timeout_s:g} s ({progress(current)}); it may still finish — watch it with /ops status, or "
                               f"/ops rollback {service} {platform.env_name}")
        sleep(POLL)
