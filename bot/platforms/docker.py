"""Docker Compose environments through the docker SDK.

Services are found by their Compose labels. Every recreate (scale up, rollback, maintenance mode) builds the new
container from the old one's whole inspect document, changing only what the action changes, and refuses when the
container has a setting opsbot cannot carry over (bot/platforms/docker_recreate.py). Rollback goes to the image
in the `opsbot.previous-image` label (set by deploy tooling, and by opsbot itself) or, failing that, to the one
opsbot remembers from its last rollback of the service. Scale to 0 remembers the service's spec, so it can be
scaled up again.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import docker
from docker.errors import DockerException, ImageNotFound
from requests.exceptions import RequestException

from bot.config.environments import Environment, SecretSpec
from bot.core.grep import LineFilter
from bot.core.ports import PlatformMemory, ServiceState, WorkloadHealth
from bot.core.redact import default_redactor
from bot.errors import BackendError, ConflictError, UsageError
from bot.platforms import ProcessMemory, docker_config, settings_of
from bot.platforms import docker_batches as batches
from bot.platforms import docker_recreate as recreate
from bot.platforms.docker_reconcile import settle_all
from bot.platforms.script import KEEP, KeptOutput
from bot.platforms.settings import DockerSettings

PROJECT = "com.docker.compose.project"
NUMBER = "com.docker.compose.container-number"
PREVIOUS = "opsbot.previous-image"
LOG_BLOCK = 1 << 20
HISTORY_LINES = 1000


class DockerPlatform:
    def __init__(self, env_name: str, env: Environment, timeout: int = 15, memory: PlatformMemory | None = None):
        self.env_name = env_name
        self.env = env
        platform = settings_of(env_name, env, DockerSettings)
        self.project = platform.project
        self.host = platform.host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self.timeout = timeout
        self.memory = memory or ProcessMemory()

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

    def _containers(self, client, service: str | None = None, running_only: bool = False,
                    parked: bool = False) -> list:
        """The service's containers; an old one parked by a replace opsbot did not finish is never one of them
        (not a replica, never restarted, scaled or read): `parked` lists those instead, for reconcile."""
        labels = [f"{PROJECT}={self.project}"]
        if service:
            labels.append(f"{recreate.SERVICE}={self._service_name(service)}")
        found = [c for c in client.containers.list(all=not running_only, filters={"label": labels})
                 if (recreate.PARKED in c.name) == parked]
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

    def logs(self, service: str, since: timedelta | None, tail: int, grep: LineFilter | None,
             previous: bool = False, slot: str | None = None) -> str:  # slots: Kubernetes only (core checks)
        if previous:  # --previous is the log of a crashed Kubernetes container, which a pod replaces
            raise UsageError(f"{self.env_name}: Docker keeps a restarted container's earlier output in its own log; "
                             "run /ops logs without --previous.")

        def read(client):
            lines = []
            start = datetime.now(UTC) - since if since else None
            for c in self._containers(client, service):
                raw = c.logs(since=start, tail=tail, timestamps=True).decode(errors="replace")
                for line in raw.splitlines():
                    if not grep or grep(line):
                        lines.append(f"{c.name} | {line}")
            return "\n".join(lines) if lines else f"(no log lines for {service}{' matching ' + str(grep) if grep else ''})"

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

    def scale_plan(self, service: str, replicas: int) -> str:
        def look(client):
            containers = self._containers(client, service)
            self._clone_request(client, service, containers, replicas)  # what scale would refuse, refused now
            return f"{len(containers)} → {replicas} replicas"

        return self._call("inspect", look)

    def _clone_request(self, client, service: str, containers: list, replicas: int) -> tuple[dict, dict] | None:
        """(template, create request) for the containers scaling up adds, or None when it adds none. Refuses, before
        anything changes, a service with nothing to copy, fixed host ports past one replica, or unknown fields."""
        if replicas <= len(containers):
            return None
        # Clone the lowest-numbered container, or the spec remembered when the service went to 0.
        template = containers[0].attrs if containers else (self._recall(service).get("spec"))
        if template is None:
            raise ConflictError(f"{service} has no container in {self.env_name} to copy, and opsbot remembers "
                                "no spec for it (it does when it scales a service to 0).")
        if replicas > 1:
            recreate.refuse_fixed_host_ports(service, template)
        return template, recreate.create_request(template, recreate.image_config(client, template), clone=True)

    def scale(self, service: str, replicas: int) -> str:
        def act(client):
            containers = self._containers(client, service)
            template, request = self._clone_request(client, service, containers, replicas) or (None, None)
            changed = []
            self._remember(service, scaling={"to": replicas})  # a crash half-way is finished by reconcile()
            if replicas == 0 and containers:  # keep what is needed to scale back up
                self._remember(service, spec=recreate.storable(containers[0].attrs))
            for c in containers[replicas:][::-1]:  # remove the highest-numbered first, as Compose does
                c.stop(timeout=10)
                c.remove(v=True)  # its anonymous volumes too: no container will mount them again
                changed.append(f"removed {c.name}")
            if request is not None and template is not None:
                numbers = [int(c.labels.get(NUMBER, "0") or 0) for c in containers]
                first = max(numbers, default=0) + 1
                for number in range(first, first + replicas - len(containers)):
                    name = recreate.numbered_name(template, self.project, number)
                    body = {**request, "Labels": {**request["Labels"], NUMBER: str(number)}}
                    client.api.start(recreate.create(client, name, body, template))
                    changed.append(f"started {name}")
            self._remember(service, scaling=None)
            return "; ".join(changed) or f"{service} already has {replicas} replicas"

        return self._call("scale", act)

    def stop_plan(self, service: str) -> str:
        return self._call("inspect", lambda client: self._run_state(client, service, "stopped"))

    def start_plan(self, service: str) -> str:
        return self._call("inspect", lambda client: self._run_state(client, service, "running"))

    def _run_state(self, client, service: str, goal: str) -> str:
        containers = self._containers(client, service)
        if not containers:
            raise ConflictError(f"{service} has no containers in {self.env_name}"
                                + (" to start; use /ops scale to create them." if goal == "running" else "."))
        running = sum(c.status in ("running", "restarting") for c in containers)
        return f"{running} of {len(containers)} container(s) running → all {goal}"

    def stop(self, service: str) -> str:
        """Stop, never remove: the containers keep their whole spec, Compose still lists them, `start` resumes them."""
        def act(client):
            running = [c for c in self._containers(client, service) if c.status in ("running", "restarting", "paused")]
            for c in running:
                c.stop(timeout=10)
            return f"stopped {', '.join(c.name for c in running)}" if running else f"{service} was already stopped"

        return self._call("stop", act)

    def start(self, service: str) -> str:
        def act(client):
            stopped = [c for c in self._containers(client, service) if c.status in ("exited", "created")]
            for c in stopped:
                c.start()
            return f"started {', '.join(c.name for c in stopped)}" if stopped else f"{service} was already running"

        return self._call("start", act)

    def _previous_image(self, service: str, container) -> str | None:
        """The image to roll back to: the container's label (deploy tooling sets it), else what opsbot remembered
        when it last rolled this service between two images (a recreate by Compose drops opsbot's label)."""
        return container.labels.get(PREVIOUS) or self._recall(service).get("previous", {}).get(_image_name(container))

    def rollback_plan(self, service: str) -> str:
        def read(client):
            containers = self._containers(client, service)
            if not containers:
                raise ConflictError(f"{service} has no containers in {self.env_name}.")
            previous = self._previous_image(service, containers[0])
            if not previous:
                raise ConflictError(f"No previous image is recorded for {service} in {self.env_name} "
                                    f"(label {PREVIOUS}); nothing to roll back to.")
            _not_running_already(service, self.env_name, containers, previous)
            return f"image {_image_name(containers[0])} → {previous}"

        return self._call("inspect", read)

    def rollback(self, service: str) -> str:
        def act(client):
            containers = self._containers(client, service)
            previous = self._previous_image(service, containers[0]) if containers else None
            if not previous:
                raise ConflictError(f"No previous image is recorded for {service}.")
            _not_running_already(service, self.env_name, containers, previous)
            return self._recreate_on(client, service, containers, previous)

        return self._call("rollback", act)

    def describe(self, service: str) -> str:
        def read(client) -> str:
            containers = self._containers(client, service)
            if not containers:
                return f"{service} has no containers in {self.env_name}."
            return "\n".join(_container_text(c) for c in containers)

        return self._call("inspect", read)

    def exec_in(self, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
        """`docker exec` in the service's first running container, its output streamed through redaction and
        kept bounded; the client waits up to the action's timeout for the next output."""
        client = docker.DockerClient(base_url=self.host, timeout=max(int(timeout_s), self.timeout))
        try:
            running = [c for c in self._containers(client, service) if c.status == "running"]
            if not running:
                raise ConflictError(f"{service} has no running container in {self.env_name} to run it in.")
            exec_id = client.api.exec_create(running[0].id, argv, stdout=True, stderr=True)["Id"]
            kept = KeptOutput(KEEP)
            for block, _ in default_redactor().stream(client.api.exec_start(exec_id, stream=True)):
                kept.add(block)
            return client.api.exec_inspect(exec_id)["ExitCode"] or 0, kept.text()
        except (DockerException, RequestException) as error:
            raise BackendError(f"Docker exec failed in {self.env_name} ({_short(error)})") from error
        finally:
            client.close()

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list:
        raise UsageError(f"{self.env_name} runs Docker containers: a runbook action runs on hosts only in an "
                         "environment whose platform is ssh.")

    def config_values(self, service: str, keys: list[str]) -> dict[str, str | None]:
        return docker_config.config_values(self, service, keys)

    def set_config(self, service: str, changes: dict[str, str | None], restart: bool) -> str:
        return docker_config.set_config(self, service, changes, restart)

    def secret_place(self, secret: SecretSpec) -> str:
        return docker_config.secret_place(self, secret)

    def set_secret(self, secret: SecretSpec, value: str) -> str:
        return docker_config.set_secret(self, secret, value)

    def resources_plan(self, service: str, memory: str | None, cpu: str | None) -> str:
        return docker_config.resources_plan(self, service, memory, cpu)

    def set_resources(self, service: str, memory: str | None, cpu: str | None) -> str:
        return docker_config.set_resources(self, service, memory, cpu)

    def delete_pod_plan(self, pod: str) -> str:
        raise UsageError(f"{self.env_name} runs Docker containers, not pods: restart the service instead.")

    def delete_pod(self, pod: str) -> str:
        return self.delete_pod_plan(pod)

    def deploy_plan(self, service: str, image: str) -> str:
        def read(client):
            containers = self._deployable(client, service, image)
            return (f"{len(containers)} container(s): {_image_name(containers[0])} → {image} (each recreated with "
                    "everything else of its spec kept)")

        return self._call("inspect", read)

    def deploy(self, service: str, image: str, timeout_s: float, report=None) -> str:
        return self._call("deploy", lambda client: self._recreate_on(
            client, service, self._deployable(client, service, image), image, report))

    def _deployable(self, client, service: str, image: str) -> list:
        """The service's containers, or why `image` cannot be deployed to them (already running, not on the engine:
        opsbot never pulls)."""
        containers = self._containers(client, service)
        if not containers:
            raise ConflictError(f"{service} has no containers in {self.env_name}.")
        if all(_image_name(c) == image for c in containers):
            raise ConflictError(f"{service} in {self.env_name} already runs {image}; nothing to deploy.")
        try:
            client.images.get(image)
        except ImageNotFound as exc:
            raise ConflictError(f"The Docker engine of {self.env_name} has no image {image}: pull or build it there "
                                "first (opsbot never pulls).") from exc
        return containers

    def _recreate_on(self, client, service: str, containers: list, image: str, report=None) -> str:
        """Recreate each container on `image`, remembering the image it ran for a rollback."""
        current = _image_name(containers[0])
        client.images.get(image)  # fail before changing anything if the image is gone
        # Every container's request is built (and refused if unfaithful) before the first one is touched.
        requests = [recreate.create_request(c.attrs, recreate.image_config(client, c.attrs), image=image,
                                            labels={PREVIOUS: current}) for c in containers]
        remembered = self._recall(service).get("previous", {})
        # The whole batch's intent too: a crash between two containers leaves replicas on two images, which
        # reconcile() brings back to one.
        self._remember(service, previous={**remembered, image: current, current: image},
                       batch={"image_from": current, "image_to": image})
        for number, (c, request) in enumerate(zip(containers, requests, strict=True), start=1):
            self._replace(client, service, c, request)
            if report is not None:
                report(f"{c.name} recreated on {image} ({number}/{len(containers)})")
        self._remember(service, batch=None)
        return f"recreated {len(containers)} container(s) of {service} on {image}"

    def _maintenance_services(self) -> tuple[str, list[str]]:
        maintenance = self.env.maintenance
        if not maintenance or not maintenance.restart:
            raise UsageError(f"{self.env_name} has no maintenance configured: set maintenance.key (the environment "
                             "variable) and maintenance.restart (the services that read it).")
        return maintenance.key, maintenance.restart

    def switch_plan(self, service: str, slot: str | None) -> str:
        raise UsageError(f"{self.env_name}: blue/green slots are for Kubernetes environments.")

    def switch(self, service: str, slot: str | None) -> str:
        return self.switch_plan(service, slot)

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
            requests = []
            for service in services:
                for c in self._containers(client, service):
                    env = [item for item in c.attrs["Config"].get("Env") or [] if not item.startswith(f"{key}=")]
                    requests.append((service, c, recreate.create_request(
                        c.attrs, recreate.image_config(client, c.attrs), env=[*env, f"{key}={value}"])))
            self._replace_env_batch(client, requests, [key])
            return f"{key}={value}; recreated {', '.join(c.name for _, c, _ in requests) or 'no containers'}"

        return self._call("maintenance", act)

    def _replace_env_batch(self, client, requests: list, keys: list[str]) -> None:
        """Recreate containers whose environment changes, the batch noted (which keys, which containers are done)
        so a crash half-way leaves replicas that reconcile() brings to agree. Only key names are noted: values,
        secrets among them, stay in the engine."""
        services = sorted({service for service, _, _ in requests})
        for service in services:
            self._remember(service, env_batch={"keys": keys, "done": [],
                                               "names": [c.name for s, c, _ in requests if s == service]})
        for service, container, request in requests:
            self._replace(client, service, container, request)
            batch = self._recall(service).get("env_batch") or {"keys": keys, "done": [], "names": []}
            self._remember(service, env_batch={**batch, "done": [*batch["done"], container.name]})
        for service in services:
            self._remember(service, env_batch=None)

    def _replace(self, client, service: str, container, request: dict) -> None:
        recreate.replace(client, container, request, lambda intent: self._note(service, container.name, intent))

    def _note(self, service: str, name: str, intent: dict | None) -> None:
        """A replace's intent, kept in the service's memory (`replacing`, by container name) until it is done."""
        replacing = {k: v for k, v in self._recall(service).get("replacing", {}).items() if k != name}
        self._remember(service, replacing={**replacing, **({name: intent} if intent else {})})

    def reconcile(self, service: str) -> str | None:
        """Finish or undo each replace of the service's containers that opsbot stopped in the middle of, so each
        replica is one container again (bot/platforms/docker_reconcile.py); None when there was none."""
        def settle(client) -> str | None:
            done = settle_all(client, self._recall(service).get("replacing", {}),
                              lambda: self._containers(client, service, parked=True),
                              lambda name: self._note(service, name, None))
            whole = batches.settle_batch(self, client, service)
            scaled = batches.settle_scaling(self, client, service)
            agreed = batches.settle_env_batch(self, client, service)
            return "; ".join(part for part in (done, whole, scaled, agreed) if part) or None

        return self._call("reconcile", settle)

    def _memory_key(self, service: str) -> str:
        return f"docker/{self.host}/{self.project}/{self._service_name(service)}"

    def _recall(self, service: str) -> dict:
        return self.memory.recall(self._memory_key(service)) or {}

    def _remember(self, service: str, **changes) -> None:
        self.memory.remember(self._memory_key(service), {**self._recall(service), **changes})


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


def _container_text(container) -> str:
    """One container as `docker inspect` tells it: state, health, restarts, the last exit, image, since when."""
    state = container.attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status")
    text = (f"container {container.name}: {state.get('Status', container.status)}"
            + (f" ({health})" if health else "") + f", {container.attrs.get('RestartCount', 0)} restarts, "
            f"image {_image_name(container)}, started {state.get('StartedAt', '?')[:19]}")
    if state.get("Status") in ("exited", "dead"):
        text += f"; exited {state.get('ExitCode')}" + (" (OOM killed)" if state.get("OOMKilled") else "") + (
            f": {state['Error']}" if state.get("Error") else "")
    return text


def _not_running_already(service: str, env_name: str, containers: list, image: str) -> None:
    if all(_image_name(c) == image for c in containers):  # recreating it would change nothing and say "Done"
        raise ConflictError(f"{service} in {env_name} already runs {image}, the image to roll back to; nothing "
                            "to do.")


_image_name = recreate.image_name


def _short(error: Exception) -> str:
    text = str(getattr(error, "explanation", None) or error)
    for reason in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if reason.lower() in text.lower():
            return reason.lower()
    return text.splitlines()[0][:200]
