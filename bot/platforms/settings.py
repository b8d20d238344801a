"""What each platform kind takes in opsbot.yml (`environments.<name>.platform`), one model per kind.

A new kind: its model here, added to `AnyPlatform`, and its adapter named in `ADAPTERS` (bot/platforms/__init__.py).
This module imports pydantic only: bot.config reads it to validate a catalog (see bot/kinds.py).
"""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from bot.kinds import KindSettings, problems


class PlatformSettings(KindSettings):
    noun: ClassVar[str] = "platform"


class DockerSettings(PlatformSettings):
    """Docker Compose: a project's containers on one engine (bot/platforms/docker.py)."""

    kind: Literal["docker"]
    project: str = Field(description="the Compose project")
    host: str | None = Field(None, description="the engine's URL; default $DOCKER_HOST, else the local socket")

    @classmethod
    def needs(cls, missing: list[str]) -> str:
        return "a docker platform needs `project` (the Compose project name)"


class KubernetesSettings(PlatformSettings):
    """A namespace's Deployments and pods (bot/platforms/kubernetes.py)."""

    kind: Literal["kubernetes"]
    namespace: str = "default"
    context: str | None = Field(None, description="the kubeconfig context")
    api_url: str | None = Field(None, description="talk to this API URL directly instead of using a kubeconfig")


class SshSettings(PlatformSettings):
    """Plain hosts, their services run by pm2 or systemd (bot/platforms/ssh.py). The private key's text is in
    the environment variable `key_env`; host keys are checked against `known_hosts` (required)."""

    article: ClassVar[str] = "an"
    kind: Literal["ssh"]
    hosts: list[str] = Field(description='each "address" or "address:port" (IPv6: "[::1]:2222")')
    user: str
    port: int = Field(22, gt=0, lt=65536, description="the default port")
    key_env: str = Field(description="the environment variable holding the private key's text")
    known_hosts: str = Field(description="the known_hosts file host keys are checked against")
    timeout_s: float = Field(15.0, gt=0, description="per host: connecting, and each command")

    @classmethod
    def needs(cls, missing: list[str]) -> str:
        return f"{super().needs(missing)} (known_hosts is required: host keys are always verified)"

    @model_validator(mode="after")
    def _hosts(self) -> SshSettings:
        for host in self.hosts:
            ssh_address(host, self.port)
        problems(["ssh hosts must be unique"] if len(set(self.hosts)) != len(self.hosts) else [])
        return self


def ssh_address(host: str, default_port: int = 22) -> tuple[str, int]:
    """"web-1", "web-1:2222", "[::1]:2222" → (address, port)."""
    address, port = host, str(default_port)
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif host.count(":") == 1:
        address, port = host.split(":")
    if not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{host}' is not a host: write address or address:port")
    return address, int(port)


AnyPlatform = Annotated[DockerSettings | KubernetesSettings | SshSettings, Field(discriminator="kind")]
