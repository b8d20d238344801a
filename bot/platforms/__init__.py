"""Platform adapters, chosen by an environment's `platform.kind`; built once per environment and reused."""
from __future__ import annotations

import threading

from bot.config.environments import Environment
from bot.config.environments import Platform as PlatformConfig
from bot.core.ports import Platform, PlatformMemory
from bot.errors import UsageError


def platform_config(env_name: str, env: Environment) -> PlatformConfig:
    if env.platform is None:
        raise UsageError(f"{env_name} has no platform configured (docker, kubernetes or ssh).")
    return env.platform


class Platforms:
    """The `PlatformFor` port: one adapter per environment configuration, kept (a Kubernetes client holds a
    connection pool). The composition root makes one; it lives as long as the services."""

    def __init__(self, memory: PlatformMemory | None = None) -> None:
        self.memory = memory  # the store, where adapters keep what they must not forget between actions
        self._cache: dict[tuple[str, int], tuple[Environment, Platform]] = {}
        self._lock = threading.Lock()

    def __call__(self, env_name: str, env: Environment) -> Platform:
        key = (env_name, id(env))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] is env:
                return cached[1]
            platform: Platform
            kind = platform_config(env_name, env).kind
            if kind == "docker":
                from bot.platforms.docker import DockerPlatform

                platform = DockerPlatform(env_name, env, memory=self.memory)
            elif kind == "ssh":
                from bot.platforms.ssh import SshPlatform

                platform = SshPlatform(env_name, env)
            else:
                from bot.platforms.kubernetes import KubernetesPlatform

                platform = KubernetesPlatform(env_name, env)
            self._cache[key] = (env, platform)
            return platform
