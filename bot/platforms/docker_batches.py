"""Bringing a Docker service back to one consistent state after opsbot stopped in the middle of a change of several
containers (bot/platforms/docker.py `reconcile`): a batch of image changes (rollback, deploy), a scale, a batch of
environment changes (maintenance mode, config, a secret). Each was noted in the platform memory before it began;
what is found on the engine decides whether it is finished or undone. `platform` is the DockerPlatform."""
from __future__ import annotations

from bot.platforms import docker_config
from bot.platforms import docker_recreate as recreate


def settle_batch(platform, client, service: str) -> str | None:
    """Replicas left on two images by a batch cut short: finished on the new image when every container already
    on it runs, else all put back on the old one — one image again either way."""
    batch = platform._recall(service).get("batch")
    if not batch:
        return None
    platform._remember(service, batch=None)
    containers = platform._containers(client, service)
    moved = [c for c in containers if recreate.image_name(c) == batch["image_to"]]
    behind = [c for c in containers if recreate.image_name(c) == batch["image_from"]]
    if not moved or not behind:
        return None
    if all(c.status == "running" for c in moved):
        platform._recreate_on(client, service, behind, batch["image_to"])
        return (f"finished the batch: {', '.join(c.name for c in behind)} recreated on {batch['image_to']}, as "
                f"{', '.join(c.name for c in moved)} already were")
    platform._recreate_on(client, service, moved, batch["image_from"])
    return (f"undid the batch: {', '.join(c.name for c in moved)} put back on {batch['image_from']} (not all "
            f"of them ran on {batch['image_to']})")


def settle_scaling(platform, client, service: str) -> str | None:
    """A scale cut short is finished as it was confirmed: replicas above the target are removed (highest number
    first, as Compose does), clones created but never started are started."""
    scaling = platform._recall(service).get("scaling")
    if not scaling:
        return None
    platform._remember(service, scaling=None)
    done = []
    for c in platform._containers(client, service)[scaling["to"]:][::-1]:  # above the confirmed count
        c.stop(timeout=10)
        c.remove(v=True)
        done.append(f"removed {c.name}")
    for c in platform._containers(client, service):
        if c.status == "created":  # made by the scale, never started
            c.start()
            done.append(f"started {c.name}")
    running = sum(c.status == "running" for c in platform._containers(client, service))
    if not done:
        return None
    return f"finished the scale to {scaling['to']}: {', '.join(done)}; {running} running"


def settle_env_batch(platform, client, service: str) -> str | None:
    """Replicas left disagreeing on the keys a batch changed: finished (the others take the values of a done
    container) when the done ones run, else undone (they take a not-yet-done one's) — values are copied from
    container to container, never read into opsbot's records."""
    batch = platform._recall(service).get("env_batch")
    if not batch:
        return None
    platform._remember(service, env_batch=None)
    containers = {c.name: c for c in platform._containers(client, service)}
    done = [containers[name] for name in batch["done"] if name in containers]
    rest = [containers[name] for name in batch["names"] if name not in batch["done"] and name in containers]
    if not done or not rest:
        return None
    finish = all(c.status == "running" for c in done)
    source, targets = (done[0], rest) if finish else (rest[0], done)
    wanted = {key: value for key, value in docker_config.env_of(source).items() if key in batch["keys"]}
    changed = [c for c in targets if {k: docker_config.env_of(c).get(k) for k in batch["keys"]} !=
               {k: wanted.get(k) for k in batch["keys"]}]
    for c in changed:
        env = {**docker_config.env_of(c), **{k: wanted.get(k) for k in batch["keys"]}}
        items = [f"{k}={v}" for k, v in env.items() if v is not None]
        platform._replace(client, service, c, recreate.create_request(c.attrs, recreate.image_config(client, c.attrs),
                                                                  env=items))
    if not changed:
        return None
    keys = ", ".join(batch["keys"])
    names = ", ".join(c.name for c in changed)
    return (f"finished the batch: {names} given {keys} as {source.name} has them" if finish else
            f"undid the batch: {names} given back {keys} as {source.name} has them")
