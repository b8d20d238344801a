"""The reminder engine with a clock the test moves, on both store backends: every reminder fires once,
at its time, survives a restart, and is recorded as missed when the bot was down beyond the grace period."""
from __future__ import annotations

import sys
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.models import EventKind
from bot.core.ops import Actor
from bot.scheduler.engine import ReminderEngine
from bot.scheduler.triggers import cron_trigger
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.views.maint import reminder_text as slack  # what Slack is sent: neutral text rendered

OPS = Actor(user="U_OPS", channel=None, command="/maint schedule")


class RecordingNotifier:
    def __init__(self):
        self.posts = []
        self.said: list[tuple[str, str]] = []
        self.groups: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.fail = False

    def post(self, reminder, checklist):
        if self.fail:
            raise RuntimeError("Slack said: channel_not_found (token xoxb-123-456-abcdef)")
        with self.lock:
            self.posts.append((reminder, checklist))

    def say(self, channel, text):
        with self.lock:
            self.said.append((channel, text))

    def keys(self):
        return [reminder.key for reminder, _ in self.posts]

    def set_group(self, group, users):
        with self.lock:
            self.groups.append((group, list(users)))

    def kinds(self):
        return [reminder.kind for reminder, _ in self.posts]


def catalog(**scheduler) -> Catalog:
    return Catalog.model_validate({
        "environments": {"prod": {}},
        "scheduler": {"reminders": {}, **scheduler},
        "severities": {"P0": {"name": "Critical", "response": "15m", "postmortem_due": "24h",
                              "escalation": ["on-call engineer", "U0LEAD", "S0MANAGERS", "CTO"]},
                       "P1": {"name": "High", "response": "1h", "postmortem_due": "24h"},
                       "P2": {"name": "Medium", "response": "4h"}, "P3": {"name": "Low", "response": "next-business-day"}},
    })


class Bot:
    """One opsbot process: its own store connection, services and engine."""

    def __init__(self, url: str, cat: Catalog, clock, notifier=None):
        self.store = SqliteStore(url) if url.startswith("sqlite") else PostgresStore(url)
        if isinstance(self.store, PostgresStore):
            self.store.open()
        self.store.migrate()
        self.clock = clock
        self.checkpoints: list = []  # what the witnesses were given
        services = build_services(self.store, cat, clock=clock, witnesses=[self.checkpoints.append])
        self.incidents, self.maintenance, self.ops = services.incidents, services.maintenance, services.ops
        self.notifier = notifier or RecordingNotifier()
        self.engine = ReminderEngine(self.store, cat, self.incidents, self.notifier, ops=services.ops)

    def tick(self):
        self.engine.tick(self.clock())


@pytest.fixture
def make_bot(store_url, clock):
    bots = []

    def make(cat: Catalog | None = None, notifier=None) -> Bot:
        bot = Bot(store_url, cat or catalog(), clock, notifier)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.store.close()


def test_window_notices_fire_once_each_at_their_time(make_bot, clock):
    bot = make_bot()
    window = bot.maintenance.schedule(OPS, "prod", clock() + timedelta(hours=72), timedelta(hours=2), "db upgrade")
    bot.tick()
    assert bot.notifier.posts == []
    clock.advance(hours=24)  # 48 h before
    bot.tick()
    bot.tick()
    assert bot.notifier.kinds() == ["window_lead"]
    assert "in 2d" in bot.notifier.posts[0][0].text and "db upgrade" in bot.notifier.posts[0][0].text
    clock.advance(hours=24)
    bot.tick()
    clock.advance(hours=24)
    bot.tick()
    assert bot.notifier.kinds() == ["window_lead", "window_lead", "window_start"]
    start, checklist = bot.notifier.posts[-1]
    assert checklist.items == start.checklist and checklist.title == "Pre-maintenance checklist"
    clock.advance(hours=2)
    bot.tick()
    assert bot.notifier.kinds()[-1] == "window_end"
    assert bot.notifier.posts[-1][1].title == "Post-maintenance checklist"
    assert {r.status for r in bot.store.reminders(f"window:{window.id}:")} == {"sent"}


def test_a_cancelled_window_sends_nothing_more(make_bot, clock):
    bot = make_bot()
    window = bot.maintenance.schedule(OPS, "prod", clock() + timedelta(hours=30), timedelta(hours=1), "x")
    clock.advance(hours=6, minutes=1)  # the 24 h notice is due
    bot.tick()
    assert bot.notifier.kinds() == ["window_lead"]
    bot.maintenance.cancel(OPS, window.id)
    clock.advance(hours=30)
    bot.tick()
    assert bot.notifier.kinds() == ["window_lead"]


def test_restart_with_pending_reminders_fires_once_within_grace_and_records_missed_beyond(make_bot, clock):
    first = make_bot()
    soon = first.maintenance.schedule(OPS, "prod", clock() + timedelta(minutes=30), timedelta(minutes=10), "soon")
    first.tick()
    first.store.close()  # the process stops ...
    clock.advance(minutes=35)  # ... and is down while the start (5 min ago) falls due; its end is 5 min ahead
    second = make_bot()
    second.tick()
    second.tick()
    assert second.notifier.keys() == [f"window:{soon.id}:start"]
    clock.advance(minutes=30)  # down again: the end fell due 25 min ago, beyond the 10 min grace
    third = make_bot()
    third.tick()
    assert third.notifier.posts == []
    end = third.store.reminders(f"window:{soon.id}:end:")[0]
    assert end.status == "missed" and "beyond the grace period" in end.error


def test_two_processes_ticking_at_once_send_each_reminder_once(make_bot, clock):
    shared = RecordingNotifier()
    bots = [make_bot(notifier=shared) for _ in range(2)]
    for hours in range(1, 6):
        bots[0].maintenance.schedule(OPS, "prod", clock() + timedelta(hours=hours), timedelta(minutes=30), f"w{hours}")
    clock.advance(hours=6)  # every start and end is due (a 10 h grace so none is missed)
    for bot in bots:
        bot.engine.settings = bot.engine.settings.model_copy(update={"grace": timedelta(hours=10)})
    threads = [threading.Thread(target=bot.tick) for bot in bots for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(shared.keys()) == 10 and len(set(shared.keys())) == 10


def test_a_failed_post_is_recorded_with_a_redacted_reason_and_not_retried(make_bot, clock):
    bot = make_bot()
    window = bot.maintenance.schedule(OPS, "prod", clock() + timedelta(minutes=5), timedelta(minutes=5), "x")
    bot.notifier.fail = True
    clock.advance(minutes=5)
    bot.tick()
    start = bot.store.reminders(f"window:{window.id}:start")[0]
    assert start.status == "failed" and "channel_not_found" in start.error and "xoxb-123" not in start.error
    bot.notifier.fail = False
    bot.tick()
    assert bot.notifier.posts == []


def test_recurring_reminders_post_their_checklist_and_record_missed_occurrences(make_bot, clock):
    cat = catalog(reminders={"daily": {"cron": "0 9 * * mon-fri", "title": "Daily checks", "channel": "ops-daily",
                                       "checklist": ["Check health endpoints", "Review error logs"]}})
    bot = make_bot(cat)
    bot.tick()  # 2026-11-20 09:00 (Fri): a new schedule starts from now
    assert bot.notifier.posts == []
    clock.advance(days=3, minutes=2)  # Mon 09:02; Sat/Sun have no occurrence
    bot.tick()
    bot.tick()
    assert bot.notifier.keys() == ["recurring:daily:2026-11-23T09:00"]
    reminder, checklist = bot.notifier.posts[0]
    assert reminder.channel == "ops-daily" and checklist.items == ["Check health endpoints", "Review error logs"]
    bot.maintenance.tick("U_ALICE", checklist.id, {2})
    clock.advance(minutes=1)
    bot.maintenance.tick("U_BOB", checklist.id, {1, 2})
    ticked = bot.maintenance.checklist(checklist.id).checked()
    assert {item: tick.actor for item, tick in ticked.items()} == {1: "U_BOB", 2: "U_ALICE"}
    bot.store.close()
    clock.advance(days=2)  # down over Tue and Wed 09:00; back Wed 09:03
    again = make_bot(cat)
    again.tick()
    assert again.notifier.keys() == ["recurring:daily:2026-11-25T09:00"]
    missed = [r for r in again.store.reminders("recurring:daily:") if r.status == "missed"]
    assert [r.due_at.date() for r in missed] == [date(2026, 11, 24)]


def test_cron_in_a_time_zone_follows_daylight_saving(make_bot, clock):
    trigger = cron_trigger("0 2 * * sun", "Europe/Berlin")
    summer = trigger.get_next_fire_time(None, datetime(2026, 6, 1, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2026, 6, 7, 0, 0, tzinfo=UTC)  # CEST: UTC+2
    winter = trigger.get_next_fire_time(None, datetime(2026, 11, 2, tzinfo=UTC))
    assert winter.astimezone(UTC) == datetime(2026, 11, 8, 1, 0, tzinfo=UTC)  # CET: UTC+1
    # On 2026-10-25 clocks go back from 03:00 to 02:00, so 02:00 happens twice and APScheduler yields both;
    # the reminder still goes out once.
    cat = catalog(reminders={"weekly": {"cron": "0 2 * * sun", "timezone": "Europe/Berlin", "title": "Weekly"}})
    clock.now = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    bot = make_bot(cat)
    bot.tick()
    for _ in range(5 * 12):  # every 5 minutes through the night
        clock.advance(minutes=5)
        bot.tick()
    assert bot.notifier.keys() == ["recurring:weekly:2026-10-25T02:00"]
    assert bot.notifier.posts[0][0].due_at.astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)


def test_weekday_numbers_are_refused_in_cron():
    with pytest.raises(ValueError, match="use weekday names"):
        cron_trigger("0 2 * * 0", "UTC")
    with pytest.raises(ValueError, match="5 fields"):
        cron_trigger("0 2 * *", "UTC")


def test_the_catalog_refuses_bad_schedules_with_their_path(tmp_path):
    from bot.config import ConfigError, load_catalog

    path = tmp_path / "opsbot.yml"
    path.write_text("scheduler:\n  timezone: Mars/Olympus\n  reminders:\n    weekly: {cron: '0 2 * * 0', title: W}\n")
    with pytest.raises(ConfigError) as error:
        load_catalog(path)
    problems = "\n".join(error.value.problems)
    assert "scheduler.timezone: 'Mars/Olympus' is not a time zone" in problems
    assert "scheduler.reminders.weekly.cron: '0': use weekday names" in problems


# --- incident timers -----------------------------------------------------------------------
def test_unacknowledged_incident_escalates_level_by_level_until_acknowledged(make_bot, clock):
    bot = make_bot()
    incident = bot.incidents.open("U_ALICE", "p0", "Checkout down")
    bot.tick()  # level 1, the on-call engineer, is paged at declaration
    (paged,) = [r for r, _ in bot.notifier.posts if r.kind == "escalation"]
    assert "was declared. Paging on-call engineer (level 1 of 4)" in paged.text
    clock.advance(minutes=14)
    bot.tick()
    assert bot.notifier.kinds().count("escalation") == 1
    clock.advance(minutes=1)  # 15 min: the P0 response target
    bot.tick()
    bot.tick()
    escalations = [r for r, _ in bot.notifier.posts if r.kind == "escalation"][1:]
    assert len(escalations) == 1 and "<@U0LEAD>" in slack(escalations[0]) and "level 2 of 4" in escalations[0].text
    direct = [r for r, _ in bot.notifier.posts if r.kind == "escalation_dm"]  # a user ID is paged directly too
    assert len(direct) == 1 and direct[0].channel == "U0LEAD" and "You are paged for *INC-1*" in slack(direct[0])
    clock.advance(minutes=15)
    bot.tick()
    escalations = [r for r, _ in bot.notifier.posts if r.kind == "escalation"]
    assert "<!subteam^S0MANAGERS>" in slack(escalations[-1])
    steps = [e for e in bot.incidents.timeline(incident.number) if e.kind is EventKind.ESCALATION]
    assert [e.data["to"] for e in steps] == ["on-call engineer", "U0LEAD", "S0MANAGERS"]
    bot.incidents.acknowledge(incident.number, "U_ALICE")
    clock.advance(minutes=30)
    bot.tick()
    assert len([k for k in bot.notifier.kinds() if k == "escalation"]) == 3
    assert bot.notifier.kinds().count("escalation_dm") == 1  # a group (S0MANAGERS) is only mentioned


def test_after_downtime_only_the_current_escalation_is_sent(make_bot, clock):
    bot = make_bot()
    incident = bot.incidents.open("U_ALICE", "p0", "Checkout down")
    clock.advance(minutes=50)  # levels 2, 3 and 4 are all due
    bot.tick()
    escalations = [r for r, _ in bot.notifier.posts if r.kind == "escalation"]
    assert len(escalations) == 1 and "CTO" in escalations[0].text
    prefix = f"inc:{incident.number}:escalate:"
    statuses = {r.key.removeprefix(prefix): r.status for r in bot.store.reminders(prefix)}
    assert statuses == {"0": "missed", "1": "missed", "1:dm": "missed", "2": "missed",
                        "3": "sent"}  # the CTO is a name: no DM


def test_status_update_cadence_reminds_once_per_silent_period(make_bot, clock):
    bot = make_bot()
    incident = bot.incidents.open("U_ALICE", "p1", "Slow search")
    bot.incidents.assign_role(incident.number, "U_ALICE", "comms", "U_COMMS")
    bot.incidents.acknowledge(incident.number, "U_ALICE")
    clock.advance(minutes=29)
    bot.tick()
    assert "update" not in bot.notifier.kinds()
    clock.advance(minutes=1)
    bot.tick()
    bot.tick()
    updates = [r for r, _ in bot.notifier.posts if r.kind == "update"]
    assert len(updates) == 1 and slack(updates[0]).startswith("⏰ <@U_COMMS> *INC-1* has had no status update")
    bot.incidents.post_update(incident.number, "U_COMMS", "still investigating")
    clock.advance(minutes=20)
    bot.tick()
    assert bot.notifier.kinds().count("update") == 1
    clock.advance(minutes=10)
    bot.tick()
    assert bot.notifier.kinds().count("update") == 2
    bot.incidents.resolve(incident.number, "U_ALICE", "fixed")
    clock.advance(hours=2)
    bot.tick()
    assert bot.notifier.kinds().count("update") == 2


def test_postmortem_reminders_repeat_until_marked_done(make_bot, clock):
    bot = make_bot()
    incident = bot.incidents.open("U_ALICE", "p1", "Outage")
    bot.incidents.resolve(incident.number, "U_ALICE", "rolled back")
    clock.advance(hours=23)
    bot.tick()
    assert "postmortem" not in bot.notifier.kinds()
    clock.advance(hours=1)
    bot.tick()
    clock.advance(hours=24)
    bot.tick()
    assert bot.notifier.kinds().count("postmortem") == 2
    bot.incidents.postmortem_done(incident.number, "U_ALICE")
    clock.advance(hours=48)
    bot.tick()
    assert bot.notifier.kinds().count("postmortem") == 2


def test_timers_read_only_incidents_with_something_left_to_remind(make_bot, clock):
    bot = make_bot()
    oldest = bot.incidents.open("U_ALICE", "p2", "Disk full")
    bot.incidents.add_action_item(oldest.number, "U_ALICE", "alert on disk > 80%", "U_BOB", date(2026, 11, 21))
    for number in (oldest.number, *(bot.incidents.open("U_ALICE", "p3", f"Blip {n}").number for n in range(3))):
        bot.incidents.resolve(number, "U_ALICE", "fixed")
        bot.incidents.postmortem_done(number, "U_ALICE")
    still_open = bot.incidents.open("U_ALICE", "p3", "Slow page")
    assert [i.number for i in bot.store.incidents_with_timers()] == [oldest.number, still_open.number]

    # Rows migrated from before the flag start flagged; the first tick unflags those with nothing left.
    with bot.store._write() as db:
        db.execute("UPDATE incidents SET timers = 1")
    clock.advance(days=2)
    bot.tick()
    assert [i.number for i in bot.store.incidents_with_timers()] == [oldest.number, still_open.number]
    assert [r.incident for r, _ in bot.notifier.posts if r.kind == "action"] == [oldest.number]

    bot.incidents.complete_action_item(oldest.number, "U_BOB", 1)
    assert [i.number for i in bot.store.incidents_with_timers()] == [still_open.number]


def test_past_due_action_items_remind_their_owner_daily(make_bot, clock):
    bot = make_bot()
    incident = bot.incidents.open("U_ALICE", "p2", "Disk full")
    bot.incidents.add_action_item(incident.number, "U_ALICE", "alert on disk > 80%", "U_BOB", date(2026, 11, 21))
    bot.incidents.resolve(incident.number, "U_ALICE", "cleaned up")
    bot.incidents.postmortem_done(incident.number, "U_ALICE")
    clock.advance(days=1)  # 2026-11-21: due today, not past due
    bot.tick()
    assert "action" not in bot.notifier.kinds()
    clock.advance(days=1)
    bot.tick()
    bot.tick()
    actions = [r for r, _ in bot.notifier.posts if r.kind == "action"]
    assert len(actions) == 1 and actions[0].channel == "U_BOB" and "alert on disk > 80%" in actions[0].text
    clock.advance(days=1)
    bot.tick()
    assert bot.notifier.kinds().count("action") == 2
    bot.incidents.complete_action_item(incident.number, "U_BOB", 1)
    clock.advance(days=1)
    bot.tick()
    assert bot.notifier.kinds().count("action") == 2


def audit_something(bot, what: str = "health") -> None:
    """One audit record, as a read-only run makes."""
    from bot.core.requests import Actor

    actor = Actor(user="U_OPS", channel="C1", command=f"/ops {what}")
    bot.store.append_audit(bot.ops.audit_record(actor, "a-" + what, "dry_run", None, what, None, {}))


def test_the_audit_head_is_checkpointed_hourly(make_bot, clock):
    bot = make_bot()
    audit_something(bot)
    bot.tick()
    clock.advance(minutes=59)
    bot.tick()
    assert len(bot.checkpoints) == 1  # nothing new: nothing anchored until the hour
    clock.advance(minutes=1)
    bot.tick()
    assert len(bot.checkpoints) == 2
    assert bot.checkpoints[-1].at == clock() and bot.checkpoints[-1].head == bot.store.audit_head()


def test_every_new_record_is_anchored_within_a_minute_in_batches(make_bot, clock):
    bot = make_bot()
    audit_something(bot, "first")
    bot.tick()
    assert [c.head.seq for c in bot.checkpoints] == [1]
    for n in range(5):  # five records within ten seconds: one checkpoint for them all
        clock.advance(seconds=2)
        audit_something(bot, f"burst{n}")
        bot.tick()
    assert [c.head.seq for c in bot.checkpoints] == [1]
    clock.advance(seconds=25)
    bot.tick()
    assert [c.head.seq for c in bot.checkpoints] == [1, 6]
    clock.advance(seconds=40)
    bot.tick()
    assert len(bot.checkpoints) == 2  # nothing new since: nothing posted


def test_a_clean_shutdown_of_the_leader_anchors_the_last_records(store_url, clock, tmp_path):
    from bot.scheduler.leader import leader_lock_for
    from bot.scheduler.runner import SchedulerRunner

    bot = Bot(store_url, catalog(), clock)
    runner = SchedulerRunner(bot.engine, leader_lock_for(store_url), clock=clock)
    try:
        runner.tick()  # becomes the leader; the empty log has nothing to anchor
        assert runner.is_leader and bot.checkpoints == []
        audit_something(bot)
        runner.stop()
        assert [c.head for c in bot.checkpoints] == [bot.store.audit_head()]
    finally:
        bot.store.close()


def escalating(**p0) -> Catalog:
    return Catalog.model_validate({
        "scheduler": {"reminders": {}},
        "severities": {"P0": {"name": "Critical", "response": "15m", **p0},
                       "P1": {"name": "High", "response": "1h"}, "P2": {"name": "Medium", "response": "4h"},
                       "P3": {"name": "Low", "response": "next-business-day", "escalate_until": "resolved",
                              "escalation": ["U0ONCALL", {"who": "U0LEAD", "after": "1d"}]}}})


def test_level_one_is_paged_at_declaration_with_a_mention_and_a_dm(make_bot, clock):
    bot = make_bot(escalating(escalation=["U0ONCALL", "U0LEAD"]))
    incident = bot.incidents.open("U_ALICE", "p0", "Checkout down")
    bot.tick()
    bot.tick()
    (post,) = [r for r, _ in bot.notifier.posts if r.kind == "escalation"]
    (direct,) = [r for r, _ in bot.notifier.posts if r.kind == "escalation_dm"]
    assert "Paging <@U0ONCALL> (level 1 of 2)" in slack(post) and direct.channel == "U0ONCALL"
    assert "You are paged for *INC-1*" in slack(direct)
    assert [e.data["to"] for e in bot.incidents.timeline(incident.number) if e.kind is EventKind.ESCALATION] == [
        "U0ONCALL"]


def test_a_severity_escalating_until_resolved_keeps_paging_after_the_ack_and_stops_at_resolve(make_bot, clock):
    # The runbook: "escalate if not resolved in 5 min"; an immediate level is paged with level 1.
    bot = make_bot(escalating(escalate_until="resolved", escalation=[
        {"who": ["U0ONCALL", "S0SRE"]}, {"who": "U0LEAD", "after": "immediate"},
        {"who": "U0MANAGER", "after": "5m"}, {"who": "CTO", "after": "30m"}]))
    incident = bot.incidents.open("U_ALICE", "p0", "Checkout down")
    bot.tick()
    assert sorted(r.channel for r, _ in bot.notifier.posts if r.kind == "escalation_dm") == ["U0LEAD", "U0ONCALL"]
    bot.incidents.acknowledge(incident.number, "U0ONCALL")
    clock.advance(minutes=5)
    bot.tick()
    last = [r for r, _ in bot.notifier.posts if r.kind == "escalation"][-1]
    assert "is not resolved 5m after it was declared" in last.text and "<@U0MANAGER>" in slack(last)
    assert "Resolve with `/incident resolve INC-1 <what fixed it>`." in slack(last)  # the core's next step, in Slack's words
    bot.incidents.resolve(incident.number, "U0ONCALL", "rolled back")
    clock.advance(minutes=30)
    bot.tick()
    assert bot.notifier.kinds().count("escalation") == 3  # levels 1+2 at once, then 3; not the CTO


def test_escalation_levels_are_validated_with_their_path(tmp_path):
    from bot.config import load_catalog
    from bot.errors import ConfigError

    path = tmp_path / "opsbot.yml"
    path.write_text("severities:\n  P0: {name: Critical, response: 15m, escalate_until: fixed,\n"
                    "       escalation: [{who: [], after: 5m}, {who: U1, after: soon}]}\n")
    with pytest.raises(ConfigError) as raised:
        load_catalog(path)
    text = str(raised.value)
    assert "severities.P0.escalate_until" in text and "'soon' is not a duration" in text
    assert "a level needs at least one user" in text


def test_a_recurring_reminder_runs_its_action_posts_the_outcome_and_audits_it_as_the_scheduler(make_bot, clock):
    verify = [sys.executable, "-c", "print('backup 2026-11-21 verified; DB_PASSWORD=hunter2')"]
    broken = [sys.executable, "-c", "import sys; print('checksum mismatch'); sys.exit(3)"]
    cat = Catalog.model_validate({
        "environments": {"prod": {"protected": True, "approvals": 1, "runbook": {
            "verify_backup": {"argv": verify, "read_only": True},
            "rotate_logs": {"argv": broken, "scheduled": True}}}},
        "scheduler": {"channel": "ops", "reminders": {
            "backup": {"cron": "* * * * *", "title": "Backup check", "run": {"action": "verify_backup", "env": "prod"}},
            "logs": {"cron": "* * * * *", "title": "Log rotation", "channel": "C_LOGS",
                     "run": {"action": "rotate_logs", "env": "prod"}}}}})
    bot = make_bot(cat)
    bot.tick()
    clock.advance(minutes=1)
    bot.tick()
    posts = {reminder.title: reminder for reminder, _ in bot.notifier.posts}
    assert "✅ verify_backup in prod: succeeded\nbackup 2026-11-21 verified; DB_PASSWORD=***" in posts["Backup check"].text
    assert posts["Backup check"].channel == "ops" and "hunter2" not in posts["Backup check"].text
    assert "❌ rotate_logs in prod: failed — rotate_logs exited with status 3: checksum mismatch" in posts["Log rotation"].text
    assert posts["Log rotation"].channel == "C_LOGS"
    records = bot.store.audit_records()
    assert {r.user for r in records} == {"scheduler"}
    assert sorted((r.target, r.phase) for r in records) == [
        ("rotate_logs", "failed"), ("rotate_logs", "requested"), ("rotate_logs", "started"),
        ("verify_backup", "requested"), ("verify_backup", "started"), ("verify_backup", "succeeded")]
    bot.tick()  # nothing new is due: nothing runs twice
    assert len(bot.store.audit_records()) == 6


def test_delivery_keys_are_forgotten_after_a_week_not_before(make_bot, clock):
    from bot.timeparse import utcnow

    bot = make_bot()
    assert bot.store.remember_delivery("Ev-retried-within-minutes")
    clock.now = utcnow() + timedelta(days=6, hours=23)
    bot.tick()
    assert not bot.store.remember_delivery("Ev-retried-within-minutes")  # still a replay
    clock.advance(hours=2)  # past the week, and an hour after the last pass
    bot.tick()
    assert bot.store.remember_delivery("Ev-retried-within-minutes")  # forgotten, so the table stays small


def test_alert_delivery_keys_outlive_the_week_so_repeats_stay_duplicates(make_bot, clock):
    from bot.timeparse import utcnow

    bot = make_bot()
    assert bot.store.queue_alerts([("alert:repeated-notification", "{}")]) == [True]
    bot.store.drop_alert("alert:repeated-notification")  # applied
    clock.now = utcnow() + timedelta(days=30)
    bot.tick()
    assert bot.store.queue_alerts([("alert:repeated-notification", "{}")]) == [False]  # still a duplicate


def test_a_level_naming_a_schedule_pages_whoever_is_on_call_then_and_a_gap_pages_the_next_level(make_bot, clock):
    """clock: Friday 2026-11-20 09:00 UTC. `primary` has U01AAAA this week; `nights` has someone only at night, so
    at 09:15 its level finds nobody and the level after it is paged at once, saying so."""
    cat = Catalog.model_validate({
        "environments": {"prod": {}}, "scheduler": {"reminders": {}},
        "oncall": {"schedules": {
            "primary": {"time_zone": "Europe/Berlin", "layers": [
                {"name": "weekly", "users": ["U01AAAA", "U01BBBB"], "rotation": "weekly", "start": "2026-11-16T09:00"}]},
            "nights": {"time_zone": "Europe/Berlin", "layers": [
                {"name": "n", "users": ["U01NNNN"], "rotation": "daily", "start": "2026-11-16T00:00",
                 "restrict": ["mon-sun 22:00-06:00"]}]}}},
        "severities": {"P0": {"name": "Critical", "response": "15m",
                              "escalation": ["schedule:primary", "schedule:nights", "U0LEAD"]},
                       "P1": {"name": "High", "response": "1h"}, "P2": {"name": "Medium", "response": "4h"},
                       "P3": {"name": "Low", "response": "next-business-day"}}})
    bot = make_bot(cat)
    bot.incidents.open("U_ALICE", "p0", "Checkout down")
    bot.tick()
    (first,) = [r for r, _ in bot.notifier.posts if r.kind == "escalation"]
    assert "Paging @U01AAAA (level 1 of 3)" in first.text and "<@U01AAAA>" in slack(first)
    assert [r.channel for r, _ in bot.notifier.posts if r.kind == "escalation_dm"] == ["U01AAAA"]
    clock.advance(minutes=15)
    bot.tick()
    second = [r for r, _ in bot.notifier.posts if r.kind == "escalation"][-1]
    assert "Escalating to @U0LEAD (level 2 has nobody on call: the schedule has a gap, so level 3 is paged now)" \
        in second.text
    with pytest.raises(ValueError, match="names schedule 'secondary', which oncall.schedules does not have"):
        Catalog.model_validate({"severities": {"P1": {"name": "High", "response": "1h",
                                                      "escalation": ["schedule:secondary"]}}})


def test_the_handoff_brief_names_plans_awaiting_confirmation_and_alerts_still_firing(make_bot, clock):
    """A plan shown to its requester and not yet confirmed, and an incident whose alerts still fire, are in the
    incoming person's brief; a group that has resolved and a plan already run are not."""
    from bot.core.alerts import AlertService
    from bot.core.flows import IncidentFlows
    from tests.unit.test_alert_storms import deliver, payload

    cat = Catalog.model_validate({
        "environments": {"prod": {"protected": True,
                                  "runbook": {"backup": {"argv": [sys.executable, "-c", "print('ok')"]}}}},
        "roles": {"prod": {"operator": ["U_OPS"]}}, "scheduler": {"reminders": {}},
        "oncall": {"schedules": {"primary": {"channel": "C_OPS", "layers": [
            {"name": "short", "users": ["U01AAAA", "U01BBBB"], "rotation": "30m", "start": "2026-11-20T09:00"}]}}}})
    bot = make_bot(cat)
    alerts = AlertService(bot.store, cat, IncidentFlows(bot.incidents), clock=clock)
    deliver(alerts, payload("db", ["db-1", "db-2"], name="PostgresDown"))
    deliver(alerts, payload("cpu", ["web-1"], name="HighCPU"))
    deliver(alerts, payload("cpu", ["web-1"], name="HighCPU", status="resolved"))
    clock.advance(minutes=28)  # plans live 5 minutes: these are made just before the handoff
    requester = Actor(user="U_OPS", channel="C1", command="/ops run backup prod")
    waiting = bot.ops.request(requester, "prod", "run", "backup", {}).plan
    done = bot.ops.request(requester, "prod", "run", "backup", {}).plan
    bot.ops.confirm(requester, done.id)
    clock.advance(minutes=2)  # 09:30: U01AAAA hands over to U01BBBB
    bot.tick()
    (brief,) = [r for r, _ in bot.notifier.posts if r.kind == "handoff" and "@U01AAAA → @U01BBBB" in r.text]
    assert f"Plans awaiting confirmation or approval: 1\n• {waiting.id} {waiting.summary} (@U_OPS; not yet " \
           "confirmed, expires" in brief.text
    assert done.id not in brief.text
    db_incident = next(i for i in bot.store.list_incidents() if "PostgresDown" in i.title)
    assert f"Incidents with alerts still firing: 1\n• {db_incident.id}: PostgresDown × 2" in brief.text
    assert "HighCPU" not in brief.text


def test_the_hours_report_counts_the_pages_each_person_received_out_of_business_hours(make_bot, clock):
    """clock: Friday 2026-11-20 09:00 UTC (10:00 in Berlin). A P0 paged then is within business hours; one at
    22:30 Berlin and one on Saturday are not: the report names two out-of-hours pages for U01AAAA."""
    from bot.views.text import to_text
    from commands.base import Context
    from commands.router import Router

    cat = Catalog.model_validate({
        "environments": {"prod": {}}, "scheduler": {"reminders": {}},
        "oncall": {"schedules": {"primary": {"time_zone": "Europe/Berlin", "layers": [
            {"name": "weekly", "users": ["U01AAAA", "U01BBBB"], "rotation": "weekly", "start": "2026-11-16T09:00"}]}}},
        "severities": {"P0": {"name": "Critical", "response": "15m", "escalation": ["schedule:primary"]},
                       "P1": {"name": "High", "response": "1h"}, "P2": {"name": "Medium", "response": "4h"},
                       "P3": {"name": "Low", "response": "next-business-day"}}})
    bot = make_bot(cat)
    for step in (0, 12.5, 11.5):  # 10:00 Friday, 22:30 Friday, 10:00 Saturday (Berlin)
        clock.advance(hours=step)
        bot.incidents.open("U_ALICE", "p0", f"Checkout down {step}")
        bot.tick()
    assert [r.channel for r, _ in bot.notifier.posts if r.kind == "escalation_dm"] == ["U01AAAA"] * 3
    router = Router(build_services(bot.store, cat, clock=clock))
    shown = to_text(router.handle("/oncall", "report primary --month 2026-11", Context(user="U_OPS", source="console")))
    assert "@U01AAAA" in shown and "2 pages out of business hours" in shown
    assert "@U01BBBB" in shown and "0 pages out of business hours" in shown


def test_each_handoff_sends_one_brief_moves_the_group_and_gaps_are_warned_a_week_ahead(make_bot, clock):
    """Two replicas tick on one store: one brief per handoff to the channel and a DM to each person, the on-call
    group moved to the incoming person; a schedule with nights and weekends uncovered warns of its next gap once."""
    cat = Catalog.model_validate({
        "environments": {"prod": {}}, "scheduler": {"reminders": {}},
        "oncall": {"schedules": {
            "primary": {"channel": "C_OPS", "slack_group": "S0ONCALL", "layers": [
                {"name": "short", "users": ["U01AAAA", "U01BBBB"], "rotation": "30m", "start": "2026-11-20T09:00"}]},
            "days": {"channel": "C_OPS", "layers": [
                {"name": "office", "users": ["U01CCCC"], "rotation": "daily", "start": "2026-11-16T09:00",
                 "restrict": ["mon-fri 09:00-17:00"]}]}}}})
    first, second = make_bot(cat), make_bot(cat)
    first.incidents.open("U_ALICE", "p1", "Checkout down")
    for bot in (first, second):
        bot.tick()
    def primary() -> list:
        return [r for bot in (first, second) for r, _ in bot.notifier.posts
                if r.kind.startswith("handoff") and "(primary)" in r.text]

    posts = primary()
    assert [(r.kind, r.channel) for r in posts] == [("handoff", "C_OPS"), ("handoff_dm", "U01AAAA")]
    assert "On-call handoff (primary): @U01AAAA, until 2026-11-20 09:30 UTC" in posts[0].text
    assert "Open incidents: 1\n• INC-1 P1 declared, commander @U_ALICE" in posts[0].text
    clock.advance(minutes=30)
    for bot in (second, first):
        bot.tick()
    posts = primary()[2:]
    assert sorted((r.kind, r.channel) for r in posts) == [("handoff", "C_OPS"), ("handoff_dm", "U01AAAA"),
                                                          ("handoff_dm", "U01BBBB")]
    assert "@U01AAAA → @U01BBBB" in posts[0].text
    groups = first.notifier.groups + second.notifier.groups
    assert groups[-1] == ("S0ONCALL", ["U01BBBB"]) and len([g for g in groups if g[1] == ["U01BBBB"]]) == 1
    gaps = [r for bot in (first, second) for r, _ in bot.notifier.posts if r.kind == "oncall_gap"]
    assert gaps and all("Nobody is on call for days from" in r.text for r in gaps)
    assert len({r.key for r in gaps}) == len(gaps)  # each gap warned once, whichever replica
