"""Platform adapters, chosen by an environment's `platform.kind`."""
from __future__ import annotations

import threading

from bot.config.environments import Environment
from bot.core.ports import Platform

_cache: dict[tuple[str, int], tuple[Environment, Platform]] = {}
_lock = threading.Lock()


def platform_for(env_name: str, env: Environment) -> Platform:
    """One adapter per environment configuration, reused (a Kubernetes client keeps a connection pool)."""
    key = (env_name, id(env))
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] is env:
            return cached[1]
        if env.platform.kind == "docker":
            from bot.platforms.docker import DockerPlatform

            platform: Platform = DockerPlatform(env_name, env)
        else:
            from bot.platforms.kubernetes import KubernetesPlatform

            platform = KubernetesPlatform(env_name, env)
        _cache[key] = (env, platform)
        return platform
