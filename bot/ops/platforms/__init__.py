"""Platform adapters, chosen by an environment's `platform.kind`."""
from __future__ import annotations

from bot.core.ops_types import Platform
from bot.ops_config import Environment


def platform_for(env_name: str, env: Environment) -> Platform:
    if env.platform.kind == "docker":
        from bot.ops.platforms.docker import DockerPlatform

        return DockerPlatform(env_name, env)
    from bot.ops.platforms.kubernetes import KubernetesPlatform

    return KubernetesPlatform(env_name, env)
