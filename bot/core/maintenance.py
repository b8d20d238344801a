"""Planned maintenance windows and checklists: schedule, list, cancel, extend, tick.

Scheduling a window stores it with all of its notices (lead times, start, end) in one transaction; the
scheduler sends them when they fall due.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.config.catalog import Catalog
from bot.core.audit import AuditRecord
from bot.core.ops import Actor, OpsService, new_attempt
from bot.core.ports import Clock, Schedules, Store
from bot.core.redact import redact
from bot.core.reminders import Checklist, Reminder, Tick, Window
from bot.errors import ConflictError, NotFound, UsageError
from bot.timeparse import format_duration, parse_duration, show, utcnow

if TYPE_CHECKING:
    from bot.core.status_page import StatusPageService

_DAY_NUMBERS = {name: number for number, names in enumerate(
    [("mon", "monday"), ("tue", "tuesday"), ("wed", "wednesday"), ("thu", "thursday"), ("fri", "friday"),
     ("sat", "saturday"), ("sun", "sunday")]) for name in names}
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
MAX_WINDOW = timedelta(days=7)


def parse_start(words: list[str], now: datetime, zone: str) -> tuple[datetime, int]:
    """The start of a window from the first words of a command: `2026-12-06T02:00Z`, `sun 02:00` or
    `in 3h`. Times without a zone are in `zone`. Returns the UTC time and how many words it used."""
    tz = ZoneInfo(zone)
    first = words[0].lower() if words else ""
    if first == "in":
        if len(words) < 2:
            raise UsageError("Say how long from now, like `in 3h`.")
        try:
            return now + parse_duration(words[1]), 2
        except ValueError as exc:
            raise UsageError(f"{exc}.") from exc
    if first in _DAY_NUMBERS:
        clock = _CLOCK.match(words[1]) if len(words) > 1 else None
        if not clock:
            raise UsageError(f"Give a time after '{words[0]}', like `sun 02:00`.")
        local = now.astimezone(tz)
        days = (_DAY_NUMBERS[first] - local.weekday()) % 7
        day = local.date() + timedelta(days=days)
        candidate = datetime(day.year, day.month, day.day, int(clock[1]), int(clock[2]), tzinfo=tz)
        if candidate <= now:
            candidate = datetime.combine(day + timedelta(days=7), candidate.timetz())
        return candidate.astimezone(UTC), 2
    try:
        moment = datetime.fromisoformat(words[0].replace("z", "Z")) if words else None
    except ValueError:
        moment = None
    if moment is None:
        raise UsageError(f"'{words[0] if words else ''}' is not a time; use 2026-12-06T02:00Z, `sun 02:00` or `in 3h`.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC), 1


class MaintenanceService:
    def __init__(self, store: Store, catalog: Catalog, ops: OpsService, next_fire: Schedules,
                 clock: Clock = utcnow, status: StatusPageService | None = None):
        self.store = store
        self.status = status  # puts public windows on the status page
        self.catalog = catalog
        self.ops = ops
        self.next_fire = next_fire
        self.clock = clock

    @property
    def settings(self):
        return self.catalog.scheduler

    # --- windows -----------------------------------------------------------------------
    def schedule(self, actor: Actor, env_name: str, starts_at: datetime, duration: timedelta, title: str,
                 public: bool | None = None, components: list[str] | None = None) -> Window:
        """`public`: on the status page (None: the catalog's status_page.maintenance_public); `components`: the
        page's components it affects (None: those of the environment)."""
        env = self.ops.env(env_name)  # unknown environment: a message listing the valid ones
        title = redact(title.strip())  # a title may reach the public page, the feeds and the channel
        if not title:
            raise UsageError("Give the window a title, like \"database upgrade\".")
        if len(title) > self.catalog.limits.title_max:
            raise UsageError(f"The title is {len(title)} characters long; the limit is {self.catalog.limits.title_max}.")
        if duration <= timedelta(0):
            raise UsageError("The duration must be more than zero, like 30m or 2h.")
        if duration > MAX_WINDOW:
            raise UsageError(f"A window may last at most {format_duration(MAX_WINDOW)}.")
        now = self.clock()
        if starts_at <= now:
            raise UsageError(f"{show(starts_at)} is in the past; a window must start later than now ({show(now)}).")
        self.ops.authorize(actor, env_name, "maintenance", args={"window": "schedule", "title": title})
        public = self.catalog.status_page.maintenance_public if public is None else public
        if components and not public:
            raise UsageError("--components names what the status page shows under maintenance: add --public.")
        affected: list[str] = []
        if public:
            if self.status is None:
                raise UsageError("This opsbot has no status page to put the window on.")
            affected = self.status.maintenance_components(actor.user, env_name, components)
        window = Window(env=env_name, title=title, starts_at=starts_at, ends_at=starts_at + duration,
                        created_by=actor.user, created_at=now, public=public, components=affected)
        created = self.store.create_window(window, self._notices(window, now, env.maintenance is not None),
                                           self._audit(actor, "window.schedule", window, public=public,
                                                       components=affected))
        self._page_moved(created)
        return created

    def _page_moved(self, window: Window) -> None:
        if window.public and self.status is not None:
            self.status.maintenance_changed()

    def _notices(self, window: Window, now: datetime, has_mode: bool) -> list[Reminder]:
        channel = self.settings.channel
        span = f"{show(window.starts_at)} → {show(window.ends_at)}"
        what = f"{window.env}: {window.title}"
        notices = [
            Reminder(key=f"window:{{window}}:lead:{int(lead.total_seconds())}", kind="window_lead",
                     due_at=window.starts_at - lead, channel=channel,
                     text=f"🗓️ Planned maintenance in {format_duration(lead)} — {what}, {span}.")
            for lead in sorted(self.settings.lead_times, reverse=True) if window.starts_at - lead > now
        ]
        notices.append(Reminder(
            key="window:{window}:start", kind="window_start", due_at=window.starts_at, channel=channel,
            text=f"🛠️ Maintenance starts now — {what}, until {show(window.ends_at)}.",
            title="Pre-maintenance checklist", checklist=list(self.settings.pre_checklist),
            env=window.env if has_mode else None))
        notices.append(self._end_notice(window, "{window}"))
        return notices

    def _end_notice(self, window: Window, ref: str | int) -> Reminder:
        return Reminder(
            key=f"window:{ref}:end:{window.ends_at.isoformat()}", kind="window_end", due_at=window.ends_at,
            channel=self.settings.channel, window=window.id or None,
            text=f"✅ Maintenance window over — {window.env}: {window.title}.",
            title="Post-maintenance checklist", checklist=list(self.settings.post_checklist))

    def cancel(self, actor: Actor, window_id: int) -> Window:
        window = self.store.get_window(window_id)
        now = self.clock()
        state = window.state(now)
        if state in ("cancelled", "finished"):
            raise ConflictError(f"{window.ref} is already {state}; only upcoming or active windows can be cancelled.")
        self.ops.authorize(actor, window.env, "maintenance", window.ref, {"window": "cancel"})
        cancelled = window.model_copy(update={"cancelled_by": actor.user, "cancelled_at": now})
        self.store.change_window(cancelled, f"window:{window.id}:", [], self._audit(actor, "window.cancel", cancelled))
        self._page_moved(cancelled)
        return cancelled

    def extend(self, actor: Actor, window_id: int, by: timedelta) -> Window:
        if by <= timedelta(0):
            raise UsageError("Extend by more than zero, like 30m.")
        window = self.store.get_window(window_id)
        state = window.state(self.clock())
        if state in ("cancelled", "finished"):
            raise ConflictError(f"{window.ref} is {state}; only upcoming or active windows can be extended.")
        if window.ends_at + by - window.starts_at > MAX_WINDOW:
            raise UsageError(f"A window may last at most {format_duration(MAX_WINDOW)}.")
        self.ops.authorize(actor, window.env, "maintenance", window.ref, {"window": "extend"})
        extended = window.model_copy(update={"ends_at": window.ends_at + by})
        self.store.change_window(extended, f"window:{window.id}:end:", [self._end_notice(extended, window.id)],
                                 self._audit(actor, "window.extend", extended, by=format_duration(by)))
        self._page_moved(extended)
        return extended

    def _audit(self, actor: Actor, action: str, window: Window, **extra) -> AuditRecord:
        """The audit record of a change to a window, stored in the same transaction as the change."""
        args = {"title": window.title, "starts_at": window.starts_at.isoformat(),
                "ends_at": window.ends_at.isoformat(), **extra}
        return self.ops.audit_record(actor, new_attempt(), "succeeded", window.env, action,
                                     window.ref if window.id else None, args)

    def windows(self, include_finished: bool = False) -> list[Window]:
        now = self.clock()
        windows = self.store.list_windows(None if include_finished else now)
        return [w for w in windows if include_finished or w.state(now) in ("upcoming", "active")]

    def active_window(self, env_name: str) -> Window | None:
        now = self.clock()
        return next((w for w in self.store.list_windows(now) if w.env == env_name and w.state(now) == "active"),
                    None)

    def next_recurring(self) -> list[tuple[str, str, datetime | None]]:
        """(name, title, next time) of each recurring reminder."""
        now = self.clock()
        return [(name, r.title, self.next_fire(r.cron, r.timezone, now))
                for name, r in self.settings.reminders.items()]

    def notices(self, window_id: int) -> list[Reminder]:
        return self.store.reminders(f"window:{window_id}:")

    # --- checklists --------------------------------------------------------------------
    def checklist(self, checklist_id: int) -> Checklist:
        return self.store.get_checklist(checklist_id)

    def mark(self, user: str, checklist_id: int, items: set[int], checked: bool) -> Checklist:
        """Tick (or untick) some items, leaving the others as they are."""
        checklist = self.store.get_checklist(checklist_id)
        self._check_items(checklist, items)
        current = set(checklist.checked())
        return self.tick(user, checklist_id, current | items if checked else current - items)

    def tick(self, user: str, checklist_id: int, checked: set[int]) -> Checklist:
        """Record who ticked or unticked what: `checked` is the full set of ticked items (1-based)."""
        checklist = self.store.get_checklist(checklist_id)
        self._check_items(checklist, checked)
        now = self.clock()
        before = set(checklist.checked())
        changes = [Tick(item=item, actor=user, at=now, checked=item in checked)
                   for item in sorted(before ^ checked)]
        if changes:
            self.store.add_ticks(checklist_id, changes)
        return self.store.get_checklist(checklist_id)

    @staticmethod
    def _check_items(checklist: Checklist, items: set[int]) -> None:
        unknown = sorted(item for item in items if not 1 <= item <= len(checklist.items))
        if unknown:
            raise NotFound(f"{checklist.ref} has items 1-{len(checklist.items)}; there is no item {unknown[0]}.")
