"""The status page service: publishing an incident, public updates, its public resolution, components set by hand.

Every change is checked in full (the incident is open and not private, components are the catalog's, states and
statuses are known, the actor holds `status_page.publish_role`), redacted, and written in one transaction with the
components it moves (and their history), the incident's timeline event and its audit record. Whoever asks — a slash
command in Slack or the console, a form — goes through here."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.config.catalog import Catalog
from bot.config.environments import Role
from bot.core.audit import AuditRecord
from bot.core.effects import Effect, StatusPageNotice
from bot.core.incidents import scrubbed_event
from bot.core.models import Event, EventKind, Incident
from bot.core.ops import OpsService
from bot.core.plain_text import printable
from bot.core.ports import Clock, HealthReport, StaleWrite, StatusWrite, Store
from bot.core.redact import redact
from bot.core.reminders import Window
from bot.core.status_models import (
    IMPACT_STATUS,
    SEVERITY_IMPACT,
    ComponentState,
    ComponentStatus,
    HistoryEntry,
    Impact,
    ManualStatus,
    PublicIncident,
    PublicState,
    PublicUpdate,
    StatusSnapshot,
    effective_statuses,
    new_public_id,
)
from bot.core.status_uptime import DAYS
from bot.core.status_view import LISTED, RECENT, PageView, page_view
from bot.core.status_watch import StatusWatch, environments_watched
from bot.errors import ConflictError, OpsbotError, PermissionDenied, UsageError
from bot.timeparse import utcnow

log = logging.getLogger(__name__)

RERENDER_EVERY_S = 600
HISTORY = 500  # public incidents on /status/history (newest first); a render per change, not per request

_RETRIES = 5


@dataclass(frozen=True)
class PublicChange:
    """A public update as typed: its text, a new state, components' statuses (NAME → STATUS, names as typed)."""

    text: str
    state: str | None = None
    components: dict[str, str] | None = None


class StatusPageService:
    def __init__(self, store: Store, catalog: Catalog, ops: OpsService, clock: Clock = utcnow):
        self.store, self.catalog, self.ops, self.clock = store, catalog, ops, clock
        self.page = catalog.status_page

    def _windows(self) -> list[Window]:
        """Public maintenance windows not cancelled that are upcoming, in progress, or ended in the last 14 days."""
        since = self.clock() - RECENT
        return [w for w in self.store.list_windows(ending_after=since) if w.public and w.cancelled_at is None]

    def _maintenance(self) -> set[str]:
        """Components under public maintenance in progress now."""
        now = self.clock()
        return {name for w in self._windows() if w.state(now) == "active" for name in w.components}

    # --- checks -----------------------------------------------------------------------------------------------
    def _text(self, text: str | None, what: str, limit: int | None = None) -> str:
        text = printable(text or "").strip()  # every path to the page, not only slash commands
        limit = limit or self.catalog.limits.text_max
        if not text:
            raise UsageError(f"The {what} is empty.")
        if len(text) > limit:
            raise UsageError(f"The {what} is {len(text)} characters long; the limit is {limit}.")
        return redact(text)

    def component_name(self, name: str) -> str:
        component = self.page.component(name)
        if component is None:
            known = ", ".join(c.name for c in self.page.components) or "none (the catalog's status_page has none)"
            shown = name if len(name) <= 60 else name[:59] + "…"
            raise UsageError(f"Unknown component '{shown}'. Components: {known}.")
        return component.name

    @staticmethod
    def _choice(enum: type[StrEnum], text: str, what: str, allowed: list | None = None) -> Any:
        allowed = allowed if allowed is not None else list(enum)
        try:
            value = enum(text.strip().lower())
        except ValueError:
            value = None
        if value not in allowed:
            shown = text if len(text) <= 40 else text[:39] + "…"
            raise UsageError(f"'{shown}' is not {what}; use {'|'.join(v.value for v in allowed)}.")
        return value

    def _private_reason(self, incident: Incident) -> str | None:
        if not incident.private:
            return None
        if incident.type and self.catalog.incident_types.get(incident.type, None) and \
                self.catalog.incident_types[incident.type].private:
            why = f"its type {incident.type} is private"
        elif self.catalog.severities[incident.severity].private:
            why = f"severity {incident.severity} is private"
        else:
            why = "it was opened as private"
        return f"{incident.id} is private ({why}); a private incident is never published on the status page."

    def _role(self, user: str, envs: list[str]) -> Role:
        names = [env for env in envs if env in self.catalog.environments] or list(self.catalog.environments)
        if names:
            return max(self.ops.role_of(user, name) for name in names)
        held = [Role.parse(role) for role, members in self.catalog.roles.get("*", {}).items()
                if user in members or "*" in members]
        return max(held, default=Role.parse(self.catalog.unprotected_default_role))

    def _permit(self, actor: str, envs: list[str], what: str, target: str, action: str) -> None:
        needed = Role.parse(self.page.publish_role)
        have = self._role(actor, envs)
        if have < needed:
            where = " or ".join(envs) if envs else "any environment"
            self.store.append_audit(self._audit(actor, action, target, {}, "denied"))
            held = "no role" if have is Role.NONE else f"the {have.name.lower()} role"
            raise PermissionDenied(f"You need the {needed.name.lower()} role in {where} to {what}; you have {held}.")

    def _audit(self, actor: str, action: str, target: str, args: dict, phase: str = "succeeded") -> AuditRecord:
        return AuditRecord(at=self.clock(), attempt="status-" + secrets.token_hex(6), phase=phase,  # type: ignore[arg-type]
                           user=actor, command=action.replace(".", " "), action=f"status.{action.split('.')[-1]}",
                           target=target, args=args)

    # --- queries ----------------------------------------------------------------------------------------------
    def snapshot(self) -> StatusSnapshot:
        snapshot = self.store.status_snapshot()
        snapshot.maintenance = self._maintenance()
        return snapshot

    def published(self, number: int) -> PublicIncident | None:
        return self.store.public_incident_for(number)

    # --- changes ----------------------------------------------------------------------------------------------
    def publish(self, incident: Incident, actor: str, title: str, components: list[str] | None = None,
                impact: str | None = None, state: str | None = None, text: str | None = None) -> PublicIncident:
        reason = self._private_reason(incident)
        if reason:
            raise ConflictError(reason)
        if not incident.is_open:
            raise ConflictError(f"{incident.id} is {incident.status.value}; only an open incident is published.")
        title = self._text(title, "public title", self.catalog.limits.title_max)
        chosen = Impact(SEVERITY_IMPACT.get(incident.severity, Impact.MINOR)) if impact is None else \
            self._choice(Impact, impact, "an impact", [Impact.MINOR, Impact.MAJOR, Impact.CRITICAL])
        public_state = PublicState.INVESTIGATING if state is None else self._choice(
            PublicState, state, "a public state", [PublicState.INVESTIGATING, PublicState.IDENTIFIED,
                                                   PublicState.MONITORING])
        names = [self.component_name(n) for n in components] if components is not None else self._components_of(incident)
        affected = {name: IMPACT_STATUS[chosen] for name in dict.fromkeys(names)}
        body = self._text(text, "first update") if text else redact(self.page.templates.investigating.replace(
            "{components}", ", ".join(affected) or self.page.title))
        envs = [incident.env] if incident.env else []
        self._permit(actor, envs, f"publish {incident.id}", incident.id, "incident.publish")

        def change(snapshot: StatusSnapshot, now: datetime) -> tuple[PublicIncident, Event]:
            if self.store.public_incident_for(incident.number) is not None:
                raise ConflictError(f"{incident.id} is already published; post a public update to it instead.")
            public = PublicIncident(id=new_public_id(), number=incident.number, name=title, impact=chosen,
                                    state=public_state, components=affected, created_at=now, updated_at=now,
                                    monitoring_at=now if public_state is PublicState.MONITORING else None)
            public.updates.append(PublicUpdate(id=new_public_id(), state=public_state, body=body, at=now,
                                               components=dict(affected)))
            listed = ", ".join(f"{n} {s.value}" for n, s in affected.items()) or "none"
            event = Event(at=now, actor=actor, kind=EventKind.PUBLIC,
                          text=f"Published on the status page: {title} ({chosen.value}, {public_state.value}; "
                               f"components: {listed})",
                          data={"public_id": public.id, "impact": chosen.value, "state": public_state.value,
                                "components": {n: s.value for n, s in affected.items()}})
            return public, event

        return self._write(incident.number, actor, "incident.publish", change)

    # --- maintenance on the page ------------------------------------------------------------------------------
    def maintenance_components(self, actor: str, env: str, names: list[str] | None) -> list[str]:
        """The components a public window names (checked), or those made of its environment's services and
        checks; the person needs the publish role there, as for an incident."""
        self._permit(actor, [env], "put maintenance on the status page", env, "maintenance.publish")
        if names:
            return list(dict.fromkeys(self.component_name(name) for name in names))
        prefix = f"{env}/"
        return [c.name for c in self.page.components
                if any(ref.startswith(prefix) for ref in [*c.services, *c.checks])]

    def health_seen(self, report: HealthReport, incident: int | None = None) -> list[Effect]:
        """What a health run says against the page (bot/core/status_watch.py): notices, never publications."""
        if not self.page.components:
            return []
        return StatusWatch(self.store, self.catalog).seen([report], self.snapshot(), self.clock(), incident)

    def watch(self, health: Callable[[str], HealthReport]) -> list[StatusPageNotice]:
        """The scheduler leader's own comparison (every `status_page.watch_every`): `health(env)` runs the checks of
        each environment a component names; an environment whose checks cannot run is left out of this pass."""
        reports = []
        for env in environments_watched(self.catalog):
            try:
                reports.append(health(env))
            except OpsbotError as error:
                log.warning("status page watch: the checks of %s did not run: %s", env, error)
        if not reports:
            return []
        found = StatusWatch(self.store, self.catalog).seen(reports, self.snapshot(), self.clock())
        return [notice for notice in found if isinstance(notice, StatusPageNotice)]

    def maintenance_changed(self) -> None:
        """A public window was scheduled, cancelled or extended: every replica renders the page again."""
        for _ in range(_RETRIES):
            try:
                self.store.write_status(self.store.status_version(), StatusWrite())
                return
            except StaleWrite:
                continue

    def settle_maintenance(self) -> list[HistoryEntry]:
        """The scheduler leader, every tick: components under public maintenance in progress take
        under_maintenance (and hand it back at the end) in the store and their history, without anyone touching
        them. Nothing is written when nothing moved."""
        for _ in range(_RETRIES):
            snapshot = self.snapshot()
            states, history = self._moved(snapshot, snapshot.open_incidents, {}, self.clock(), "maintenance")
            if not states:
                return []
            try:
                self.store.write_status(snapshot.version, StatusWrite(components=states, history=history))
            except StaleWrite:
                continue
            return history
        return []

    def _components_of(self, incident: Incident) -> list[str]:
        """Without --components: those made of the incident's service in its environment."""
        if not (incident.env and incident.service):
            return []
        ref = f"{incident.env}/{incident.service}"
        return [c.name for c in self.page.components if ref in c.services]

    def public_update(self, incident: Incident, actor: str, change: PublicChange, dry: bool = False) -> PublicIncident:
        """A public update; `dry`: check everything, change nothing (the flow checks before the internal update)."""
        body = self._text(change.text, "update")
        state = None if change.state is None else self._choice(
            PublicState, change.state, "a public state", [PublicState.INVESTIGATING, PublicState.IDENTIFIED,
                                                          PublicState.MONITORING])
        moved = {self.component_name(name): self._choice(
            ComponentStatus, status, "a component status",
            [s for s in ComponentStatus if s is not ComponentStatus.UNDER_MAINTENANCE])
            for name, status in (change.components or {}).items()}
        current = self._open_public(incident)
        self._permit(actor, [incident.env] if incident.env else [], f"post a public update to {incident.id}",
                     incident.id, "incident.update")
        if dry:
            return current

        def apply(snapshot: StatusSnapshot, now: datetime) -> tuple[PublicIncident, Event]:
            public = self._open_public(incident)
            public.state = state or public.state
            if public.state is PublicState.MONITORING and public.monitoring_at is None:
                public.monitoring_at = now
            public.components.update(moved)
            public.updated_at = now
            public.updates.append(PublicUpdate(id=new_public_id(), state=public.state, body=body, at=now,
                                               components=dict(public.components)))
            event = Event(at=now, actor=actor, kind=EventKind.PUBLIC,
                          text=f"Public update ({public.state.value}): {body}",
                          data={"public_id": public.id, "state": public.state.value,
                                "components": {n: s.value for n, s in moved.items()}})
            return public, event

        return self._write(incident.number, actor, "incident.update", apply)

    def _open_public(self, incident: Incident) -> PublicIncident:
        public = self.store.public_incident_for(incident.number)
        if public is None:
            raise ConflictError(f"{incident.id} is not on the status page; publish it first.")
        if not public.is_open and not incident.is_open:
            raise ConflictError(f"{incident.id} is resolved on the status page; it takes no more public updates.")
        if not public.is_open:  # the incident was reopened: this update puts it back on the page
            public.state, public.resolved_at, public.monitoring_at = PublicState.INVESTIGATING, None, None
            public.components = {name: IMPACT_STATUS[public.impact] for name in public.components}
        return public

    def public_text(self, text: str | None) -> str | None:
        """The resolved update's text, checked (and redacted) before anything changes; None: the catalog's."""
        return self._text(text, "public text") if text is not None else None

    def resolve(self, incident: Incident, actor: str, text: str | None = None) -> PublicIncident | None:
        """The public "resolved" update of a published incident, releasing its components; None if unpublished."""
        public = self.store.public_incident_for(incident.number)
        if public is None or not public.is_open:
            return None
        body = text or redact(self.page.templates.resolved.replace("{components}", ", ".join(public.components)
                                                                   or self.page.title))

        def apply(snapshot: StatusSnapshot, now: datetime) -> tuple[PublicIncident, Event]:
            current = self.store.public_incident_for(incident.number)
            assert current is not None
            current.state, current.resolved_at, current.updated_at = PublicState.RESOLVED, now, now
            current.components = {name: ComponentStatus.OPERATIONAL for name in current.components}
            current.updates.append(PublicUpdate(id=new_public_id(), state=PublicState.RESOLVED, body=body, at=now,
                                                components=dict(current.components)))
            event = Event(at=now, actor=actor, kind=EventKind.PUBLIC, text=f"Public update (resolved): {body}",
                          data={"public_id": current.id, "state": "resolved"})
            return current, event

        return self._write(incident.number, actor, "incident.resolve", apply)

    def permit_update(self, incident: Incident, actor: str) -> None:
        """Refused (and audited) unless the person may post public updates to this incident."""
        self._permit(actor, [incident.env] if incident.env else [], f"post a public update to {incident.id}",
                     incident.id, "incident.update")

    def reopen(self, incident: Incident, actor: str, text: str) -> PublicIncident | None:
        """A reopened incident whose public one was resolved goes back to investigating with this public update,
        its components taking their impact's status again (a person gave the text: a person decides what the
        public reads); None if it was never published."""
        public = self.store.public_incident_for(incident.number)
        if public is None or public.is_open:
            return None
        return self.public_update(incident, actor, PublicChange(text=text))

    def set_component(self, actor: str, name: str, status: str, reason: str | None = None) -> ComponentState:
        """A component's status by hand; `operational` hands it back to what incidents and maintenance say."""
        name = self.component_name(name)
        chosen = self._choice(ComponentStatus, status, "a component status")
        reason = self._text(reason, "reason") if reason else None
        component = self.page.component(name)
        assert component is not None
        self._permit(actor, component.environments, f"set the status of {name}", name, "status.component")
        for _ in range(_RETRIES):
            snapshot = self.snapshot()
            now = self.clock()
            manual = None if chosen is ComponentStatus.OPERATIONAL else ManualStatus(status=chosen, reason=reason,
                                                                                     by=actor, at=now)
            states, history = self._moved(snapshot, snapshot.open_incidents, {name: manual}, now, "manual")
            if name not in {state.name for state in states}:
                states.append(snapshot.components.get(name, ComponentState(name=name)).model_copy(
                    update={"manual": manual}))
            audit = self._audit(actor, "status.component", name, {"status": chosen.value, "reason": reason})
            try:
                self.store.write_status(snapshot.version, StatusWrite(components=states, history=history, audit=audit))
            except StaleWrite:
                continue
            return next(state for state in states if state.name == name)
        raise ConflictError("The status page is being changed by others right now; try again.")

    # --- one write --------------------------------------------------------------------------------------------
    def _write(self, number: int, actor: str, action: str,
               change: Callable[[StatusSnapshot, datetime], tuple[PublicIncident, Event]]) -> PublicIncident:
        for _ in range(_RETRIES):
            snapshot = self.snapshot()
            now = self.clock()
            public, event = change(snapshot, now)
            others = [i for i in snapshot.open_incidents if i.id != public.id]
            opened = [*others, public] if public.is_open else others
            states, history = self._moved(snapshot, opened, {}, now, f"incident {public.id}")
            audit = self._audit(actor, action, f"INC-{number}", {k: v for k, v in event.data.items()})
            audit.incident = number
            write = StatusWrite(incident=public, components=states, history=history, audit=audit,
                                timeline=(number, [scrubbed_event(event)]))
            try:
                self.store.write_status(snapshot.version, write)
            except StaleWrite:
                continue
            return public
        raise ConflictError("The status page is being changed by others right now; try again.")

    def _moved(self, snapshot: StatusSnapshot, open_incidents: list[PublicIncident],
               manual_changes: dict[str, ManualStatus | None], now: datetime,
               cause: str) -> tuple[list[ComponentState], list[HistoryEntry]]:
        """The components whose shown status changes, and their history entries."""
        names = [c.name for c in self.page.components]
        manual = {name: (snapshot.components[name].manual if name in snapshot.components else None) for name in names}
        manual.update(manual_changes)
        now_shown = effective_statuses(names, open_incidents, manual, snapshot.maintenance)
        states, history = [], []
        for name in names:
            before = snapshot.components.get(name, ComponentState(name=name))
            if now_shown[name] != before.status or manual[name] != before.manual:
                moved = now_shown[name] != before.status
                states.append(before.model_copy(update={"status": now_shown[name], "manual": manual[name],
                                                        "since": now if moved else before.since}))
                if moved:
                    released = now_shown[name] is ComponentStatus.OPERATIONAL
                    history.append(HistoryEntry(component=name, status=now_shown[name], at=now,
                                                cause="released" if released and cause != "manual" else cause))
        return states, history


    def view(self) -> PageView:
        """The page as the public sees it now (`/status`, the HTML page, the JSON, the static copy)."""
        snapshot, now = self.snapshot(), self.clock()
        history = self.store.public_incidents(limit=HISTORY)
        changes = self.store.component_history(now - timedelta(days=DAYS))
        return page_view(self.page, snapshot, history[:LISTED], now, changes, history, self._windows())

    def version(self) -> tuple:
        """What the rendered page depends on: the store's page version, where each public maintenance window
        stands (scheduled, in progress, completed: it moves at its times, not by a write), and the time in
        10-minute steps (the uptime bars' today and the 14 days of past incidents move on even when nothing
        changes)."""
        now = self.clock()
        windows = tuple((w.id, w.state(now)) for w in self._windows())
        return self.store.status_version(), windows, int(now.timestamp() // RERENDER_EVERY_S)
