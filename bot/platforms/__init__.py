"""Platform adapters, one per kind, chosen by an environment's `platform.kind`; built once per environment and reused.

A new kind is its adapter module, its settings model in settings.py (a member of `AnyPlatform`) and its line in
`ADAPTERS`; tests/test_architecture.py checks that the two agree.

bot.config imports settings.py to validate a catalog, and with it this package: so this module imports nothing
of ours at run time but bot.errors, and each adapter (and its SDK) is imported when first used.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bot.errors import UsageError

if TYPE_CHECKING:
    from bot.config.environments import Environment
    from bot.core.ports import Platform, PlatformMemory
    from bot.platforms.settings import AnyPlatform, PlatformSettings

# kind → the adapter class ("module:Class"), built as Adapter(env_name, env, memory=...)
ADAPTERS: dict[str, str] = {
    "docker": "bot.platforms.docker:DockerPlatform",
    "kubernetes": "bot.platforms.kubernetes:KubernetesPlatform",
    "ssh": "bot.platforms.ssh:SshPlatform",
}

S = TypeVar("S", bound="PlatformSettings")


def platform_config(env_name: str, env: Environment) -> AnyPlatform:
    if env.platform is None:
        raise UsageError(f"{env_name} has no platform configured ({', '.join(ADAPTERS)}).")
    return env.platform


def settings_of(env_name: str, env: Environment, kind: type[S]) -> S:
    """The environment's platform settings, which an adapter of `kind` needs."""
    settings = platform_config(env_name, env)
    if not isinstance(settings, kind):
        raise UsageError(f"{env_name}'s platform is {settings.kind}, not {kind.kind_name()}.")
    return settings


def adapter_class(kind: str) -> Callable[..., Platform]:
    module, _, name = ADAPTERS[kind].partition(":")
    adapter: Callable[..., Platform] = getattr(importlib.import_module(module), name)
    return adapter


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
            adapter = adapter_class(platform_config(env_name, env).kind)
            platform = adapter(env_name, env, memory=self.memory)
            self._cache[key] = (env, platform)
            return platform


class ProcessMemory:
    """Platform memory for one process, when no store is given (tests, ad-hoc use)."""

    def __init__(self) -> None:
        self._docs: dict[str, dict] = {}

    def recall(self, key: str) -> dict | None:
        return self._docs.get(key)

    def remember(self, key: str, doc: dict) -> None:
        self._docs[key] = doc
