"""Maintenance windows, reminders and checklists: plain models, no I/O.

Every reminder has a unique key (e.g. `window:3:start`, `inc:5:escalate:2`); the store records each key once,
which is what makes a reminder fire at most once across restarts and replicas.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ReminderStatus = Literal["pending", "sent", "missed", "failed", "cancelled"]


class Window(BaseModel):
    """A planned maintenance window in one environment."""

    id: int = 0
    env: str
    title: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    public: bool = False  # on the status page: scheduled, in progress, completed
    components: list[str] = Field(default_factory=list)  # the page's components it puts under maintenance

    @property
    def ref(self) -> str:
        return f"MW-{self.id}"

    def state(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.starts_at:
            return "upcoming"
        return "active" if now < self.ends_at else "finished"


class Reminder(BaseModel):
    key: str
    kind: str  # recurring, window_lead, window_start, window_end, escalation(_dm), update, postmortem, action
    due_at: datetime
    channel: str
    text: str  # neutral: people as `@ID`, channels as `#ID`; views render the ones listed in `mentions`
    mentions: list[str] = Field(default_factory=list)  # the user, group and channel IDs the text names
    title: str | None = None  # a checklist's title, when it carries one
    checklist: list[str] = Field(default_factory=list)
    env: str | None = None  # offers the maintenance-mode button at a window's start
    window: int | None = None
    incident: int | None = None
    level: int | None = None  # an escalation's level in the chain (1 = its first entry)
    # What the reader is asked to do next, which each surface words its own way (Slack: the command to type):
    # ack | resolve | update | postmortem | action_done (of action item `item`)
    next_step: str | None = None
    item: int | None = None
    status: ReminderStatus = "pending"
    sent_at: datetime | None = None
    error: str | None = None


class Tick(BaseModel):
    item: int  # 1-based
    actor: str
    at: datetime
    checked: bool


class Checklist(BaseModel):
    id: int = 0
    title: str
    items: list[str]
    channel: str
    reminder: str  # the reminder key that posted it
    created_at: datetime
    ticks: list[Tick] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"CL-{self.id}"

    def checked(self) -> dict[int, Tick]:
        """The latest tick of each item that is currently checked."""
        latest: dict[int, Tick] = {}
        for tick in self.ticks:
            latest[tick.item] = tick
        return {item: tick for item, tick in latest.items() if tick.checked}
