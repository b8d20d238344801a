"""A Platform (bot/core/ports.py) in memory, for tests of everything above the adapters: services with replicas,
images with the one before them, stopped services that remember their replicas, a maintenance flag and log lines.
It refuses what the real adapters refuse, with the same error types, and passes the same contract
(tests/platform_contract.py) as Docker, Kubernetes and SSH."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.grep import LineFilter
from bot.core.ports import ServiceState, WorkloadHealth
from bot.errors import ConflictError, NotFound, UsageError


@dataclass
class FakeService:
    replicas: int
    image: str
    previous_image: str | None = None
    stopped_replicas: int | None = None  # stopped by opsbot: what start brings back
    log: list[str] = field(default_factory=list)


class FakePlatform:
    def __init__(self, env_name: str = "dev", services: dict[str, FakeService] | None = None,
                 maintenance: bool | None = False):
        self.env_name = env_name
        self.services = services if services is not None else {
            "api": FakeService(2, "shop/api:2", "shop/api:1",
                               log=["started", "error: pool exhausted", "GET /health 200", "ok"])}
        self.maintenance = maintenance  # None: the environment has no maintenance flag
        self.events: list[tuple[datetime, str]] = []
        self.config: dict[str, dict[str, str]] = {}  # service → its configuration keys
        self.secrets: dict[str, str] = {}  # secret key → the value written (only the test reads it)
        self.leftover: dict[str, str] = {}  # service → what reconcile says it settled (tests pretend a crash)
        self.reconciled: list[str] = []  # the services reconcile was called for

    def _service(self, name: str) -> FakeService:
        if name not in self.services:
            raise NotFound(f"{self.env_name}: no service {name} is running here.")
        return self.services[name]

    def _happened(self, what: str) -> str:
        self.events.append((datetime.now().astimezone(), what))
        return what

    # --- reads ---------------------------------------------------------------------------------------------
    def status(self) -> list[ServiceState]:
        return [ServiceState(name, 0 if s.stopped_replicas is not None else s.replicas, s.replicas, s.image)
                for name, s in self.services.items()]

    def replicas(self, service: str) -> int:
        return self._service(service).replicas

    def logs(self, service: str, since: timedelta | None, tail: int, grep: LineFilter | None,
             previous: bool = False, slot: str | None = None) -> str:
        if previous:
            raise UsageError(f"{self.env_name}: this platform keeps a restarted service's earlier output in its log; "
                             "read it without --previous.")
        kept = [line for line in self._service(service).log if grep is None or grep(line)]
        return "\n".join(f"{service}-{n} | {line}" for n in range(1, self.replicas(service) + 1)
                         for line in kept[-tail:])

    def log_streams(self, service: str, since: datetime) -> list[tuple[str, Iterator[bytes]]]:
        lines = self._service(service).log
        return [(f"{service}-{n}", iter([("\n".join(lines) + "\n").encode()]))
                for n in range(1, self.replicas(service) + 1)]

    def history(self, since: datetime) -> list[str]:
        return [what for at, what in self.events if at >= since]

    def workload_health(self, target: str) -> WorkloadHealth:
        service = self._service(target)
        running = 0 if service.stopped_replicas is not None else service.replicas
        return WorkloadHealth(running, service.replicas, [] if running == service.replicas else ["stopped"])

    def maintenance_state(self) -> bool | None:
        return self.maintenance

    # --- plans and changes ---------------------------------------------------------------------------------
    def restart(self, service: str) -> str:
        return self._happened(f"restarted {self.replicas(service)} replicas of {service}")

    def scale_plan(self, service: str, replicas: int) -> str:
        current = self._service(service)
        if current.stopped_replicas is not None:
            raise ConflictError(f"{service} is stopped; start it first.")
        return f"{current.replicas} → {replicas} replicas"

    def scale(self, service: str, replicas: int) -> str:
        plan = self.scale_plan(service, replicas)
        self._service(service).replicas = replicas
        return self._happened(f"{service}: {plan}")

    def rollback_plan(self, service: str) -> str:
        current = self._service(service)
        if current.previous_image is None:
            raise ConflictError(f"No previous image is recorded for {service}; nothing to roll back to.")
        return f"image {current.image} → {current.previous_image}"

    def rollback(self, service: str) -> str:
        plan = self.rollback_plan(service)
        current = self._service(service)
        current.image, current.previous_image = current.previous_image or current.image, current.image
        return self._happened(f"{service}: {plan}")

    def describe(self, service: str) -> str:
        current = self._service(service)
        return f"{service}: {current.replicas} replicas, image {current.image}"

    def exec_in(self, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
        self._service(service)
        self._happened(f"exec in {service}: {' '.join(argv)}")
        return 0, f"ran {' '.join(argv)} in {service}\n"

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list:
        raise UsageError(f"{self.env_name}: the fake platform has no hosts.")

    def config_values(self, service: str, keys: list[str]) -> dict[str, str | None]:
        config = self.config.setdefault(service, {"LOG_LEVEL": "info"})
        return {key: config.get(key) for key in keys}

    def set_config(self, service: str, changes: dict[str, str | None], restart: bool) -> str:
        config = self.config.setdefault(service, {"LOG_LEVEL": "info"})
        for key, value in changes.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return self._happened(f"{service}: config {sorted(changes)}" + (", restarted" if restart else ""))

    def secret_place(self, secret) -> str:
        return f"the fake's {secret.key}"

    def set_secret(self, secret, value: str) -> str:
        self.secrets[secret.key] = value  # the test reads it back to prove nothing else holds it
        return self._happened(f"{secret.key} written, restarted {', '.join(secret.restart) or 'nothing'}")

    def resources_plan(self, service: str, memory: str | None, cpu: str | None) -> str:
        self._service(service)
        return f"memory {memory or '='}, cpu {cpu or '='}"

    def set_resources(self, service: str, memory: str | None, cpu: str | None) -> str:
        return self._happened(f"{service}: {self.resources_plan(service, memory, cpu)}")

    def delete_pod_plan(self, pod: str) -> str:
        raise UsageError(f"{self.env_name}: the fake platform has no pods.")

    def delete_pod(self, pod: str) -> str:
        return self.delete_pod_plan(pod)

    def deploy_plan(self, service: str, image: str) -> str:
        current = self._service(service)
        if current.image == image:
            raise ConflictError(f"{service} already runs {image}; nothing to deploy.")
        return f"image {current.image} → {image}"

    def deploy(self, service: str, image: str, timeout_s: float, report=None) -> str:
        plan = self.deploy_plan(service, image)
        if report is not None:
            report(f"{service}: 1/1 updated")
        current = self._service(service)
        current.image, current.previous_image = image, current.image
        return self._happened(f"{service}: {plan}")

    def stop_plan(self, service: str) -> str:
        current = self._service(service)
        if current.stopped_replicas is not None:
            raise ConflictError(f"{service} is already stopped.")
        return f"{service}: {current.replicas} → 0 running"

    def stop(self, service: str) -> str:
        plan = self.stop_plan(service)
        current = self._service(service)
        current.stopped_replicas = current.replicas
        return self._happened(plan)

    def start_plan(self, service: str) -> str:
        current = self._service(service)
        if current.stopped_replicas is None:
            raise ConflictError(f"{service} was not stopped by opsbot.")
        return f"{service}: 0 → {current.stopped_replicas} running"

    def start(self, service: str) -> str:
        plan = self.start_plan(service)
        current = self._service(service)
        current.replicas, current.stopped_replicas = current.stopped_replicas or current.replicas, None
        return self._happened(plan)

    def switch_plan(self, service: str, slot: str | None) -> str:
        raise UsageError(f"{self.env_name}: blue/green slots are for Kubernetes environments.")

    def switch(self, service: str, slot: str | None) -> str:
        return self.switch_plan(service, slot)

    def set_maintenance(self, on: bool) -> str:
        if self.maintenance is None:
            raise UsageError(f"{self.env_name} has no maintenance flag.")
        self.maintenance = on
        return self._happened(f"maintenance {'on' if on else 'off'}")

    def reconcile(self, service: str) -> str | None:
        """Every change here is done at once: nothing is ever left half done (tests put it in `leftover`)."""
        self._service(service)
        self.reconciled.append(service)
        return self.leftover.pop(service, None)
