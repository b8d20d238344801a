"""On-call overrides: someone takes a schedule for a while (a swap, a sick day). They win over every layer. Kept
in the store's memory per schedule, changed one at a time under a lease (so two at once are serialised), each
change an audit record — an override is about people, not an incident, so it is on no timeline."""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel

from bot.config.catalog import Catalog
from bot.core.audit import AuditRecord
from bot.errors import ConflictError, NotFound, UsageError

_USER = re.compile(r"[UW][A-Z0-9]{2,}")
LONGEST = timedelta(days=90)


class Override(BaseModel):
    id: int
    schedule: str
    user: str
    start: datetime
    end: datetime
    reason: str = ""
    by: str
    cancelled: bool = False

    @property
    def ref(self) -> str:
        return f"OV-{self.id}"


class Overrides:
    def __init__(self, store, catalog: Catalog, clock: Callable[[], datetime]):
        self.store, self.catalog, self.clock = store, catalog, clock

    def of(self, schedule: str) -> list[Override]:
        doc = self.store.recall(_key(schedule)) or {}
        return [Override.model_validate(item) for item in doc.get("overrides", [])]

    def active(self, schedule: str) -> list[Override]:
        return [o for o in self.of(schedule) if not o.cancelled]

    def add(self, actor: str, schedule: str, user: str, start: datetime, end: datetime, reason: str = "") -> Override:
        self._known(schedule)
        if not _USER.fullmatch(user):
            raise UsageError(f"'{user[:40]}' is not a Slack user ID (U… or W…).")
        if end <= start:
            raise UsageError("An override ends after it starts.")
        if end <= self.clock():
            raise UsageError("That override would be over already.")
        if end - start > LONGEST:
            raise UsageError("An override lasts 90 days at most; change the schedule for longer.")
        with self._changing(schedule):
            overrides = self.of(schedule)
            override = Override(id=max((o.id for o in overrides), default=0) + 1, schedule=schedule, user=user,
                                start=start, end=end, reason=reason[:200], by=actor)
            self._save(schedule, [*overrides, override], self._record(actor, "oncall.override", override))
        return override

    def cancel(self, actor: str, ref: str) -> Override:
        found = re.fullmatch(r"(?i)OV-([0-9]{1,9})", ref.strip())
        if not found:
            raise UsageError(f"'{ref[:40]}' is not an override id like OV-3.")
        number = int(found.group(1))
        for schedule in self.catalog.oncall.schedules:
            with self._changing(schedule):
                overrides = self.of(schedule)
                match = next((o for o in overrides if o.id == number and not o.cancelled), None)
                if match is None:
                    continue
                cancelled = match.model_copy(update={"cancelled": True})
                self._save(schedule, [cancelled if o.id == number else o for o in overrides],
                           self._record(actor, "oncall.override.cancel", cancelled))
                return cancelled
        raise NotFound(f"There is no override OV-{number} to cancel.")

    def _known(self, schedule: str) -> None:
        if schedule not in self.catalog.oncall.schedules:
            known = ", ".join(self.catalog.oncall.schedules) or "none"
            raise NotFound(f"There is no on-call schedule '{schedule[:60]}'. Schedules: {known}.")

    def _changing(self, schedule: str):
        return _Held(self.store, f"oncall:{schedule}", self.clock)

    def _save(self, schedule: str, overrides: list[Override], record: AuditRecord) -> None:
        self.store.remember(_key(schedule), {"overrides": [o.model_dump(mode="json") for o in overrides]})
        self.store.append_audit(record)

    def _record(self, actor: str, action: str, override: Override) -> AuditRecord:
        return AuditRecord(at=self.clock(), attempt="oc-" + secrets.token_hex(6), phase="succeeded", user=actor,
                           command=f"/oncall {action.removeprefix('oncall.').replace('.', ' ')}", action=action,
                           target=f"{override.schedule}/{override.ref}",
                           args={"user": override.user, "start": override.start.isoformat(),
                                 "end": override.end.isoformat(), "reason": override.reason})


class _Held:
    """The schedule's lease for one change; a second changer waits a moment, then is told."""

    def __init__(self, store, key: str, clock: Callable[[], datetime]):
        self.store, self.key, self.clock = store, key, clock
        self.attempt = "oc-" + secrets.token_hex(6)

    def __enter__(self) -> None:
        import time

        for _ in range(50):  # 5 s
            now = self.clock()
            if self.store.acquire_lease(self.key, "an override change", self.attempt, now + timedelta(seconds=30),
                                        now) is None:
                return
            time.sleep(0.1)
        raise ConflictError("The schedule's overrides are being changed right now; try again.")

    def __exit__(self, *exc: object) -> None:
        self.store.release_lease(self.key, self.attempt)


def _key(schedule: str) -> str:
    return f"oncall/overrides/{schedule}"
