"""`/ops config`, `/ops secret rotate` and `/ops resources` on Kubernetes: a ConfigMap's allowed keys (pods read
them at start: --restart rolls the deployment), a key of a Secret (written base64, then the listed services
restarted; the value is never returned or logged), and the containers' memory/CPU limits."""
from __future__ import annotations

import base64

from bot.config.environments import SecretSpec
from bot.core.ops_config import memory_bytes, millicores
from bot.errors import ConflictError, UsageError

TIMEOUT = 15


def _configmap(platform, service: str) -> str:
    spec = platform.env.services[service].config
    if spec is None or spec.configmap is None:
        raise UsageError(f"{service} in {platform.env_name}: its `config:` names no configmap.")
    return spec.configmap


def config_values(platform, service: str, keys: list[str]) -> dict[str, str | None]:
    name = _configmap(platform, service)
    found = platform._call("configmap read", lambda: platform.core.read_namespaced_config_map(
        name, platform.namespace, _request_timeout=TIMEOUT))
    data = found.data or {}
    return {key: data.get(key) for key in keys}


def set_config(platform, service: str, changes: dict[str, str | None], restart: bool) -> str:
    name = _configmap(platform, service)
    platform._call("configmap patch", lambda: platform.core.patch_namespaced_config_map(
        name, platform.namespace, {"data": changes}, _request_timeout=TIMEOUT))  # null removes a key
    done = f"configmap/{name}: " + ", ".join(f"{k}={'(unset)' if v is None else v}" for k, v in changes.items())
    return done + (f"\n{platform.restart(service)}" if restart else "; pods read it when they next start")


def secret_place(platform, secret: SecretSpec) -> str:
    if secret.kubernetes_secret is None:
        raise UsageError(f"A secret in {platform.env_name} (Kubernetes) names its `kubernetes_secret`.")
    return f"Secret {secret.kubernetes_secret} key {secret.key}"


def set_secret(platform, secret: SecretSpec, value: str) -> str:
    place = secret_place(platform, secret)
    body = {"data": {secret.key: base64.b64encode(value.encode()).decode()}}
    platform._call("secret patch", lambda: platform.core.patch_namespaced_secret(
        secret.kubernetes_secret, platform.namespace, body, _request_timeout=TIMEOUT))
    return "\n".join([f"{place} written", *(platform.restart(service) for service in secret.restart)])


def resources_plan(platform, service: str, memory: str | None, cpu: str | None) -> str:
    deployment = platform._call("read", lambda: platform._deployment(service))
    container = deployment.spec.template.spec.containers[0]
    limits = (container.resources.limits if container.resources else None) or {}
    moves = [f"{kind} {limits.get(kind, '(no limit)')} → {wanted}" for kind, wanted in (("memory", memory), ("cpu", cpu))
             if wanted is not None and limits.get(kind) != wanted]
    if not moves:
        raise ConflictError(f"{service} in {platform.env_name} already has those limits; nothing to change.")
    return f"deployment/{deployment.metadata.name} container {container.name}: {', '.join(moves)} (rolling)"


def set_resources(platform, service: str, memory: str | None, cpu: str | None) -> str:
    plan = resources_plan(platform, service, memory, cpu)
    deployment = platform._call("read", lambda: platform._deployment(service))
    container = deployment.spec.template.spec.containers[0]
    requests = dict((container.resources.requests if container.resources else None) or {})
    limits = {kind: value for kind, value in (("memory", memory), ("cpu", cpu)) if value is not None}
    # A request above its new limit is refused by the API: it comes down to the limit.
    if memory is not None and "memory" in requests and memory_bytes(requests["memory"]) > memory_bytes(memory):
        requests["memory"] = memory
    if cpu is not None and "cpu" in requests and millicores(requests["cpu"]) > millicores(cpu):
        requests["cpu"] = cpu
    resources = {"limits": limits, **({"requests": requests} if requests else {})}
    body = {"spec": {"template": {"spec": {"containers": [{"name": container.name, "resources": resources}]}}}}
    platform._call("resources patch", lambda: platform.apps.patch_namespaced_deployment(
        deployment.metadata.name, platform.namespace, body, _request_timeout=TIMEOUT))
    return plan.replace(" (rolling)", "; rolling out")
