"""`/ops config`, `/ops secret rotate` and `/ops resources` on Docker Compose: configuration and secrets live in
the containers' environment, which only a new container can change — each is recreated faithfully (everything
else of its spec kept, its intent noted first); resources are `docker update` of the running containers. A
secret's value goes to the engine and nowhere else: never returned, logged or noted."""
from __future__ import annotations

from bot.config.environments import SecretSpec
from bot.core.ops_config import memory_bytes, millicores
from bot.errors import ConflictError, UsageError
from bot.platforms import docker_recreate as recreate


def env_of(container) -> dict[str, str]:
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in container.attrs["Config"].get("Env") or [])


def config_values(platform, service: str, keys: list[str]) -> dict[str, str | None]:
    def read(client) -> dict[str, str | None]:
        containers = platform._containers(client, service)
        if not containers:
            raise ConflictError(f"{service} has no containers in {platform.env_name}.")
        env = env_of(containers[0])
        return {key: env.get(key) for key in keys}

    return platform._call("inspect", read)


def set_env(platform, services: list[str], changes: dict[str, str | None]) -> list[str]:
    """Recreate every container of these services with the environment changed (None: removed)."""
    def act(client) -> list[str]:
        requests = []
        for service in services:
            for container in platform._containers(client, service):
                env = {**env_of(container), **changes}
                items = [f"{key}={value}" for key, value in env.items() if value is not None]
                requests.append((service, container, recreate.create_request(
                    container.attrs, recreate.image_config(client, container.attrs), env=items)))
        platform._replace_env_batch(client, requests, list(changes))
        return [container.name for _, container, _ in requests]

    return platform._call("recreate", act)


def set_config(platform, service: str, changes: dict[str, str | None], restart: bool) -> str:
    names = set_env(platform, [service], changes)
    shown = ", ".join(f"{k}={'(unset)' if v is None else v}" for k, v in changes.items())
    return f"{shown}; recreated {', '.join(names) or 'no containers'}"


def secret_place(platform, secret: SecretSpec) -> str:
    if not secret.restart:
        raise UsageError(f"A secret in {platform.env_name} (Docker) names the services whose environment holds it "
                         "(`restart:`).")
    return f"environment variable {secret.key} of {', '.join(secret.restart)}"


def set_secret(platform, secret: SecretSpec, value: str) -> str:
    place = secret_place(platform, secret)
    names = set_env(platform, secret.restart, {secret.key: value})
    return f"{place} written; recreated {', '.join(names) or 'no containers'}"


def _limits(container) -> tuple[int, int]:
    """(memory bytes, CPU millicores) of a container; 0: no limit."""
    host = container.attrs["HostConfig"]
    cpu = host.get("NanoCpus") or 0
    if not cpu and host.get("CpuQuota") and host.get("CpuPeriod"):
        cpu = host["CpuQuota"] * 1_000_000_000 // host["CpuPeriod"]
    return host.get("Memory") or 0, cpu // 1_000_000


def resources_plan(platform, service: str, memory: str | None, cpu: str | None) -> str:
    def read(client) -> str:
        containers = platform._containers(client, service)
        if not containers:
            raise ConflictError(f"{service} has no containers in {platform.env_name}.")
        now_memory, now_cpu = _limits(containers[0])
        moves = []
        if memory is not None and memory_bytes(memory) != now_memory:
            moves.append(f"memory {_bytes(now_memory)} → {memory}")
        if cpu is not None and millicores(cpu) != now_cpu:
            moves.append(f"cpu {f'{now_cpu}m' if now_cpu else '(no limit)'} → {cpu}")
        if not moves:
            raise ConflictError(f"{service} in {platform.env_name} already has those limits; nothing to change.")
        return f"{len(containers)} container(s): {', '.join(moves)} (docker update, no restart)"

    return platform._call("inspect", read)


def set_resources(platform, service: str, memory: str | None, cpu: str | None) -> str:
    plan = resources_plan(platform, service, memory, cpu)
    update: dict = {}
    if memory is not None:  # swap follows the limit: the engine refuses a memory limit above the swap limit
        update.update(mem_limit=memory_bytes(memory), memswap_limit=memory_bytes(memory) * 2)
    if cpu is not None:
        update.update(cpu_period=100_000, cpu_quota=millicores(cpu) * 100)

    def act(client) -> str:
        for container in platform._containers(client, service):
            client.api.update_container(container.id, **update)
        return plan.replace(" (docker update, no restart)", "; updated in place")

    return platform._call("update", act)


def _bytes(count: int) -> str:
    if not count:
        return "(no limit)"
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if count % size == 0:
            return f"{count // size}{unit}"
    return str(count)
