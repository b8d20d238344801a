"""Incident service: every change is checked, applied and stored together with its timeline event."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from bot.config.catalog import Catalog
from bot.core.channels import incident_in
from bot.core.lifecycle import transition
from bot.core.models import ROLES, ActionItem, Event, EventKind, Incident, Status
from bot.core.plain_text import printable
from bot.core.ports import StaleWrite, Store
from bot.core.privacy import Control, Viewer, may_see, refused, seen, viewer_for
from bot.core.redact import redact, redact_counted, redact_nested
from bot.errors import ConflictError, NotFound, PermissionDenied, UsageError
from bot.timeparse import show, utcnow

Clock = Callable[[], datetime]
_RETRIES = 5


class IncidentService:
    def __init__(self, store: Store, catalog: Catalog, clock: Clock = utcnow,
                 groups_of: Callable[[str], list[str]] | None = None):
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.groups_of = groups_of or (lambda user: [])

    # --- validation -----------------------------------------------------------------
    def _text(self, text: str | None, what: str, limit: int | None = None) -> str:
        text = printable(text or "").strip()  # every way in: commands, modals, the 📌 shortcut, alerts
        limit = limit or self.catalog.limits.text_max
        if not text:
            raise UsageError(f"The {what} is empty.", field=what)
        if len(text) > limit:
            raise UsageError(f"The {what} is {len(text)} characters long; the limit is {limit}.", field=what)
        return text

    # --- queries ----------------------------------------------------------------------
    def get(self, number: int) -> Incident:
        return self.store.get_incident(number)

    def viewer(self, user: str, channel: str | None) -> Viewer:
        return viewer_for(self.catalog, user, channel, self.groups_of(user))

    def visible(self, number: int, viewer: Viewer | None) -> Incident:
        """The incident, or NotFound as for an unknown id when it is private and `viewer` is not a participant."""
        return seen(self.store.get_incident(number), viewer)

    def resolve_target(self, number: int | None, channel: str | None, guess: bool = True,
                       viewer: Viewer | None = None) -> Incident:
        """An explicit id, else the channel's incident, else (no channel given) the only open one, else the only
        resolved one (so `close` and `postmortem` need no id right after a resolve) — of those `viewer` may see.
        Typed in a channel of no incident, the id is asked for: never a guess at some other incident."""
        if number is not None:
            return self.visible(number, viewer)
        bound = self.for_channel(channel) if channel else None
        if bound is not None:
            return seen(bound, viewer)
        if not guess:
            raise UsageError("This is not an incident channel; say which incident, e.g. INC-1.")
        if channel:  # the console's --channel
            raise UsageError(f"No incident is bound to channel {channel}; say which incident, e.g. INC-1.")
        open_now = [i for i in self.store.list_incidents(include_closed=False, limit=50) if may_see(i, viewer)][:3]
        if len(open_now) == 1:
            return open_now[0]
        if not open_now:
            resolved = [i for i in self.store.list_incidents(statuses=(Status.RESOLVED,), limit=50)
                        if may_see(i, viewer)][:2]
            if len(resolved) == 1:
                return resolved[0]
            raise NotFound("There is no open incident; give an id like INC-1.")
        raise UsageError(
            "Several incidents are open; say which one, e.g. "
            + " or ".join(incident.id for incident in open_now[:2]) + "."
        )

    def for_channel(self, channel: str) -> Incident | None:
        """The incident bound to a chat channel, given by its ID or its name (`inc-3-…`, `#inc-3-…`), if any."""
        return incident_in(self.store, channel)

    def list_incidents(self, include_closed: bool = False, limit: int = 50,
                       viewer: Viewer | None = None) -> list[Incident]:
        if viewer is None:
            return self.store.list_incidents(include_closed=include_closed, limit=limit)
        # What the viewer may not see is not there: read on until `limit` visible ones (or the end).
        found: list[Incident] = []
        for incident in self.store.list_incidents(include_closed=include_closed, limit=2**31):
            if may_see(incident, viewer):
                found.append(incident)
                if len(found) == limit:
                    break
        return found

    def timeline(self, number: int) -> list[Event]:
        return self.store.timeline(number)

    # --- channels: the record is the truth, a channel is made for it until it has one ----------------------
    def unbound(self, declared_since: datetime) -> list[Incident]:
        """Open incidents declared since then that have no channel yet (its creation failed, or the process that
        declared it stopped before)."""
        return [incident for incident in self.store.list_incidents(limit=2**31)
                if incident.channel is None and incident.declared_at >= declared_since]

    def claim_channel_setup(self, number: int, holder: str) -> bool:
        """One process at a time makes an incident's channel (the declaring one, its retries, the leader's
        reconciliation); a claim lapses after two minutes if its holder dies."""
        now = self.clock()
        return self.store.acquire_lease(_channel_lease(number), holder, holder, now + timedelta(minutes=2), now) is None

    def release_channel_setup(self, number: int, holder: str) -> None:
        self.store.release_lease(_channel_lease(number), holder)

    # --- changes ----------------------------------------------------------------------
    def open(self, actor: str, severity: str, title: str, impact: str | None = None,
             service: str | None = None, env: str | None = None, channel: str | None = None,
             private: bool | None = None, type: str | None = None, eta: datetime | None = None) -> Incident:
        self.environment(env)
        return self.store.create_incident(*self.declaration(actor, severity, title, impact, service, env, channel,
                                                            commander=actor, private=private, type=type, eta=eta))

    def environment(self, env: str | None) -> None:
        """A person names one of the catalog's environments, or none; UsageError listing them otherwise."""
        if env is None or env in self.catalog.environments:
            return
        known = ", ".join(self.catalog.environments) or "none (the catalog defines no environments)"
        shown = env if len(env) <= 60 else env[:59] + "…"
        raise UsageError(f"Unknown environment '{shown}'. Environments: {known}.", field="env")

    def declaration(self, actor: str, severity: str, title: str, impact: str | None = None,
                    service: str | None = None, env: str | None = None, channel: str | None = None,
                    commander: str | None = None, impact_started_at: datetime | None = None,
                    private: bool | None = None, type: str | None = None,
                    eta: datetime | None = None) -> tuple[Incident, list[Event]]:
        """The incident `open` stores and its first events, checked and scrubbed. Alerts store them their own way
        (bot/core/alerts.py: at most one incident per alert group); the commander may be nobody yet."""
        key = self._severity(severity)
        title = self._text(title, "title", self.catalog.limits.title_max)
        impact = self._text(impact, "impact") if impact else None
        private = self._private(key, private, type)
        now = self.clock()
        if eta is not None and eta <= now:
            raise UsageError(f"The ETA {show(eta)} is not in the future.", field="eta")
        incident = Incident(
            title=title, severity=key, impact=impact, service=service, env=env, channel=channel,
            opened_by=actor, roles={"commander": commander} if commander else {}, declared_at=now,
            impact_started_at=impact_started_at, private=private, type=type, eta=eta,
        )
        events = [
            Event(at=now, actor=actor, kind=EventKind.DECLARED,
                  text=f"Declared {key} ({self.catalog.severities[key].name}): {title}",
                  data={"severity": key, "impact": impact, "service": service, "env": env}
                  | ({"private": True} if private else {}) | ({"type": type} if type else {})
                  | ({"eta": eta.isoformat()} if eta else {})),
        ]
        if commander:
            events.append(Event(at=now, actor=actor, kind=EventKind.ROLE, text=f"@{commander} is commander",
                                data={"role": "commander", "user": commander}))
        return _scrubbed_incident(incident), _scrubbed_events(events)

    def acknowledge(self, number: int, actor: str) -> Incident:
        return self._change(number, lambda inc, now: self._status(inc, Status.ACKNOWLEDGED, actor, now, None),
                            Control(actor, "ack"))

    def set_impact_start(self, number: int, actor: str, when: datetime) -> Incident:
        """When users were first hurt: the post-mortem then counts time to detect and to resolve from it."""
        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            self._past(when, now, "impact start")
            detected = incident.detected_at or incident.declared_at
            if when > detected:
                raise UsageError(f"Impact cannot start after the incident was detected ({show(detected)}).")
            incident.impact_started_at = when
            return [Event(at=now, actor=actor, kind=EventKind.IMPACT_START, text=f"Impact started at {show(when)}",
                          data={"at": when.isoformat()})]

        return self._change(number, apply)

    def set_detected(self, number: int, actor: str, when: datetime) -> Incident:
        """When the problem was first noticed (an alert, a customer), if before the declaration."""
        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            self._past(when, now, "detection")
            if when > incident.declared_at:
                raise UsageError(f"Detection cannot be after the declaration ({show(incident.declared_at)}).")
            if incident.impact_started_at and when < incident.impact_started_at:
                raise UsageError(f"Detection cannot be before the impact started ({show(incident.impact_started_at)}).")
            incident.detected_at = when
            return [Event(at=now, actor=actor, kind=EventKind.DETECTED, text=f"Detected at {show(when)}",
                          data={"at": when.isoformat()})]

        return self._change(number, apply)

    @staticmethod
    def _past(when: datetime, now: datetime, what: str) -> None:
        if when > now:
            raise UsageError(f"The {what} is in the future ({show(when)}); give a past time.")
        if when < now - timedelta(days=365):
            raise UsageError(f"The {what} is more than a year ago ({show(when)}); check the date.")

    def set_status(self, number: int, actor: str, status: str, text: str | None = None) -> Incident:
        try:
            target = Status(status.lower())
        except ValueError as exc:
            raise UsageError(f"'{status}' is not a status; use investigating or mitigated.") from exc
        if target not in (Status.INVESTIGATING, Status.MITIGATED):
            verb = {Status.ACKNOWLEDGED: "acknowledge", Status.RESOLVED: "resolve", Status.CLOSED: "close"}.get(target)
            raise UsageError(f"'{target.value}' is not a status you set; {verb} the incident instead.")
        text = self._text(text, "status text") if text else None
        return self._change(number, lambda inc, now: self._status(inc, target, actor, now, text),
                            Control(actor, "status"))

    def resolve(self, number: int, actor: str, summary: str) -> Incident:
        summary = self._text(summary, "resolution summary")

        def apply(incident: Incident, now: datetime) -> list[Event]:
            events = self._status(incident, Status.RESOLVED, actor, now, summary)
            incident.resolution = summary
            return events

        return self._change(number, apply, Control(actor, "resolve", "resolve", "resolve"))

    def reopen(self, number: int, actor: str, reason: str | None = None) -> Incident:
        reason = self._text(reason, "reason") if reason else None

        def apply(incident: Incident, now: datetime) -> list[Event]:
            if incident.status is not Status.RESOLVED:
                raise ConflictError(f"{incident.id} is {incident.status.value}; only a resolved incident can be reopened.")
            return self._status(incident, Status.INVESTIGATING, actor, now, reason, reopened=True)

        return self._change(number, apply, Control(actor, "reopen", "reopen", "reopen"))

    def postmortem_done(self, number: int, actor: str) -> Incident:
        """The post-mortem is written: its reminders stop."""
        def apply(incident: Incident, now: datetime) -> list[Event]:
            if incident.status not in (Status.RESOLVED, Status.CLOSED):
                raise ConflictError(f"{incident.id} is {incident.status.value}; resolve it before marking its post-mortem done.")
            if incident.postmortem_done_at is not None:
                raise ConflictError(f"The post-mortem of {incident.id} was already marked done.")
            incident.postmortem_done_at = now
            return [Event(at=now, actor=actor, kind=EventKind.POSTMORTEM, text="Post-mortem marked done")]

        return self._change(number, apply)

    def escalate(self, number: int, level: int, who: str) -> None:
        """An escalation step sent by the scheduler, on the timeline (the incident itself is unchanged)."""
        event = Event(at=self.clock(), actor="opsbot", kind=EventKind.ESCALATION, text=f"Escalated to level {level}: {who}",
                      data={"level": level, "to": who})
        self.store.append_events(number, _scrubbed_events([event]))

    def close(self, number: int, actor: str) -> Incident:
        return self._change(number, lambda inc, now: self._status(inc, Status.CLOSED, actor, now, None),
                            Control(actor, "close", "close", "close"))

    def set_severity(self, number: int, actor: str, severity: str) -> Incident:
        key = self._severity(severity)

        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            if incident.severity == key:
                raise ConflictError(f"{incident.id} is already {key}.")
            old, incident.severity = incident.severity, key
            return [Event(at=now, actor=actor, kind=EventKind.SEVERITY, text=f"Severity {old} → {key}",
                          data={"from": old, "to": key})]

        return self._change(number, apply, Control(actor, "severity", "severity", "change the severity of"))

    def assign_role(self, number: int, actor: str, role: str, user: str) -> Incident:
        role = role.lower()
        if role not in ROLES:
            raise UsageError(f"'{role}' is not a role; use one of {', '.join(ROLES)}.")

        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            previous = incident.roles.get(role)
            if previous == user:
                raise ConflictError(f"@{user} is already {role} of {incident.id}.")
            incident.roles[role] = user
            text = f"@{user} is {role}" + (f" (was @{previous})" if previous else "")
            return [Event(at=now, actor=actor, kind=EventKind.ROLE, text=text,
                          data={"role": role, "user": user, "previous": previous})]

        return self._change(number, apply, Control(actor, "role", "roles", "assign roles of"))

    def set_impact(self, number: int, actor: str, impact: str) -> Incident:
        impact = self._text(impact, "impact")

        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            incident.impact = impact
            return [Event(at=now, actor=actor, kind=EventKind.IMPACT, text=f"Impact: {impact}")]

        return self._change(number, apply)

    def post_update(self, number: int, actor: str, text: str, eta: datetime | None = None) -> Incident:
        """A status update communicated to stakeholders (the SLA cadence counts these), with an optional ETA."""
        text = "Status update: " + self._text(text, "update")

        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            if eta is not None and eta <= now:
                raise UsageError(f"The ETA {show(eta)} is not in the future.", field="eta")
            incident.last_update_at = now
            incident.eta = eta or incident.eta
            return [Event(at=now, actor=actor, kind=EventKind.UPDATE, text=text,
                          data={"eta": eta.isoformat()} if eta else {})]

        return self._change(number, apply)

    def add_note(self, number: int, actor: str, text: str, data: dict | None = None) -> Incident:
        return self._log(number, actor, EventKind.NOTE, self._text(text, "note"), data)

    def attach_channel(self, number: int, actor: str, channel: str, name: str, summary_ref: str | None) -> Incident:
        """Bind the incident to its dedicated chat channel; commands there then need no id."""

        def apply(incident: Incident, now: datetime) -> list[Event]:
            incident.channel, incident.channel_name, incident.summary_ref = channel, name, summary_ref
            return [Event(at=now, actor=actor, kind=EventKind.CHANNEL, text=f"Incident channel #{name} created",
                          data={"channel": channel, "name": name})]

        return self._change(number, apply)

    def attach_announcement(self, number: int, ref: str) -> Incident:
        """Remember where the incident was announced (Slack: "channel ts"), for an announcement edited in place."""

        def apply(incident: Incident, now: datetime) -> list[Event]:
            incident.announcement_ref = ref
            return []

        return self._change(number, apply)

    def add_action_item(self, number: int, actor: str, text: str, owner: str | None = None,
                        due: date | None = None) -> Incident:
        text = self._text(text, "action item", 500)

        def apply(incident: Incident, now: datetime) -> list[Event]:
            if due is not None and due < now.date():
                raise UsageError(f"The due date {due.isoformat()} is in the past; give today ({now.date().isoformat()}, "
                                 "UTC) or a later date.", field="due")
            item = ActionItem(number=len(incident.action_items) + 1, text=text, owner=owner, due=due)
            incident.action_items.append(item)
            detail = (f" (owner @{owner}" if owner else " (no owner") + (f", due {due})" if due else ")")
            return [Event(at=now, actor=actor, kind=EventKind.ACTION_ADDED,
                          text=f"Action item {item.number}: {text}{detail}", data=item.model_dump(mode="json"))]

        return self._change(number, apply)

    def complete_action_item(self, number: int, actor: str, item_number: int) -> Incident:
        def apply(incident: Incident, now: datetime) -> list[Event]:
            item = next((i for i in incident.action_items if i.number == item_number), None)
            if item is None:
                raise NotFound(f"{incident.id} has no action item {item_number}.")
            if item.done_at is not None:
                raise ConflictError(f"Action item {item_number} of {incident.id} is already done.")
            item.done_at = now
            return [Event(at=now, actor=actor, kind=EventKind.ACTION_DONE,
                          text=f"Action item {item_number} done: {item.text}", data={"item": item_number})]

        return self._change(number, apply)

    # --- helpers ----------------------------------------------------------------------
    def _private(self, severity: str, private: bool | None, type: str | None) -> bool:
        """Private if asked (`--private`), else as the incident type says, else as the severity says."""
        if type is not None and type not in self.catalog.incident_types:
            known = ", ".join(self.catalog.incident_types) or "none are configured"
            raise UsageError(f"'{type}' is not an incident type ({known}).", field="type")
        if private is not None:
            return private
        if type is not None and self.catalog.incident_types[type].private:
            return True
        return self.catalog.severities[severity].private

    def severity(self, text: str) -> str:
        """The catalog's key for 'p1', 'sev2', …; UsageError naming the valid ones otherwise."""
        return self._severity(text)

    def _severity(self, text: str) -> str:
        try:
            return self.catalog.severity_key(text)
        except ValueError as exc:
            raise UsageError(str(exc) + ".", field="severity") from exc

    @staticmethod
    def _require_not_closed(incident: Incident) -> None:
        if incident.status is Status.CLOSED:
            raise ConflictError(f"{incident.id} is closed; reopening a closed incident is not possible.")

    @staticmethod
    def _status(incident: Incident, target: Status, actor: str, now: datetime, text: str | None,
                reopened: bool = False) -> list[Event]:
        previous = incident.status
        transition(incident, target, now)
        label = "Reopened" if reopened else target.value.capitalize()
        return [Event(at=now, actor=actor, kind=EventKind.STATUS,
                      text=label + (f": {text}" if text else ""),
                      data={"from": previous.value, "to": target.value, "reopened": reopened})]

    def _log(self, number: int, actor: str, kind: EventKind, text: str, data: dict | None = None) -> Incident:
        def apply(incident: Incident, now: datetime) -> list[Event]:
            self._require_not_closed(incident)
            return [Event(at=now, actor=actor, kind=kind, text=text, data=data or {})]

        return self._change(number, apply)

    def _change(self, number: int, apply: Callable[[Incident, datetime], list[Event]],
                control: Control | None = None) -> Incident:
        """Read, apply, save with the incident's events in one transaction; retry if someone else won. A change of
        the incident's course (`control`) is permitted by the catalog first, and audited in that transaction."""
        for _ in range(_RETRIES):
            incident = self.store.get_incident(number)
            if control is not None:
                self._permit(incident, control)
            working = incident.model_copy(deep=True)
            now = self.clock()
            events = _scrubbed_events(apply(working, now))
            audit = control.record(working, events, now, "succeeded") if control is not None else None
            try:
                return self.store.save_incident(_scrubbed_incident(working), events, audit)
            except StaleWrite:
                continue
        raise ConflictError(f"INC-{number} is being changed by others right now; try again.")

    def _permit(self, incident: Incident, control: Control) -> None:
        refusal = refused(self.catalog, incident, control, self.viewer(control.actor, None).admin)
        if refusal is not None:
            self.store.append_audit(control.record(incident, [], self.clock(), "denied"))
            raise PermissionDenied(refusal)


def _channel_lease(number: int) -> str:
    return f"channel:INC-{number}"


# Secrets never reach the store: the incident's text fields and every event are redacted; an event that had
# something masked says how many (never what).
def _scrubbed_incident(incident: Incident) -> Incident:
    incident.title, incident.impact = redact(incident.title), redact(incident.impact or "") or None
    incident.resolution = redact(incident.resolution or "") or None
    for item in incident.action_items:
        item.text = redact(item.text)
    return incident


def _scrubbed_events(events: list[Event]) -> list[Event]:
    return [scrubbed_event(event) for event in events]


def scrubbed_event(event: Event) -> Event:
    """The one redaction step of every event that enters the store (changes, alerts, imports): its text and every
    nested value of its data."""
    text, masked = redact_counted(event.text)
    data = redact_nested(event.data)
    if masked:
        data["redacted"] = masked
    return event.model_copy(update={"text": text, "data": data})
