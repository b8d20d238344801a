"""Settling a container replace (bot/platforms/docker_recreate.py `replace`) that opsbot stopped in the middle of:
killed, the host rebooted. `replace` records its intent before it changes anything — the container's name, its
id, the parked name, whether it ran, the images from and to — so what is found afterwards tells how far it got:

- the new container exists and is as it should be (running, or created when the old one was stopped): finish —
  remove the parked old one;
- the new one is missing, or not running while the old one ran: undo — remove the new one, give the old one its
  name back and start it if it ran (never one that was stopped before);
- the old one is gone: the step had finished.

A parked container with no intent recorded (written by an older opsbot, or its memory lost) is finished when a
running container has its name, and otherwise renamed back but left stopped: whether it ran is not known.

`client` is a docker.DockerClient.
"""
from __future__ import annotations

from collections.abc import Callable

from docker.errors import NotFound

from bot.platforms.docker_recreate import PARKED


def settle_all(client, intents: dict[str, dict], parked: Callable[[], list], forget: Callable[[str], None]) -> str | None:
    """Settle each recorded intent (forgotten once settled), then each parked container left without one; says
    what was done, or None when nothing was left half done."""
    done = []
    for name, intent in intents.items():
        done.append(settle(client, intent))
        forget(name)
    done += [settle(client, orphan_intent(container)) for container in parked()]
    return "; ".join(done) or None


def settle(client, intent: dict) -> str:
    """Finish or undo one interrupted replace, described by its intent; says what was done."""
    name, was_running = intent["name"], intent.get("was_running")
    image_from, image_to = intent.get("image_from") or "its old image", intent.get("image_to") or "its new image"
    old = _get(client, intent["id"])
    new = _get(client, name)
    if new is not None and old is not None and new.id == old.id:
        new = None  # stopped before it was renamed: the old container still has the name
    if old is None:
        return f"finished: {name} runs {image_to}" if new is not None else \
            f"{name}: neither the old nor the new container exists; check the service"
    if new is not None and (_running(new) or was_running is False):
        old.remove()  # its anonymous volumes stay: the new container mounts them
        return f"finished: {name} is on {image_to}; removed the old container ({image_from})"
    if new is not None and was_running is None:
        return (f"left {old.name} as it is: opsbot kept no record of the replace that parked it, and {name} is not "
                "running; remove one of them")
    if new is not None:
        new.remove(force=True)
    changed = old.name != name
    if changed:
        old.rename(name)
    if was_running and not _running(old):
        old.start()
        changed = True
    if not changed:
        return f"{name} had not been changed yet"
    if was_running is None:
        return (f"restored the old container {name} ({image_from}), left stopped: opsbot kept no record of whether "
                "it ran")
    return f"restored the old container {name} ({image_from})" + ("" if was_running else ", stopped as it was")


def orphan_intent(container) -> dict:
    """The intent of a parked container found without one."""
    return {"id": container.id, "name": container.name.split(PARKED)[0], "was_running": None,
            "image_from": container.attrs.get("Config", {}).get("Image")}


def _get(client, name_or_id: str):
    try:
        return client.containers.get(name_or_id)
    except NotFound:
        return None


def _running(container) -> bool:
    return container.status in ("running", "restarting")
