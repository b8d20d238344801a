"""Configuration, secrets and resources as audited actions, checked by the core whoever asks:
- `/ops config`: keys the catalog allows (a ConfigMap, or the containers' environment), old → new in the plan;
- `/ops secret rotate`: opsbot makes the value, writes it and restarts what reads it; the value is never shown,
  logged, audited or stored — the outcome carries a fingerprint;
- `/ops resources`: memory and CPU limits within the catalog's maxima."""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

from bot.config.environments import Environment
from bot.core.ops_steps import Step
from bot.core.ports import Platform
from bot.core.redact import _names_secret
from bot.errors import ConflictError, UsageError

MEMORY = re.compile(r"([0-9]{1,9})(Ki|Mi|Gi|Ti)?")
CPU = re.compile(r"([0-9]{1,4})(\.[0-9]{1,3})?|([0-9]{1,7})m")
_UNITS = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def config_args(env_name: str, env: Environment, service: str, args: dict) -> dict:
    spec = env.services[service].config
    if spec is None:
        raise UsageError(f"{service} in {env_name} declares no `config:` keys in the catalog: nothing may be changed.")
    changes = args.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise UsageError("Name what to change: set KEY=VALUE … or unset KEY ….")
    for key, value in changes.items():
        if _names_secret(str(key)):
            raise UsageError(f"{key} names a secret, and a secret value is never typed in chat; declare it under "
                             "the catalog's secrets and rotate it.")
        if key not in spec.keys:
            raise UsageError(f"{key} is not a key {service} in {env_name} allows; keys: {', '.join(spec.keys)}.")
        if value is not None and (not isinstance(value, str) or len(value) > 1024):
            raise UsageError(f"The value of {key} must be text of at most 1024 characters.")
    return {"changes": dict(changes), "restart": bool(args.get("restart"))}


def resources_args(env_name: str, env: Environment, service: str, args: dict) -> dict:
    spec = env.services[service]
    memory, cpu = args.get("memory"), args.get("cpu")
    if memory is None and cpu is None:
        raise UsageError("Give --memory (e.g. 2Gi) and/or --cpu (e.g. 500m).")
    if memory is not None and spec.max_memory and memory_bytes(memory) > memory_bytes(spec.max_memory):
        raise UsageError(f"{memory} is more memory than {service} in {env_name} may have (max_memory {spec.max_memory}).")
    if cpu is not None and spec.max_cpu and millicores(cpu) > millicores(spec.max_cpu):
        raise UsageError(f"{cpu} is more CPU than {service} in {env_name} may have (max_cpu {spec.max_cpu}).")
    if memory is not None:
        memory_bytes(memory)
    if cpu is not None:
        millicores(cpu)
    return {key: value for key, value in (("memory", memory), ("cpu", cpu)) if value is not None}


def memory_bytes(text: object) -> int:
    found = MEMORY.fullmatch(str(text))
    if not found or int(found.group(1)) == 0:
        raise UsageError(f"'{str(text)[:40]}' is not a memory size; use e.g. 512Mi or 2Gi.")
    return int(found.group(1)) * _UNITS[found.group(2)]


def millicores(text: object) -> int:
    found = CPU.fullmatch(str(text))
    if not found:
        raise UsageError(f"'{str(text)[:40]}' is not a CPU amount; use e.g. 500m or 2.")
    value = int(found.group(3)) if found.group(3) else round(float(found.group(1) + (found.group(2) or "")) * 1000)
    if value == 0:
        raise UsageError("A CPU limit of zero would stop the service.")
    return value


def config_step(env_name: str, env: Environment, service: str, args: dict, platform: Callable[[], Platform]) -> Step:
    changes: dict = args["changes"]
    spec = env.services[service].config
    recreated = spec is None or spec.configmap is None  # a container's environment changes only by recreating it

    def plan() -> str:
        now = platform().config_values(service, list(changes))
        moved = [f"{key} {_shown(now.get(key))} → {_shown(value)}" for key, value in changes.items()
                 if now.get(key) != value]
        if not moved:
            raise ConflictError(f"{service} in {env_name} already has {', '.join(changes)} as asked; nothing to change.")
        restart = ", then restart it" if args["restart"] or recreated else ""
        return f"config {service} in {env_name}: {', '.join(moved)}{restart}"

    return Step(plan, lambda: platform().set_config(service, changes, args["restart"]))


def secret_step(env_name: str, env: Environment, name: str, platform: Callable[[], Platform]) -> Step:
    spec = env.secrets[name]
    then = f", then restart {', '.join(spec.restart)}" if spec.restart else ""

    def rotate() -> str:
        value = secrets.token_urlsafe(spec.length)[:spec.length]
        done = platform().set_secret(spec, value)  # says where, never what
        fingerprint = hashlib.sha256(value.encode()).hexdigest()[:12]
        return f"{done}; new value's fingerprint sha256:{fingerprint}…"

    return Step(lambda: f"rotate secret {name} in {env_name}: a new {spec.length}-character value for "
                        f"{platform().secret_place(spec)}{then}", rotate)


def resources_step(env_name: str, service: str, args: dict, platform: Callable[[], Platform]) -> Step:
    return Step(lambda: f"resources of {service} in {env_name}: "
                        f"{platform().resources_plan(service, args.get('memory'), args.get('cpu'))}",
                lambda: platform().set_resources(service, args.get("memory"), args.get("cpu")))


def _shown(value: str | None) -> str:
    return "(unset)" if value is None else (value if value else '""')
