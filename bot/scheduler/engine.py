"""One scheduler tick: materialise recurring reminders, send what is due, run the incident timers, reconcile the
actions opsbot stopped in the middle of (at start, then every minute; told to the audit and incident channels).

Only the leader ticks (see leader.py), and even two overlapping leaders cannot send one reminder twice:
a reminder is claimed by a conditional update (pending -> sent) or an insert under its unique key before
it is posted. The price is that a crash between the claim and the post loses that one message; it stays
recorded as sent-at, so the log shows it, and it is never repeated.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bot.config import Catalog
from bot.core.incidents import IncidentService
from bot.core.oncall_handoff import HandoffFacts, gap_reminders, handoff_reminders, still_firing
from bot.core.oncall_overrides import Overrides
from bot.core.ops import OpsService
from bot.core.ports import Notifier, Store
from bot.core.redact import redact
from bot.core.reminders import Checklist, Reminder
from bot.core.timers import due_reminders
from bot.errors import OpsbotError
from bot.scheduler.triggers import cron_trigger

log = logging.getLogger("opsbot.scheduler")
CHECKPOINT_EVERY = timedelta(hours=1)
ANCHOR_BATCH = timedelta(seconds=30)  # with the 5-second tick, a new audit record is anchored within 35 seconds
# Slack's delivery keys (event and trigger ids, modals opened) stop its retries, which come within minutes; a
# week is ample. (Alert deliveries' keys are kept: see forget_deliveries.)
REMEMBER_DELIVERIES = timedelta(days=7)
RECONCILE_EVERY = timedelta(minutes=1)
_MAX_BACKFILL = 500
_RUN_EXCERPT = 1000  # characters of a scheduled action's output posted with its reminder  # occurrences of one recurring reminder materialised per tick after a long outage


class ReminderEngine:
    def __init__(self, store: Store, catalog: Catalog, incidents: IncidentService, notifier: Notifier,
                 ops: OpsService | None = None, publish_status: Callable[[], list[str]] | None = None,
                 settle_status: Callable[[], object] | None = None, watch_status: Callable[[], object] | None = None):
        self.store = store
        self.watch_status = watch_status  # runs the components' checks and tells channels where the page is wrong
        self._watched_at: datetime | None = None
        self._publish_error: str | None = None
        self.settle_status = settle_status  # components under public maintenance follow its windows
        self.publish_status = publish_status  # rewrites status_page.publish.dir when the page changed
        self.ops = ops  # runs a recurring reminder's `run:` action
        self.catalog = catalog
        self.incidents = incidents
        self.notifier = notifier
        self.overrides = Overrides(store, catalog, incidents.clock)  # who pages `schedule:<name>` levels
        self._anchored_at: datetime | None = None
        self._reconciled_at: datetime | None = None
        self.settings = catalog.scheduler
        self._triggers = {name: cron_trigger(r.cron, r.timezone) for name, r in self.settings.reminders.items()}

    def tick(self, now: datetime) -> None:
        self.materialise_recurring(now)
        self.send_due(now)
        self.run_incident_timers(now)
        self.run_handoffs(now)
        self.reconcile(now)
        self.checkpoint_audit(now)
        self.forget_old_deliveries(now)
        self.publish_status_page()  # (the status page's checks run on their own: SchedulerRunner.watch)

    def publish_status_page(self) -> None:
        """Maintenance windows move the page's components at their start and end; then the static copy of the
        page is rewritten (by the leader only) after any change, whichever replica made it."""
        if self.settle_status is not None:
            try:
                self.settle_status()
            except Exception:  # the store may be down: the next tick tries again
                log.exception("could not move the status page's components under maintenance")
        if self.publish_status is None:
            return
        try:
            changed = self.publish_status()
        except Exception as error:  # a full disk or a bad folder must not stop reminders; the next tick tries again
            if repr(error) != self._publish_error:  # said once, not every tick, until it changes or is mended
                log.exception("could not rewrite the status page's static copy")
            self._publish_error = repr(error)
            return
        if self._publish_error is not None:
            log.info("the status page's static copy is written again")
            self._publish_error = None
        if changed:
            log.info("status page copy rewritten: %d files changed", len(changed))

    def watch_status_page(self, now: datetime) -> None:
        """Every `status_page.watch_every` the leader runs the checks components name and compares them with the
        page, as a person's `/ops health` does: the page cannot quietly lie when nobody looks. The first run is one
        period after taking the lead, so a start (or a takeover) does not add a round of checks at once. Not part
        of `tick`: checks may take their timeouts, and reminders must not wait for them (SchedulerRunner.watch)."""
        every = self.catalog.status_page.watch_every
        if self.watch_status is None or every is None:
            return
        if self._watched_at is None or now < self._watched_at:
            self._watched_at = now
            return
        if now - self._watched_at < every:
            return
        self._watched_at = now
        try:
            self.watch_status()
        except Exception:  # the store or a check may be down: the next period tries again
            log.exception("could not compare the status page with its checks")

    def reconcile(self, now: datetime) -> None:
        """On the first tick (start-up, or taking over as leader) and every minute: each action opsbot stopped in the
        middle of is settled and recorded (OpsService.reconcile), and the audit channel and the incident's channel
        are told what was found and done. A failure is logged; the next pass tries again."""
        if self.ops is None or (self._reconciled_at is not None and now - self._reconciled_at < RECONCILE_EVERY):
            return
        self._reconciled_at = now
        try:
            settled = self.ops.reconcile()
        except Exception:  # reminders and timers must not wait on it
            log.exception("reconciling interrupted actions failed; trying again in a minute")
            return
        for done in settled:
            record = done.record
            what = " ".join(part for part in (record.action, record.target or "", f"in {record.env}") if part)
            text = f"⚠️ {what} (attempt {record.attempt}) was interrupted: {record.excerpt}"
            log.warning("%s", text)
            for channel in dict.fromkeys(c for c in (self.catalog.audit_channel, done.channel) if c):
                try:
                    self.notifier.say(channel, text)
                except Exception as error:  # noqa: BLE001 — it is recorded in the audit log either way
                    log.error("could not tell #%s about attempt %s: %r", channel, record.attempt, error)

    def checkpoint_audit(self, now: datetime) -> None:
        """The audit log's head goes to the witnesses (file, audit channel) within a minute of any new record —
        batched, one checkpoint for all the records of half a minute — and hourly even when nothing changed
        (a recent signed checkpoint shows the log was whole then)."""
        if self.ops is None:
            return
        if self._hourly("audit:checkpoint", now):
            self.ops.checkpoint()
            self._anchored_at = now
        elif (self._anchored_at is None or now - self._anchored_at >= ANCHOR_BATCH) and \
                self.ops.anchor_new() is not None:
            self._anchored_at = now

    def anchor_on_shutdown(self) -> None:
        """A clean shutdown leaves no record unanchored."""
        if self.ops is not None:
            self.ops.anchor_new()

    def forget_old_deliveries(self, now: datetime) -> None:
        """Hourly, so the table of delivery keys does not grow for ever."""
        if self._hourly("deliveries:forgotten", now):
            forgotten = self.store.forget_deliveries(now - REMEMBER_DELIVERIES)
            if forgotten:
                log.info("forgot %d delivery keys older than %s", forgotten, REMEMBER_DELIVERIES)

    def _hourly(self, cursor: str, now: datetime) -> bool:
        """True once an hour per cursor (kept in the store, so across restarts and leaders)."""
        last = self.store.schedule_cursor(cursor)
        if last is not None and now - last < CHECKPOINT_EVERY:
            return False
        self.store.set_schedule_cursor(cursor, now)
        return True

    # --- recurring reminders ----------------------------------------------------------
    def materialise_recurring(self, now: datetime) -> None:
        """Each occurrence since the last tick becomes a pending reminder row (missed ones included, so an
        outage leaves a record of what was not sent)."""
        for name, trigger in self._triggers.items():
            cursor_name = f"recurring:{name}"
            cursor = self.store.schedule_cursor(cursor_name)
            if cursor is None:  # a new schedule starts from now; nothing before it was ever due
                self.store.set_schedule_cursor(cursor_name, now)
                continue
            config = self.settings.reminders[name]
            last = cursor
            for _ in range(_MAX_BACKFILL):
                fire = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
                if fire is None or fire > now:
                    break
                # Keyed by local wall-clock time: when clocks go back, APScheduler yields 02:00 twice
                # (fold 0 and fold 1); one key means one reminder.
                wall = fire.astimezone(ZoneInfo(config.timezone)).strftime("%Y-%m-%dT%H:%M")
                self.store.add_reminder(Reminder(
                    key=f"recurring:{name}:{wall}", kind="recurring",
                    due_at=fire, channel=config.channel or self.settings.channel,
                    text=f"🔧 {config.title} — {fire.strftime('%a %Y-%m-%d %H:%M %Z')}",
                    title=config.title, checklist=list(config.checklist)))
                last = fire
            if last != cursor:
                self.store.set_schedule_cursor(cursor_name, last)

    # --- pending reminders --------------------------------------------------------------
    def send_due(self, now: datetime) -> None:
        for reminder in self.store.due_reminders(now):
            late = now - reminder.due_at
            if late > self.settings.grace:
                missed = reminder.model_copy(update={
                    "status": "missed", "error": f"not sent: {int(late.total_seconds())} s late, beyond the grace period"})
                if self.store.settle_reminder(missed):
                    log.warning("reminder %s missed (due %s)", reminder.key, reminder.due_at.isoformat())
                continue
            claimed = reminder.model_copy(update={"status": "sent", "sent_at": now})
            if self.store.settle_reminder(claimed):
                self._post(claimed)

    # --- incident timers ----------------------------------------------------------------
    def run_incident_timers(self, now: datetime) -> None:
        for incident in self.store.incidents_with_timers():
            if not incident.has_timers:
                self.store.forget_timers(incident)
                continue
            send, missed = due_reminders(incident, self.catalog, now, self.overrides.active)
            for reminder in missed:
                self.store.add_reminder(reminder.model_copy(update={"status": "missed", "error": "superseded"}))
            for reminder in send:
                claimed = reminder.model_copy(update={"status": "sent", "sent_at": now})
                if not self.store.add_reminder(claimed):
                    continue  # already sent, by us or another process
                if reminder.kind == "escalation":
                    self.incidents.escalate(incident.number, reminder.level or 1, reminder.title or "")
                self._post(claimed)

    def run_handoffs(self, now: datetime) -> None:
        """At each change of who is on call: the brief, once (its key), and the schedule's Slack group moved to the
        incoming person; a week ahead, each gap. The brief's facts are read only when a handoff is due."""
        schedules = self.catalog.oncall.schedules
        if not schedules:
            return
        facts = cache(lambda: self._handoff_facts(now))
        for name, schedule in schedules.items():
            overrides = self.overrides.active(name)
            found = handoff_reminders(name, schedule, now, overrides, facts)
            for reminder in [*found, *gap_reminders(name, schedule, now, overrides)]:
                claimed = reminder.model_copy(update={"status": "sent", "sent_at": now})
                if not self.store.add_reminder(claimed):
                    continue  # already sent, by us or another process
                self._post(claimed)
                incoming = found[-1].channel if found else None
                if reminder.kind == "handoff_dm" and schedule.slack_group and reminder.channel == incoming:
                    try:
                        self.notifier.set_group(schedule.slack_group, [reminder.channel])
                    except Exception:  # the brief went out; the group is Slack's to fix (a missing scope, say)
                        log.warning("could not move user group %s to %s", schedule.slack_group, incoming,
                                    exc_info=True)

    def _handoff_facts(self, now: datetime) -> HandoffFacts:
        incidents = self.store.list_incidents(limit=200)
        firing = {i.id: still_firing(self.store.timeline(i.number)) for i in incidents if i.is_open and i.alert_groups}
        return HandoffFacts(incidents=incidents, windows=self.store.list_windows(ending_after=now),
                            actions=self.store.audit_records(since=now - timedelta(days=1)),
                            plans=self.store.pending_plans(now), firing=firing)

    def _run(self, reminder: Reminder) -> Reminder:
        """A recurring reminder with `run:` runs its action now (after the claim: at most once) and carries the
        outcome, redacted, in its text."""
        name = reminder.key.split(":")[1] if reminder.kind == "recurring" else ""
        config = self.settings.reminders.get(name)
        if config is None or config.run is None or self.ops is None:
            return reminder
        run = config.run
        try:
            done = self.ops.run_scheduled(run.env, run.action, f"reminder {name}")
            outcome = f"✅ {run.action} in {run.env}: succeeded\n{done.output.strip()[-_RUN_EXCERPT:]}"
        except OpsbotError as error:
            outcome = f"❌ {run.action} in {run.env}: failed — {redact(str(error))[-_RUN_EXCERPT:]}"
        except Exception as error:  # noqa: BLE001 — the reminder still goes out, saying the run broke
            log.error("scheduled run %s in %s broke: %r", run.action, run.env, error)
            outcome = f"❌ {run.action} in {run.env}: failed unexpectedly; the details are in the log"
        return reminder.model_copy(update={"text": f"{reminder.text}\n{outcome.rstrip()}"})

    def _post(self, reminder: Reminder) -> None:
        reminder = self._run(reminder)
        checklist = None
        try:
            if reminder.checklist:
                checklist = self.store.create_checklist(Checklist(
                    title=reminder.title or "Checklist", items=reminder.checklist, channel=reminder.channel,
                    reminder=reminder.key, created_at=reminder.sent_at or reminder.due_at))
            self.notifier.post(reminder, checklist)
        except Exception as error:  # noqa: BLE001 — one failed post must not stop the others
            log.error("reminder %s could not be posted: %r", reminder.key, error)
            failed = reminder.model_copy(update={"status": "failed", "error": redact(str(error))[:500]})
            self.store.settle_reminder(failed, expected="sent")
