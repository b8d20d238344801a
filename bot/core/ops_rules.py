"""What an ops request must satisfy, checked by the core whoever sends it: the environment and the service exist,
replicas are within the catalog's `max_replicas`, a slot is one of the service's, runbook parameters are declared
and typed, and no value looks like shell syntax. Every check raises a UsageError or NotFound naming what to fix."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import PurePosixPath

import re2

from bot.config.environments import Environment
from bot.core.ops_config import config_args, resources_args
from bot.core.requests import SERVICE_ACTIONS, Action, action_of
from bot.errors import NotFound, UsageError

# Refused in any name or value, before any backend call: nothing here ever reaches a shell, and nothing should look
# like it. (Log patterns are exempt: they only ever reach RE2 in this process.)
METACHARACTERS = re.compile(r"[;&|`$<>(){}\\\n\r]")
POD_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
METACHARACTERS_SHOWN = "; | & $ ` < > ( ) { } \\"


def no_shell_syntax(value: str, what: str) -> str:
    if METACHARACTERS.search(value):
        raise UsageError(f"Shell metacharacters ({METACHARACTERS_SHOWN}) are not allowed in {what}.")
    return value


def service_of(env_name: str, env: Environment, name: str):
    if name not in env.services:
        valid = ", ".join(env.services) or "none"
        raise NotFound(f"Unknown service '{name}' in {env_name}. Services: {valid}.")
    return env.services[name]


def checked_args(env_name: str, env: Environment, action: Action, target: str | None, args: dict) -> dict:
    """The request's arguments as the action takes them, or the reason it is refused."""
    no_shell_syntax(target or "", "the target")
    for key, value in args.items():
        if isinstance(value, str):
            no_shell_syntax(value, f"'{key}'")
    if action in SERVICE_ACTIONS:
        service = service_of(env_name, env, target or "")
        if action is Action.SCALE:
            replicas = args.get("replicas")
            if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= service.max_replicas:
                raise UsageError(f"Replicas must be a whole number from 0 to {service.max_replicas} for {target} "
                                 f"in {env_name}.")
            return {"replicas": replicas}
        if action is Action.CONFIG:
            return config_args(env_name, env, target or "", args)
        if action is Action.RESOURCES:
            return resources_args(env_name, env, target or "", args)
        if action is Action.DEPLOY:
            version = deploy_version(env_name, target or "", service, args.get("version"))
            ticked = pre_deploy_ticked(env_name, target or "", service.pre_deploy, args.get("checked"))
            return {"version": version, **({"checked": ticked} if service.pre_deploy else {})}
        if action is Action.SWITCH:
            return {"slot": _slot(env_name, env, target or "", args.get("slot"))} if args.get("slot") else {}
        return {}
    if action is Action.SECRET:
        if (target or "") not in env.secrets:
            raise NotFound(f"Unknown secret '{target}' in {env_name}. Its secrets are {', '.join(env.secrets) or 'none'}.")
        return {}
    if action is Action.DELETE_POD:
        if not POD_NAME.fullmatch(target or ""):
            raise UsageError(f"'{(target or '')[:80]}' is not a pod name (lowercase letters, digits, '-' and '.').")
        return {}
    if action is Action.MAINTENANCE:
        if not isinstance(args.get("on"), bool):
            raise UsageError("Maintenance mode is turned on or off.")
        return {"on": args["on"]}
    return runbook_params(env_name, env, target or "", args)


def deploy_version(env_name: str, name: str, service, version: object) -> str:
    """A version the catalog allows, of a service that can be deployed."""
    if service.image is None and service.deploy_runbook is None:
        raise UsageError(f"{name} in {env_name} has no `image` (nor a `deploy_runbook`) in the catalog: there is "
                         "nothing to deploy a version of.")
    if not isinstance(version, str) or not version:
        raise UsageError(f"Name the version to deploy of {name}.")
    if not re2.fullmatch(service.versions, version):
        raise UsageError(f"'{version[:80]}' is not a version {name} in {env_name} allows (versions: "
                         f"{service.versions}).")
    return version


def pre_deploy_ticked(env_name: str, name: str, checklist: list[str], checked: object) -> list[int]:
    """Every item of the service's pre-deploy checklist ticked (`checked`: item numbers, or "all"), or the
    refusal listing what is still to do. The audit records what was ticked."""
    if not checklist:
        return []
    numbers = list(range(1, len(checklist) + 1))
    if checked == "all":
        return numbers
    given = checked if isinstance(checked, list) else []
    missing = [n for n in numbers if n not in given]
    if missing:
        todo = "; ".join(f"{n}. {checklist[n - 1]}" for n in missing)
        raise UsageError(f"Before deploying {name} to {env_name}, tick its pre-deploy checklist — still to do: {todo}. "
                         "Then add --checked " + ",".join(map(str, numbers)) + " (or --checked all).")
    return numbers


def _slot(env_name: str, env: Environment, service: str, slot: object) -> str:
    slots = env.services[service].slots
    if slots is None:
        slotted = [name for name, spec in env.services.items() if spec.slots] or ["none"]
        raise UsageError(f"{service} in {env_name} has no blue/green slots. Services with slots: {', '.join(slotted)}.")
    name = str(slot).lower()
    if name not in slots.names():
        raise UsageError(f"Unknown slot '{slot}' for {service} in {env_name}. Slots: {', '.join(slots.names())}.")
    return name


def log_slot(env_name: str, env: Environment, names: list[str], slot: str | None) -> None:
    """`/ops logs --slot`: only of services that have slots, and one of theirs."""
    for name in names:
        slots = service_of(env_name, env, name).slots
        if slot is not None and (slots is None or slot not in slots.names()):
            raise UsageError(f"{name} in {env_name} has no blue/green slots; leave out --slot." if slots is None
                             else f"'{slot}' is not a slot of {name}; its slots: {', '.join(slots.names())}.")


def runbook_params(env_name: str, env: Environment, name: str, given: dict) -> dict:
    """Check key=value parameters against the action's declared types; apply defaults."""
    if name not in env.runbook:
        valid = ", ".join(env.runbook) or "none"
        raise NotFound(f"Unknown runbook action '{name}' in {env_name}. Actions: {valid}.")
    spec = env.runbook[name].params
    unknown = [key for key in given if key not in spec]
    if unknown:
        known = ", ".join(spec) or "none"
        raise UsageError(f"Unknown parameter '{unknown[0]}' for {name}. Parameters: {known}.")
    params: dict = {}
    for key, param in spec.items():
        if key not in given:
            if param.required:
                raise UsageError(f"{name} needs {key}=….")
            if param.default is not None:
                params[key] = str(param.default)
            continue
        value = str(given[key])
        if value.startswith("-") and not param.flag and param.type != "int":
            raise UsageError(f"{key} must not start with '-': the command would read it as an option.")
        if param.type == "path" and (".." in PurePosixPath(value).parts
                                     or (value.startswith("/") and not param.absolute)):
            raise UsageError(f"{key} must be a relative path without '..'.")
        if param.type == "int":
            if not re.fullmatch(r"-?[0-9]{1,18}", value):
                raise UsageError(f"{key} must be a whole number.")
            if not param.min <= int(value) <= (param.max if param.max is not None else 10**18):
                upper = f" to {param.max}" if param.max is not None else " or more"
                raise UsageError(f"{key} must be a whole number from {param.min}{upper}.")
        if param.type == "bool" and value.lower() not in ("true", "false"):
            raise UsageError(f"{key} must be true or false.")
        if param.type == "choice" and value not in param.choices:
            raise UsageError(f"{key} must be one of {', '.join(param.choices)}.")
        params[key] = value
    return params


def leases(env_name: str, env: Environment, action: Action | str, target: str | None) -> list[str]:
    """The leases a changing action holds — its target's in the environment, and, as maintenance mode restarts
    services, theirs too — in the one order every taker uses, so two takers never wait on each other."""
    keys = [f"{env_name}/{target or action}"]
    if action_of(action) is Action.MAINTENANCE and env.maintenance is not None:
        keys += [f"{env_name}/{service}" for service in env.maintenance.restart]
    return sorted(set(keys))


def lease_time(env: Environment, action: Action | str, target: str | None) -> timedelta:
    """As long as the action may take (a crashed holder's lease then lapses by itself)."""
    if action_of(action) is Action.RUN and target in env.runbook:
        return timedelta(seconds=env.runbook[target].timeout_s + 60)
    return timedelta(minutes=15)
