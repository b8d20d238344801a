"""Kubernetes environments through the official client.

restart = `kubectl rollout restart` (the restartedAt template annotation); scale = the scale subresource;
rollback = `kubectl rollout undo` (the previous ReplicaSet revision's pod template); maintenance = patch
the ConfigMap key, then restart the listed deployments; stop = scale to 0, the replicas remembered in the
deployment's `opsbot/stopped-replicas` annotation; start = scale back to them. A service with blue/green `slots`
is its live slot's Deployment for every action; switch = patch the Service's selector to the other slot, the slot
it leaves remembered in the Service's `opsbot/previous-slot` annotation (for `--back`); its logs are both slots'.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from bot.config.environments import Environment, SecretSpec
from bot.core.grep import LineFilter
from bot.core.ports import PlatformMemory, ServiceState, WorkloadHealth
from bot.errors import BackendError, ConflictError, UsageError
from bot.platforms import kubernetes_config, kubernetes_deploy, kubernetes_pods, settings_of
from bot.platforms.kubernetes_objects import REVISION, event_time, label_selector, matches, rollout_state
from bot.platforms.settings import KubernetesSettings

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
STOPPED = "opsbot/stopped-replicas"
PREVIOUS_SLOT = "opsbot/previous-slot"
TIMEOUT = 10
LOG_BLOCK = 1 << 20
HISTORY_LINES = 1000


class KubernetesPlatform:
    def __init__(self, env_name: str, env: Environment, memory: PlatformMemory | None = None):
        # `memory` is unused: what an action must remember is kept in the objects' own annotations
        self.env_name = env_name
        self.env = env
        self.config = settings_of(env_name, env, KubernetesSettings)
        self.namespace = self.config.namespace
        self._api: client.ApiClient | None = None

    # --- plumbing ---------------------------------------------------------------------------
    def api(self) -> client.ApiClient:
        if self._api is None:
            try:
                if self.config.api_url:
                    configuration = client.Configuration()
                    configuration.host = self.config.api_url
                    token = os.environ.get("KUBERNETES_TOKEN")
                    if token:
                        configuration.api_key = {"authorization": f"Bearer {token}"}
                    self._api = client.ApiClient(configuration)
                elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                    config.load_incluster_config()
                    self._api = client.ApiClient()
                else:
                    self._api = config.new_client_from_config(context=self.config.context)
            except (config.ConfigException, OSError) as error:
                raise BackendError(f"No Kubernetes credentials for {self.env_name}: {error}") from error
        return self._api

    def _call(self, what: str, fn):
        try:
            return fn()
        except ApiException as error:
            reason = f"{error.status} {str(error.reason)[:160]}"
            raise BackendError(f"Kubernetes {what} failed in {self.env_name} ({reason})") from error
        except (HTTPError, OSError) as error:
            raise BackendError(f"Cannot reach the Kubernetes API of {self.env_name} ({type(error).__name__})") from error

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api())

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api())

    def _deployment_name(self, service: str) -> str:
        spec = self.env.services.get(service)
        if spec and spec.slots:  # a blue/green service is acted on through its live slot
            live = self._live_slot(service)
            if live is None:
                raise ConflictError(f"{service} in {self.env_name}: Service {spec.slots.service} selects no slot "
                                    f"({spec.slots.selector_key} is not blue or green); use /ops switch first.")
            return spec.slots.deployment(live)
        return spec.deployment if spec and spec.deployment else service

    def _selector(self, service: str) -> str:
        spec = self.env.services.get(service)
        if spec and spec.selector:
            return spec.selector
        return label_selector(self._deployment(service))

    def _slots(self, service: str):
        spec = self.env.services.get(service)
        if spec is None or spec.slots is None:
            raise UsageError(f"{service} in {self.env_name} has no blue/green slots (declare `slots:` on the service).")
        return spec.slots

    def _service_object(self, service: str):
        return self.core.read_namespaced_service(self._slots(service).service, self.namespace, _request_timeout=TIMEOUT)

    def _live_slot(self, service: str) -> str | None:
        slots = self._slots(service)
        live = (self._service_object(service).spec.selector or {}).get(slots.selector_key)
        return live if live in slots.names() else None

    def _log_selectors(self, service: str, only: str | None = None) -> list[str]:
        """Where a service's pods are: with slots, both slots' (the pod names tell them apart) or `only` one's."""
        spec = self.env.services.get(service)
        if spec and spec.slots:
            return [label_selector(self.apps.read_namespaced_deployment(spec.slots.deployment(slot), self.namespace,
                                                                         _request_timeout=TIMEOUT))
                    for slot in spec.slots.names() if only in (None, slot)]
        return [self._selector(service)]

    def _deployment(self, service: str):
        return self.apps.read_namespaced_deployment(self._deployment_name(service), self.namespace,
                                                    _request_timeout=TIMEOUT)

    def _pods(self, selector: str) -> list:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector, _request_timeout=TIMEOUT).items
        return [pod for pod in pods if matches(pod.metadata.labels, selector)]

    # --- reads ---------------------------------------------------------------------------------
    def status(self) -> list[ServiceState]:
        def read():
            states = []
            for name in self.env.services:
                deployment = self._deployment(name)
                ready = deployment.status.ready_replicas or 0 if deployment.status else 0
                image = ", ".join(c.image for c in deployment.spec.template.spec.containers)
                revision = (deployment.metadata.annotations or {}).get(REVISION)
                detail = f"revision {revision}" if revision else ""
                if self.env.services[name].slots:
                    detail = f"live slot {self._live_slot(name)}" + (f", {detail}" if detail else "")
                states.append(ServiceState(name, ready, deployment.spec.replicas or 0, image, detail))
            return states

        return self._call("status", read)

    def replicas(self, service: str) -> int:
        return self._call("scale read", lambda: self.apps.read_namespaced_deployment_scale(
            self._deployment_name(service), self.namespace, _request_timeout=TIMEOUT).spec.replicas or 0)

    def workload_health(self, target: str) -> WorkloadHealth:
        def read():
            if target in self.env.services:
                selector, desired = self._selector(target), self._deployment(target).spec.replicas or 0
            else:
                selector, desired = target, None
            pods = self._pods(selector)
            ready, problems = 0, []
            for pod in pods:
                statuses = (pod.status.container_statuses if pod.status else None) or []
                if statuses and all(s.ready for s in statuses):
                    ready += 1
                for s in statuses:
                    waiting = s.state.waiting if s.state else None
                    if waiting and waiting.reason:
                        problems.append(f"{pod.metadata.name} {waiting.reason}")
                    if s.restart_count:
                        problems.append(f"{pod.metadata.name} restarted {s.restart_count}×")
            return WorkloadHealth(ready, desired if desired is not None else len(pods), problems)

        return self._call("pod listing", read)

    def logs(self, service: str, since: timedelta | None, tail: int, grep: LineFilter | None,
             previous: bool = False, slot: str | None = None) -> str:
        def read():
            lines = []
            for selector in self._log_selectors(service, slot):
                for pod in self._pods(selector):
                    try:
                        text = self.core.read_namespaced_pod_log(
                            pod.metadata.name, self.namespace, previous=previous,
                            since_seconds=int(since.total_seconds()) if since else None,
                            tail_lines=tail, timestamps=True, _request_timeout=TIMEOUT)
                    except ApiException as error:
                        if previous and error.status == 400:  # this pod's container never restarted
                            lines.append(f"{pod.metadata.name} | (no previous container: it has not restarted)")
                            continue
                        raise
                    lines += [f"{pod.metadata.name} | {line}" for line in text.splitlines() if not grep or grep(line)]
            return "\n".join(lines) if lines else f"(no log lines for {service}{' matching ' + str(grep) if grep else ''})"

        return self._call("logs", read)

    def log_streams(self, service: str, since: datetime) -> list[tuple[str, Iterator[bytes]]]:
        pods = self._call("pod listing", lambda: self._pods(self._selector(service)))
        return [(pod.metadata.name, self._log_chunks(pod.metadata.name, since)) for pod in pods]

    def _log_chunks(self, pod: str, since: datetime) -> Iterator[bytes]:
        """A pod's log as the API sends it, in blocks, never read whole."""
        seconds = max(1, int((datetime.now(UTC) - since).total_seconds()))
        response = self._call("logs", lambda: self.core.read_namespaced_pod_log(
            pod, self.namespace, since_seconds=seconds, timestamps=True, _preload_content=False,
            _request_timeout=TIMEOUT))
        try:
            yield from self._call("logs", lambda: response.stream(LOG_BLOCK))
        finally:
            response.release_conn()

    def history(self, since: datetime) -> list[str]:
        """Each service's rollout revisions (ReplicaSets: revision, image, replicas) and the namespace's events
        about its pods and ReplicaSets since then."""
        def read():
            lines, names = [], []
            for service in self.env.services:
                deployment = self._deployment(service)
                names.append(deployment.metadata.name)
                selector = self._selector(service)
                sets = self.apps.list_namespaced_replica_set(self.namespace, label_selector=selector,
                                                             _request_timeout=TIMEOUT).items
                for rs in sorted(sets, key=lambda rs: int((rs.metadata.annotations or {}).get(REVISION, "0") or 0)):
                    images = ", ".join(c.image for c in rs.spec.template.spec.containers)
                    ready = (rs.status.ready_replicas or 0) if rs.status else 0
                    lines.append(f"replicaset {rs.metadata.name}\trevision "
                                 f"{(rs.metadata.annotations or {}).get(REVISION, '?')}\t{images}\t"
                                 f"{ready}/{rs.spec.replicas or 0} ready")
            events = self.core.list_namespaced_event(self.namespace, _request_timeout=TIMEOUT).items
            for event in sorted(events, key=event_time):
                involved = event.involved_object.name or "" if event.involved_object else ""
                if event_time(event) >= since and any(involved.startswith(name) for name in names):
                    lines.append(f"{event_time(event).isoformat()}\t{event.type}\t{event.reason}\t"
                                 f"{event.involved_object.kind}/{involved}\t{event.message or ''}")
            return lines[-HISTORY_LINES:]

        return self._call("history", read)

    # --- changes ---------------------------------------------------------------------------------
    def restart(self, service: str) -> str:
        name = self._deployment_name(service)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        self._call("rollout restart", lambda: self.apps.patch_namespaced_deployment(
            name, self.namespace, body, _request_timeout=TIMEOUT))
        return f"rollout restart of deployment/{name} at {now}"

    def scale(self, service: str, replicas: int) -> str:
        name = self._deployment_name(service)
        self._call("scale", lambda: self.apps.patch_namespaced_deployment_scale(
            name, self.namespace, {"spec": {"replicas": replicas}}, _request_timeout=TIMEOUT))
        return f"deployment/{name} scaled to {replicas}"

    def _stopped(self, service: str) -> tuple[str, int, int | None]:
        """(deployment name, replicas now, replicas before opsbot stopped it — None when it did not)."""
        deployment = self._deployment(service)
        remembered = (deployment.metadata.annotations or {}).get(STOPPED)
        return deployment.metadata.name, deployment.spec.replicas or 0, int(remembered) if remembered else None

    def scale_plan(self, service: str, replicas: int) -> str:
        return f"{self.replicas(service)} → {replicas} replicas"

    def stop_plan(self, service: str) -> str:
        name, replicas, remembered = self._call("read", lambda: self._stopped(service))
        if remembered is not None or replicas == 0:
            raise ConflictError(f"{service} in {self.env_name} is already stopped (0 replicas).")
        return f"deployment/{name}: {replicas} → 0 replicas ({replicas} remembered for /ops start)"

    def stop(self, service: str) -> str:
        name, replicas, remembered = self._call("read", lambda: self._stopped(service))
        if remembered is not None or replicas == 0:
            raise ConflictError(f"{service} in {self.env_name} is already stopped (0 replicas).")
        # One patch: the replicas to come back to are written in the same change that removes the pods.
        body = {"metadata": {"annotations": {STOPPED: str(replicas)}}, "spec": {"replicas": 0}}
        self._call("stop", lambda: self.apps.patch_namespaced_deployment(name, self.namespace, body,
                                                                         _request_timeout=TIMEOUT))
        return f"deployment/{name} scaled {replicas} → 0"

    def start_plan(self, service: str) -> str:
        name, replicas, remembered = self._call("read", lambda: self._stopped(service))
        if remembered is None:
            raise ConflictError(f"{service} in {self.env_name} was not stopped by opsbot (no {STOPPED} annotation); "
                                "use /ops scale to set its replicas.")
        return f"deployment/{name}: {replicas} → {remembered} replicas"

    def start(self, service: str) -> str:
        name, replicas, remembered = self._call("read", lambda: self._stopped(service))
        if remembered is None:
            raise ConflictError(f"{service} in {self.env_name} was not stopped by opsbot; use /ops scale.")
        body = {"metadata": {"annotations": {STOPPED: None}}, "spec": {"replicas": remembered}}
        self._call("start", lambda: self.apps.patch_namespaced_deployment(name, self.namespace, body,
                                                                          _request_timeout=TIMEOUT))
        return f"deployment/{name} scaled {replicas} → {remembered}"

    def _revisions(self, service: str):
        """(deployment, current revision, the previous ReplicaSet) as `kubectl rollout undo` finds them."""
        deployment = self._deployment(service)
        current = int((deployment.metadata.annotations or {}).get(REVISION, "0") or 0)
        selector = self._selector(service)
        sets = self.apps.list_namespaced_replica_set(self.namespace, label_selector=selector,
                                                     _request_timeout=TIMEOUT).items
        owned = [rs for rs in sets if matches(rs.metadata.labels, selector) and any(
            ref.kind == "Deployment" and ref.name == deployment.metadata.name
            for ref in rs.metadata.owner_references or [])]
        older = [rs for rs in owned if int((rs.metadata.annotations or {}).get(REVISION, "0") or 0) < current]
        if not older:
            raise ConflictError(f"{service} in {self.env_name} has no previous revision to roll back to.")
        previous = max(older, key=lambda rs: int(rs.metadata.annotations[REVISION]))
        return deployment, current, previous

    def rollback_plan(self, service: str) -> str:
        deployment, current, previous = self._call("rollout history", lambda: self._revisions(service))
        now_images = ", ".join(c.image for c in deployment.spec.template.spec.containers)
        then_images = ", ".join(c.image for c in previous.spec.template.spec.containers)
        if now_images == then_images:  # undoing would change nothing and say "Done"
            raise ConflictError(f"{service} in {self.env_name} already runs {then_images}, the previous revision's "
                                "image; nothing to roll back.")
        return f"revision {current} ({now_images}) → revision {previous.metadata.annotations[REVISION]} ({then_images})"

    def rollback(self, service: str) -> str:
        def act():
            deployment, _, previous = self._revisions(service)
            template = self.api().sanitize_for_serialization(previous.spec.template)
            template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
            self.apps.patch_namespaced_deployment(deployment.metadata.name, self.namespace,
                                                  {"spec": {"template": template}}, _request_timeout=TIMEOUT)
            return f"deployment/{deployment.metadata.name} rolled back to revision {previous.metadata.annotations[REVISION]}"

        return self._call("rollback", act)

    def deploy_plan(self, service: str, image: str) -> str:
        return kubernetes_deploy.plan(self, service, image)

    def deploy(self, service: str, image: str, timeout_s: float, report=None) -> str:
        return kubernetes_deploy.deploy(self, service, image, timeout_s, report=report)

    def describe(self, service: str) -> str:
        return kubernetes_pods.describe(self, service)

    def exec_in(self, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
        return kubernetes_pods.exec_in(self, service, argv, timeout_s)

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list:
        raise UsageError(f"{self.env_name} runs on Kubernetes: a runbook action runs on hosts only in an "
                         "environment whose platform is ssh (use exec: to run it in a pod).")

    def config_values(self, service: str, keys: list[str]) -> dict[str, str | None]:
        return kubernetes_config.config_values(self, service, keys)

    def set_config(self, service: str, changes: dict[str, str | None], restart: bool) -> str:
        return kubernetes_config.set_config(self, service, changes, restart)

    def secret_place(self, secret: SecretSpec) -> str:
        return kubernetes_config.secret_place(self, secret)

    def set_secret(self, secret: SecretSpec, value: str) -> str:
        return kubernetes_config.set_secret(self, secret, value)

    def resources_plan(self, service: str, memory: str | None, cpu: str | None) -> str:
        return kubernetes_config.resources_plan(self, service, memory, cpu)

    def set_resources(self, service: str, memory: str | None, cpu: str | None) -> str:
        return kubernetes_config.set_resources(self, service, memory, cpu)

    def delete_pod_plan(self, pod: str) -> str:
        return kubernetes_pods.delete_plan(self, pod)

    def delete_pod(self, pod: str) -> str:
        return kubernetes_pods.delete(self, pod)

    def reconcile(self, service: str) -> str | None:
        """A rollout an interrupted action began goes on by itself: say where it is, change nothing."""
        return self._call("rollout status", lambda: rollout_state(self._deployment(service)))

    def _switch(self, service: str, slot: str | None) -> tuple[str | None, str, str, int]:
        """(live slot, target slot, target deployment, its ready replicas); refused when there is nothing to do or
        the target has no ready replicas: traffic is never switched to nothing."""
        slots = self._slots(service)
        annotations = self._service_object(service).metadata.annotations or {}
        live = self._live_slot(service)
        target = slot or annotations.get(PREVIOUS_SLOT)
        if target is None:
            raise ConflictError(f"{service} in {self.env_name} has no previous slot to go back to (opsbot has not "
                                f"switched it); name the slot: {', '.join(slots.names())}.")
        if target == live:
            raise ConflictError(f"The {target} slot is already live for {service} in {self.env_name}.")
        name = slots.deployment(target)
        deployment = self.apps.read_namespaced_deployment(name, self.namespace, _request_timeout=TIMEOUT)
        ready = (deployment.status.ready_replicas or 0) if deployment.status else 0
        if ready == 0:
            raise ConflictError(f"The {target} slot of {service} in {self.env_name} (deployment/{name}) has no ready "
                                "replicas; traffic is never switched to nothing. Scale it up and wait until it is ready.")
        return live, target, name, ready

    def switch_plan(self, service: str, slot: str | None) -> str:
        live, target, name, ready = self._call("slot read", lambda: self._switch(service, slot))
        return f"live slot {live or 'none'} → {target} (deployment/{name}, {ready} ready)"

    def switch(self, service: str, slot: str | None) -> str:
        def act():
            live, target, name, _ = self._switch(service, slot)
            slots = self._slots(service)
            # One patch: the slot left behind is remembered in the same change that moves the traffic.
            body = {"metadata": {"annotations": {PREVIOUS_SLOT: live}}, "spec": {"selector": {slots.selector_key: target}}}
            self.core.patch_namespaced_service(slots.service, self.namespace, body, _request_timeout=TIMEOUT)
            return f"service/{slots.service} {slots.selector_key}={target} (was {live or 'none'}): traffic to deployment/{name}"

        return self._call("switch", act)

    def maintenance_state(self) -> bool | None:
        maintenance = self._maintenance()
        data = self._call("configmap read", lambda: self.core.read_namespaced_config_map(
            maintenance.configmap, self.namespace, _request_timeout=TIMEOUT).data or {})
        value = data.get(maintenance.key)
        return None if value is None else value.strip().lower() in ("true", "on", "1", "yes")

    def set_maintenance(self, on: bool) -> str:
        maintenance = self._maintenance()
        body = {"data": {maintenance.key: "true" if on else "false"}}
        self._call("configmap patch", lambda: self.core.patch_namespaced_config_map(
            maintenance.configmap, self.namespace, body, _request_timeout=TIMEOUT))
        lines = [f"configmap/{maintenance.configmap} {maintenance.key}={'true' if on else 'false'}"]
        lines += [self.restart(service) for service in maintenance.restart]  # pods read the flag at start
        return "\n".join(lines)

    def _maintenance(self):
        if not self.env.maintenance or not self.env.maintenance.configmap:
            raise UsageError(f"{self.env_name} has no maintenance ConfigMap configured (maintenance.configmap).")
        return self.env.maintenance
