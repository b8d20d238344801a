"""Recreating a Docker container faithfully: the create request that reproduces a container from its inspect
document — mounts, ports, networks with aliases, healthcheck, user, limits, labels… — changing only what an
action changes (the image, the environment, labels), and refusing, before anything changes, a container with a
setting opsbot cannot carry over. Scale up, rollback and maintenance mode (bot/platforms/docker.py) all go
through here.

`client` is a docker.DockerClient and `old` one of its containers; this module calls them and imports no SDK.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from bot.errors import ConflictError

SERVICE = "com.docker.compose.service"
CONFIG_HASH = "com.docker.compose.config-hash"
COMPOSE_HASH = "opsbot.compose-config-hash"  # Compose's own hash, kept while the container differs from it
COMPOSE_SPEC = "opsbot.compose-spec"  # digest of the image and environment Compose created the container with

# The fields of an inspect document opsbot knows how to carry over to a new container. Anything else set to a
# non-default value means the copy would not be faithful: the action is refused, naming the field.
CONFIG_FIELDS = frozenset({
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
    "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell"})
HOST_FIELDS = frozenset({
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "VolumeDriver",
    "VolumesFrom", "ConsoleSize", "Annotations", "CapAdd", "CapDrop", "CgroupnsMode", "Dns", "DnsOptions",
    "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "OomScoreAdj", "PidMode", "Privileged",
    "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "StorageOpt", "Tmpfs", "UTSMode", "UsernsMode", "ShmSize",
    "Sysctls", "Runtime", "Isolation", "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight",
    "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices",
    "DeviceCgroupRules", "DeviceRequests", "KernelMemory", "KernelMemoryTCP", "MemoryReservation", "MemorySwap",
    "MemorySwappiness", "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps",
    "IOMaximumBandwidth", "Mounts", "MaskedPaths", "ReadonlyPaths", "Init",
    "Links"})  # rewritten from the inspect form
# Fields opsbot understands but cannot reproduce: set, the action is refused with the reason.
REFUSED = {"AutoRemove": "the container removes itself when stopped (docker run --rm)"}
# Image defaults that show up in a container's Config: dropped when the image changes, so the new image's apply.
IMAGE_DEFAULTS = ("Cmd", "Entrypoint", "WorkingDir", "User", "StopSignal", "Healthcheck", "Shell", "OnBuild")
SOLO_NETWORKS = ("host", "none", "bridge", "default")  # no aliases, no second endpoint
PARKED = "-opsbot-old-"  # in the name of an old container parked while its replacement starts


def create_request(attrs: dict, image_config: dict, image: str | None = None, env: list[str] | None = None,
                    labels: dict | None = None, clone: bool = False) -> dict:
    """The create request reproducing the container `attrs` (an inspect document), changing only `image`, `env`
    and `labels`; a `clone` (scale up) gets anonymous volumes of its own. Raises ConflictError, before anything
    changes, when the container has a setting opsbot cannot carry over."""
    config, host = attrs["Config"], attrs["HostConfig"]
    name = attrs.get("Name", "").lstrip("/")
    for section, fields, values in (("Config", CONFIG_FIELDS, config), ("HostConfig", HOST_FIELDS, host)):
        for field, value in values.items():
            if field in REFUSED and value:
                raise ConflictError(f"{name} cannot be recreated faithfully: {section}.{field} is set "
                                    f"({REFUSED[field]}); nothing was changed.")
            if field not in fields and field not in REFUSED and value not in (None, "", 0, False, [], {}):
                raise ConflictError(f"{name} cannot be recreated faithfully: opsbot does not know the setting "
                                    f"{section}.{field} ({str(value)[:80]}); nothing was changed.")
    body = {k: v for k, v in config.items() if k in CONFIG_FIELDS}
    mode = host.get("NetworkMode") or "default"
    # The engine fills Hostname with the container's short id (or the host's name): a copy must get its own.
    if body.get("Hostname") == attrs["Id"][:12] or mode == "host" or mode.startswith("container:"):
        body.pop("Hostname", None)
    body_labels = dict(body.get("Labels") or {})
    if image is not None and image != config.get("Image"):
        for field in IMAGE_DEFAULTS:
            if field in body and body[field] == image_config.get(field):
                del body[field]
        image_env = set(image_config.get("Env") or [])
        body["Env"] = [item for item in body.get("Env") or [] if item not in image_env]
        image_labels = image_config.get("Labels") or {}
        body_labels = {k: v for k, v in body_labels.items() if image_labels.get(k) != v}
        body["Image"] = image
    if env is not None:
        body["Env"] = env
    body["Labels"] = _compose_labels({**body_labels, **(labels or {})}, attrs, image_config, body)
    host_body = {k: v for k, v in host.items() if k in HOST_FIELDS}
    # Inspect shows legacy links as "/db:/proj_app_1/db"; create wants "db:db".
    host_body["Links"] = [f"{link.split(':')[0].lstrip('/')}:{link.split(':')[1].rsplit('/', 1)[-1]}"
                          for link in host.get("Links") or []] or None
    host_body["Binds"] = (host.get("Binds") or []) + ([] if clone else _anonymous_volumes(attrs)) or None
    body["HostConfig"] = host_body
    primary = _endpoints(attrs).get(mode)
    if primary is not None:
        body["NetworkingConfig"] = {"EndpointsConfig": {mode: primary}}
    return body


def _endpoints(attrs: dict) -> dict[str, dict]:
    """Each user-defined network's endpoint settings as a create request wants them (static IPs, aliases, links)."""
    short_id = attrs["Id"][:12]
    found = {}
    for network, endpoint in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).items():
        if network in SOLO_NETWORKS:
            continue
        found[network] = {
            "IPAMConfig": endpoint.get("IPAMConfig"), "Links": endpoint.get("Links"), "DriverOpts": endpoint.get("DriverOpts"),
            # The engine adds the container's short id as an alias itself; the copy gets its own.
            "Aliases": [a for a in endpoint.get("Aliases") or [] if a != short_id] or None}
    return found


def _extra_networks(attrs: dict) -> list[tuple[str, dict]]:
    """The networks beyond the first (a create request takes one), as connect_container_to_network arguments."""
    mode = attrs["HostConfig"].get("NetworkMode") or "default"
    extra = []
    for network, endpoint in _endpoints(attrs).items():
        if network == mode:
            continue
        ipam = endpoint["IPAMConfig"] or {}
        links = dict(link.split(":", 1) if ":" in link else (link, link) for link in endpoint["Links"] or [])
        extra.append((network, {"aliases": endpoint["Aliases"], "links": links or None,
                                "ipv4_address": ipam.get("IPv4Address") or None,
                                "ipv6_address": ipam.get("IPv6Address") or None,
                                "link_local_ips": ipam.get("LinkLocalIPs") or None,
                                "driver_opt": endpoint["DriverOpts"]}))
    return extra


def _anonymous_volumes(attrs: dict) -> list[str]:
    """Volumes the engine made for the container (image VOLUMEs, anonymous Compose volumes): the copy mounts the
    same ones, by name, so their data is kept — as Compose does when it recreates."""
    host = attrs["HostConfig"]
    declared = {bind.split(":")[1] for bind in host.get("Binds") or [] if ":" in bind}
    declared |= {mount.get("Target") for mount in host.get("Mounts") or []}
    return [f"{m['Name']}:{m['Destination']}{'' if m.get('RW', True) else ':ro'}"
            for m in attrs.get("Mounts") or [] if m.get("Type") == "volume" and m["Destination"] not in declared]


def _compose_labels(labels: dict, attrs: dict, image_config: dict, body: dict) -> dict:
    """Keep Compose's bookkeeping true. While a container differs from what Compose created (another image, another
    environment), its config-hash label says so, so `docker-compose up -d` recreates it from the compose file
    instead of calling it up to date; Compose's own hash is kept beside it and put back when opsbot's changes
    return the container to the compose file's image and environment."""
    if CONFIG_HASH not in labels:
        return labels
    labels = dict(labels)
    compose_hash = labels.pop(COMPOSE_HASH, None) or labels[CONFIG_HASH]
    compose_spec = labels.pop(COMPOSE_SPEC, None) or _spec_digest(attrs["Config"], image_config)
    if _spec_digest(body, image_config) == compose_spec:
        labels[CONFIG_HASH] = compose_hash
    else:
        labels.update({CONFIG_HASH: f"changed-by-opsbot-{compose_hash[:12]}", COMPOSE_HASH: compose_hash,
                       COMPOSE_SPEC: compose_spec})
    return labels


def _spec_digest(config: dict, image_config: dict) -> str:
    """The image and the environment the container sets itself (the image's own variables left out)."""
    image_env = set(image_config.get("Env") or [])
    own = sorted(item for item in config.get("Env") or [] if item not in image_env)
    return hashlib.sha256(json.dumps([config.get("Image"), own]).encode()).hexdigest()[:16]


def refuse_fixed_host_ports(service: str, attrs: dict) -> None:
    """Past one replica, a port on the host can be bound by one container only: a published fixed host port, or
    any port a container on the host's network listens on (its exposed ports) — the clone would crash-loop."""
    if attrs["HostConfig"].get("NetworkMode") == "host":
        exposed = sorted(str(port).split("/")[0] for port in (attrs["Config"].get("ExposedPorts") or {}))
        if exposed:
            raise ConflictError(f"{service} runs on the host's network and listens on port {', '.join(exposed)}: a "
                                "second container could not bind it. Give it its own network to scale it; nothing "
                                "was changed.")
    bindings = (attrs["HostConfig"].get("PortBindings") or {}).values()
    fixed = sorted({b["HostPort"] for group in bindings for b in group or [] if b.get("HostPort", "").isdigit()})
    if fixed:
        raise ConflictError(f"{service} publishes fixed host port {', '.join(fixed)}: a second container could not "
                            "bind it. Publish a range or an ephemeral host port to scale it; nothing was changed.")


def numbered_name(attrs: dict, project: str, number: int) -> str:
    """A clone's name in the template's style: `proj_app_3` (docker-compose 1.x) or `proj-app-3` (Compose v2)."""
    name = attrs.get("Name", "").lstrip("/")
    match = re.fullmatch(r"(.+[_-])\d+", name)
    if match:
        return f"{match.group(1)}{number}"
    return f"{project}-{attrs['Config'].get('Labels', {}).get(SERVICE)}-{number}"


def storable(attrs: dict) -> dict:
    """What a create request needs of an inspect document, kept in the platform memory."""
    return {key: attrs.get(key) for key in ("Id", "Name", "Image", "Config", "HostConfig", "Mounts")} | {
        "NetworkSettings": {"Networks": (attrs.get("NetworkSettings") or {}).get("Networks")}}


def image_config(client, attrs: dict) -> dict:
    """The image's own defaults (Env, Cmd, labels…): what the container did not set itself."""
    return client.api.inspect_image(attrs["Image"]).get("Config") or {}


def create(client, name: str, body: dict, template: dict) -> str:
    """Create a container from a request, joined to every network of the template with its aliases."""
    created = client.api.create_container_from_config(body, name=name)["Id"]
    try:
        for network, endpoint in _extra_networks(template):
            client.api.connect_container_to_network(created, network, **endpoint)
    except Exception:
        client.api.remove_container(created, force=True)
        raise
    return created


def replace(client, old, body: dict, note: Callable[[dict | None], None] = lambda intent: None) -> None:
    """Recreate `old` under its own name from `body`. The old container is parked (renamed) rather than removed
    until the new one runs, and put back if anything fails. `note` is told the intent before anything changes
    (the names, the old container's id, whether it ran, the images from and to) and None once the step is done or
    undone: a process that dies in between leaves the intent for bot/platforms/docker_reconcile.py."""
    name, was_running = old.name, old.status in ("running", "restarting")
    parked = f"{name}{PARKED}{old.short_id}"
    note({"id": old.id, "name": name, "parked": parked, "was_running": was_running,
          "image_from": old.attrs.get("Config", {}).get("Image"), "image_to": body.get("Image")})
    old.stop(timeout=10)
    old.rename(parked)
    created = None
    try:
        created = create(client, name, body, old.attrs)
        if was_running:  # a stopped container stays stopped: the action changes only what it changes
            client.api.start(created)
    except Exception:
        if created is not None:
            client.api.remove_container(created, force=True)
        old.rename(name)
        if was_running:
            old.start()
        note(None)
        raise
    old.remove()  # its anonymous volumes stay: the new container mounts them
    note(None)


def image_name(container) -> str:
    """The image a container was created from, as it was named (its tag), else the image's id."""
    return container.attrs.get("Config", {}).get("Image") or (container.image.tags or [container.image.id])[0]
