"""Docker Compose environments through the docker SDK.

Services are found by their Compose labels. Scale clones or removes a service's containers; rollback
recreates them on the image recorded in the `opsbot.previous-image` label (set by deploy tooling, and by
opsbot itself when it rolls back, so a second rollback goes forward again).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

from bot.config.environments import Environment
from bot.core.ports import ServiceState, WorkloadHealth
from bot.errors import BackendError, ConflictError, UsageError
from bot.platforms import platform_config

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
PREVIOUS = "opsbot.previous-image"
LOG_BLOCK = 1 << 20
HISTORY_LINES = 1000


class DockerPlatform:
    def __init__(self, env_name: str, env: Environment, timeout: int = 15):
        self.env_name = env_name
        self.env = env
        platform = platform_config(env_name, env)
        self.project = platform.project or ""
        self.host = platform.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self.timeout = timeout

    # --- plumbing ---------------------------------------------------------------------------
    def _client(self) -> docker.DockerClient:
        try:
            return docker.DockerClient(base_url=self.host, timeout=self.timeout)
        except (DockerException, RequestException) as error:
            raise BackendError(f"Cannot reach the Docker engine of {self.env_name} at {self.host} ({_short(error)}).") \
                from error

    def _call(self, what: str, fn):
        client = self._client()
        try:
            return fn(client)
        except (DockerException, RequestException) as error:
            raise BackendError(f"Docker {what} failed in {self.env_name} ({_short(error)})") from error
        finally:
            client.close()

    def _service_name(self, service: str) -> str:
        spec = self.env.services.get(service)
        return (spec.docker_service if spec and spec.docker_service else service)

    def _containers(self, client, service: str | None = None, running_only: bool = False) -> list:
        labels = [f"{PROJECT}={self.project}"]
        if service:
            labels.append(f"{SERVICE}={self._service_name(service)}")
        found = client.containers.list(all=not running_only, filters={"label": labels})
        return sorted(found, key=lambda c: int(c.labels.get(NUMBER, "0") or 0))

    # --- reads ------------------------------------------------------------------------------------
    def status(self) -> list[ServiceState]:
        def read(client):
            states = []
            for name in self.env.services:
                containers = self._containers(client, name)
                running = [c for c in containers if c.status == "running"]
                images = sorted({_image_name(c) for c in containers})
                restarts = sum(c.attrs.get("RestartCount", 0) for c in containers)
                detail = f"{restarts} restarts" if restarts else ""
                states.append(ServiceState(name, len(running), len(containers), ", ".join(images), detail))
            return states

        return self._call("status", read)

    def replicas(self, service: str) -> int:
        return self._call("inspect", lambda client: len(self._containers(client, service)))

    def workload_health(self, target: str) -> WorkloadHealth:
        def read(client):
            containers = self._containers(client, target)
            problems = []
            running = 0
            for c in containers:
                health = (c.attrs.get("State", {}).get("Health") or {}).get("Status")
                if c.status == "running" and health in (None, "healthy", "starting"):
                    running += 1
                else:
                    problems.append(f"{c.name} {c.status}{' (' + health + ')' if health else ''}")
                if c.attrs.get("RestartCount", 0):
                    problems.append(f"{c.name} restarted {c.attrs['RestartCount']}×")
            return WorkloadHealth(running, len(containers), problems)

        return self._call("inspect", read)

    def logs(self, service: str, since: timedelta | None, tail: int, grep: str | None) -> str:
        def read(client):
            lines = []
            start = datetime.now(UTC) - since if since else None
            for c in self._containers(client, service):
                raw = c.logs(since=start, tail=tail, timestamps=True).decode(errors="replace")
                for line in raw.splitlines():
                    if grep is None or grep.lower() in line.lower():
                        lines.append(f"{c.name} | {line}")
            return "\n".join(lines) if lines else f"(no log lines for {service}{' matching ' + grep if grep else ''})"

        return self._call("logs", read)

    def log_streams(self, service: str, since: datetime) -> list[tuple[str, Iterator[bytes]]]:
        containers = self._call("listing", lambda client: [(c.id, c.name, bool(c.attrs["Config"].get("Tty")))
                                                           for c in self._containers(client, service)])
        return [(name, self._log_chunks(container_id, tty, since)) for container_id, name, tty in containers]

    def _log_chunks(self, container_id: str, tty: bool, since: datetime) -> Iterator[bytes]:
        """A container's log in blocks of about 1 MB, read from the engine's HTTP stream directly: docker-py's own
        stream hands over one frame (one line) at a time, which costs more than everything done with the line."""
        client = self._client()  # held by the stream until it ends or is closed
        api = client.api
        try:
            response = api.get(f"{api.base_url}/v{api.api_version}/containers/{container_id}/logs", stream=True,
                               params={"stdout": 1, "stderr": 1, "timestamps": 1, "follow": 0,
                                       "since": int(since.timestamp())})
            response.raise_for_status()
            blocks = response.iter_content(LOG_BLOCK)
            yield from blocks if tty else _demultiplexed(blocks)
        except (DockerException, RequestException) as error:
            raise BackendError(f"Docker logs failed in {self.env_name} ({_short(error)})") from error
        finally:
            client.close()

    def history(self, since: datetime) -> list[str]:
        """The engine's container events for this project since then (create, die, kill, oom, restart …)."""
        def read(client):
            events = client.events(since=since, until=datetime.now(UTC) + timedelta(seconds=1), decode=True,
                                   filters={"type": "container", "label": [f"{PROJECT}={self.project}"]})
            lines = []
            for event in events:
                if event.get("Action", "").startswith("exec_"):
                    continue  # health-check probes: noise that would bury what happened
                when = datetime.fromtimestamp(event.get("time", 0), UTC).isoformat()
                attributes = event.get("Actor", {}).get("Attributes", {})
                lines.append(f"{when}\t{event.get('Action')}\t{attributes.get('name', '?')}"
                             + (f"\texit {attributes['exitCode']}" if "exitCode" in attributes else ""))
            return lines[-HISTORY_LINES:]

        return self._call("events", read)

    # --- changes ---------------------------------------------------------------------------------
    def restart(self, service: str) -> str:
        def act(client):
            containers = self._containers(client, service)
            if not containers:
                raise ConflictError(f"{service} has no containers in {self.env_name} to restart.")
            for c in containers:
                c.restart(timeout=10)
            return f"restarted {', '.join(c.name for c in containers)}"

        return self._call("restart", act)

    def scale(self, service: str, replicas: int) -> str:
        def act(client):
            containers = self._containers(client, service)
            if not containers and replicas > 0:
                raise ConflictError(f"{service} has no container in {self.env_name} to clone from.")
            changed = []
            for c in containers[replicas:][::-1]:  # remove the highest-numbered first
                c.stop(timeout=10)
                c.remove()
                changed.append(f"removed {c.name}")
            numbers = [int(c.labels.get(NUMBER, "0") or 0) for c in containers]
            for number in range(max(numbers, default=0) + 1, max(numbers, default=0) + 1 + replicas - len(containers)):
                clone = self._clone(client, containers[0], number)
                changed.append(f"started {clone.name}")
            return "; ".join(changed) or f"{service} already has {replicas} replicas"

        return self._call("scale", act)

    def rollback_plan(self, service: str) -> str:
        def read(client):
            containers = self._containers(client, service)
            if not containers:
                raise ConflictError(f"{service} has no containers in {self.env_name}.")
            previous = containers[0].labels.get(PREVIOUS)
            if not previous:
                raise ConflictError(f"No previous image is recorded for {service} in {self.env_name} "
                                    f"(label {PREVIOUS}); nothing to roll back to.")
            return f"image {_image_name(containers[0])} → {previous}"

        return self._call("inspect", read)

    def rollback(self, service: str) -> str:
        def act(client):
            containers = self._containers(client, service)
            previous = containers[0].labels.get(PREVIOUS) if containers else None
            if not previous:
                raise ConflictError(f"No previous image is recorded for {service}.")
            current = _image_name(containers[0])
            client.images.get(previous)  # fail before removing anything if the image is gone
            for c in containers:
                number = int(c.labels.get(NUMBER, "1") or 1)
                labels = {**c.labels, PREVIOUS: current}
                c.stop(timeout=10)
                c.remove()
                self._clone(client, c, number, image=previous, labels=labels)
            return f"recreated {len(containers)} container(s) of {service} on {previous}"

        return self._call("rollback", act)

    def _maintenance_services(self) -> tuple[str, list[str]]:
        maintenance = self.env.maintenance
        if not maintenance or not maintenance.restart:
            raise UsageError(f"{self.env_name} has no maintenance configured: set maintenance.key (the environment "
                             "variable) and maintenance.restart (the services that read it).")
        return maintenance.key, maintenance.restart

    def maintenance_state(self) -> bool | None:
        key, services = self._maintenance_services()

        def read(client):
            containers = self._containers(client, services[0])
            if not containers:
                return None
            env = dict(item.partition("=")[::2] for item in containers[0].attrs["Config"].get("Env") or [])
            value = env.get(key)
            return None if value is None else value.strip().lower() in ("true", "on", "1", "yes")

        return self._call("inspect", read)

    def set_maintenance(self, on: bool) -> str:
        """Like the runbooks' `.env` edit + restart: recreate the services' containers with KEY=true|false."""
        key, services = self._maintenance_services()
        value = "true" if on else "false"

        def act(client):
            done = []
            for service in services:
                for c in self._containers(client, service):
                    env = [item for item in c.attrs["Config"].get("Env") or [] if not item.startswith(f"{key}=")]
                    number = int(c.labels.get(NUMBER, "1") or 1)
                    c.stop(timeout=10)
                    c.remove()
                    self._clone(client, c, number, environment=[*env, f"{key}={value}"])
                    done.append(c.name)
            return f"{key}={value}; recreated {', '.join(done) or 'no containers'}"

        return self._call("maintenance", act)

    def _clone(self, client, template, number: int, image: str | None = None, labels: dict | None = None,
               environment: list[str] | None = None):
        config = template.attrs["Config"]
        host = template.attrs["HostConfig"]
        name = f"{self.project}-{template.labels.get(SERVICE)}-{number}"
        container = client.containers.create(
            image or config["Image"], command=config.get("Cmd"), entrypoint=config.get("Entrypoint"),
            environment=environment if environment is not None else config.get("Env"),
            labels={**(labels or template.labels), NUMBER: str(number)},
            name=name, network_mode=host.get("NetworkMode") or "default",
            restart_policy=host.get("RestartPolicy") or None)
        container.start()
        return container


def _demultiplexed(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The payloads of the engine's stdout/stderr frames (8-byte header: stream, 0, 0, 0, big-endian size),
    joined per block read."""
    pending = b""
    for block in blocks:
        pending += block
        position, end, payloads = 0, len(pending), []
        while position + 8 <= end:
            size = int.from_bytes(pending[position + 4:position + 8], "big")
            if position + 8 + size > end:
                break
            payloads.append(pending[position + 8:position + 8 + size])
            position += 8 + size
        pending = pending[position:]
        if payloads:
            yield b"".join(payloads)


def _image_name(container) -> str:
    return container.attrs.get("Config", {}).get("Image") or (container.image.tags or [container.image.id])[0]


def _short(error: Exception) -> str:
    text = str(getattr(error, "explanation", None) or error)
    for reason in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if reason.lower() in text.lower():
            return reason.lower()
    return text.splitlines()[0][:200]
