"""One contract suite, run against SQLite and a real PostgreSQL server."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from bot.core.models import Event, EventKind, Incident, Status
from bot.core.ports import StaleWrite
from bot.errors import NotFound
from bot.store import open_store

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def new_incident(title: str = "Payment API returns 502", channel: str | None = None) -> Incident:
    return Incident(title=title, severity="P1", opened_by="U_ALICE", roles={"commander": "U_ALICE"},
                    declared_at=T0, channel=channel)


def event(text: str, kind: EventKind = EventKind.NOTE) -> Event:
    return Event(at=T0, actor="U_ALICE", kind=kind, text=text)


def test_created_incidents_are_numbered_from_one(store):
    first = store.create_incident(new_incident(), [event("declared", EventKind.DECLARED)])
    second = store.create_incident(new_incident("Second"), [])
    assert (first.number, second.number) == (1, 2)
    assert store.get_incident(1).title == "Payment API returns 502"


def test_incident_round_trips_every_field(store):
    created = store.create_incident(new_incident(channel="inc-1-payment"), [])
    loaded = store.get_incident(created.number)
    assert loaded.model_dump() == created.model_dump()
    assert loaded.declared_at == T0 and loaded.declared_at.tzinfo is not None


def test_unknown_incident_is_not_found(store):
    with pytest.raises(NotFound, match="INC-42"):
        store.get_incident(42)


def test_save_bumps_version_and_appends_events(store):
    incident = store.create_incident(new_incident(), [event("declared", EventKind.DECLARED)])
    incident.status = Status.ACKNOWLEDGED
    saved = store.save_incident(incident, [event("Acknowledged", EventKind.STATUS)])
    assert saved.version == incident.version + 1
    assert store.get_incident(incident.number).status is Status.ACKNOWLEDGED
    assert [e.text for e in store.timeline(incident.number)] == ["declared", "Acknowledged"]


def test_save_of_a_stale_copy_is_refused_and_stores_nothing(store):
    incident = store.create_incident(new_incident(), [])
    store.save_incident(incident, [event("first writer")])
    with pytest.raises(StaleWrite):
        store.save_incident(incident, [event("second writer")])
    assert [e.text for e in store.timeline(incident.number)] == ["first writer"]


def test_failure_mid_way_leaves_no_partial_record(store):
    broken = event("fine")
    broken.data = {"not json": object()}  # json.dumps fails after the incident row is written
    with pytest.raises(TypeError):
        store.create_incident(new_incident(), [event("ok"), broken])
    assert store.list_incidents(include_closed=True) == []
    # The number was not consumed either: the next incident is INC-1.
    assert store.create_incident(new_incident(), []).number == 1


def test_list_shows_open_incidents_newest_first(store):
    for title in ("one", "two", "three"):
        store.create_incident(new_incident(title), [])
    closed = store.get_incident(2)
    closed.status = Status.CLOSED
    store.save_incident(closed, [])
    assert [i.title for i in store.list_incidents()] == ["three", "one"]
    assert [i.title for i in store.list_incidents(include_closed=True)] == ["three", "two", "one"]


def test_incident_for_channel(store):
    store.create_incident(new_incident("a", channel="inc-1-a"), [])
    assert store.incident_for_channel("inc-1-a").title == "a"
    assert store.incident_for_channel("general") is None


def test_timeline_is_append_only_in_the_database(store):
    incident = store.create_incident(new_incident(), [event("declared")])
    with pytest.raises(Exception, match="append-only"), store._write() as db:
        db.execute("UPDATE events SET text = 'edited' WHERE incident = ?", (incident.number,))
    with pytest.raises(Exception, match="append-only"), store._write() as db:
        db.execute("DELETE FROM events WHERE incident = ?", (incident.number,))
    assert [e.text for e in store.timeline(incident.number)] == ["declared"]


def test_concurrent_opens_from_threads_never_share_a_number(store):
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: store.create_incident(new_incident(f"t{i}"), []).number, range(40)))
    assert sorted(numbers) == list(range(1, 41))


def _open_many(url: str, count: int, queue) -> None:
    store = open_store(url)
    numbers = [store.create_incident(new_incident("from a process"), []).number for _ in range(count)]
    store.close()
    queue.put(numbers)


def test_concurrent_opens_from_processes_never_share_a_number(store, store_url):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_open_many, args=(store_url, 15, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    numbers = [n for _ in workers for n in queue.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sorted(numbers) == list(range(1, 46))


def test_migrate_twice_is_harmless(store):
    store.create_incident(new_incident(), [])
    store.migrate()
    assert store.get_incident(1).title == "Payment API returns 502"


def test_a_delivery_key_is_new_only_once_even_across_store_instances(store, store_url):
    assert store.remember_delivery("Ev123") is True
    assert store.remember_delivery("Ev123") is False
    other = open_store(store_url)
    try:
        assert other.remember_delivery("Ev123") is False
        assert other.remember_delivery("Ev456") is True
    finally:
        other.close()


def audit(user="U_ALICE", phase="requested", attempt="a1"):
    from bot.core.audit import AuditRecord

    return AuditRecord(at=T0, attempt=attempt, phase=phase, user=user, command="/ops restart api prod",
                       env="prod", action="restart", target="api")


def test_audit_records_are_numbered_and_chained(store):
    from bot.core.audit import GENESIS, verify

    first = store.append_audit(audit())
    second = store.append_audit(audit(phase="started"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert verify(store.audit_records()) is None


def test_concurrent_audit_appends_keep_one_chain(store):
    from bot.core.audit import verify

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: store.append_audit(audit(attempt=f"a{i}")), range(30)))
    records = store.audit_records()
    assert [r.seq for r in records] == list(range(1, 31))
    assert verify(records) is None


def test_plan_update_is_conditional(store):
    from datetime import timedelta

    from bot.core.plans import Plan

    plan = Plan(id="p-abc123", attempt="a1", created_at=T0, expires_at=T0 + timedelta(minutes=5), user="U_ALICE",
                command="/ops scale api prod 5", env="prod", action="scale", target="api", args={"replicas": 5},
                summary="scale api in prod: 3 → 5 replicas", digest="d")
    store.save_plan(plan)
    # Two approvers read the same plan: the second write would drop the first approval, so it is refused.
    by_bob = plan.model_copy(update={"approvals": ["U_BOB"]})
    by_carol = plan.model_copy(update={"approvals": ["U_CAROL"]})
    assert store.update_plan(by_bob, plan) is True
    assert store.update_plan(by_carol, plan) is False
    assert store.get_plan("p-abc123").approvals == ["U_BOB"]
    executed = by_bob.model_copy(update={"status": "executed"})
    assert store.update_plan(executed, by_bob) is True
    assert store.update_plan(executed, by_bob) is False  # run once, however many confirm at once
    assert store.get_plan("p-abc123").status == "executed"
    unknown = plan.model_copy(update={"id": "p-nope"})
    assert store.update_plan(unknown, unknown) is False


def run_sql(store, sql: str, params: tuple = ()) -> None:
    """Writes as an older opsbot (or a person at the database) would, bypassing the store's API."""
    if store.url.startswith("sqlite"):
        import sqlite3

        from bot.store.sqlite import sqlite_path

        with sqlite3.connect(sqlite_path(store.url)) as conn:
            conn.execute(sql, params)
    else:
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)


def test_rows_written_with_slack_markup_are_read_as_neutral_text(store):
    """Timelines and reminders stored before the store held neutral text keep working."""
    from datetime import timedelta

    from bot.core.reminders import Reminder

    store.create_incident(new_incident(), [event("<@U_BOB|bob> is scribe (was <@U_ALICE>)", EventKind.ROLE)])
    run_sql(store, "UPDATE counters SET value = 1000 WHERE name = 'neutral_events_from'")  # written before
    assert store.timeline(1)[0].text == "@U_BOB is scribe (was @U_ALICE)"
    legacy = Reminder(key="inc:1:escalate:1", kind="escalation", due_at=T0 - timedelta(minutes=1), channel="C1",
                      text="🚨 *INC-1* escalating to <!subteam^S0LEADS> in <#C9|inc-1>")
    store.add_reminder(legacy)
    run_sql(store, "UPDATE reminders SET doc = ? WHERE key = ?",
            (legacy.model_dump_json(exclude={"mentions"}), legacy.key))
    (read,) = store.due_reminders(T0)
    assert read.text == "🚨 INC-1 escalating to @S0LEADS in #C9"
    assert set(read.mentions) == {"S0LEADS", "C9"}


def test_text_written_now_is_read_back_exactly_even_when_it_looks_like_markup(store):
    note = "ran rm /tmp/* *.log and *primary* failed; see <https://x.io|runbook> & <#C1>"
    store.create_incident(new_incident(), [event(note)])
    assert store.timeline(1)[0].text == note


def test_platform_memory_keeps_the_latest_document_per_key(store):
    assert store.recall("docker/h/p/api") is None
    store.remember("docker/h/p/api", {"spec": {"Image": "app:1"}, "previous": {"app:1": "app:2"}})
    store.remember("docker/h/p/api", {"spec": {"Image": "app:2"}})
    store.remember("docker/h/p/worker", {"spec": None})
    assert store.recall("docker/h/p/api") == {"spec": {"Image": "app:2"}}
    assert store.recall("docker/h/p/worker") == {"spec": None}


def test_open_incidents_are_counted_by_severity_for_the_metrics(store, clock):
    from bot.config import Catalog
    from bot.core.incidents import IncidentService

    service = IncidentService(store, Catalog(), clock=clock)
    for severity in ("p0", "p1", "p1", "p2"):
        service.open("U_ALICE", severity, "Something")
    service.resolve(4, "U_ALICE", "fixed")
    service.open("U_HR", "p0", "Staff matter", private=True)  # exists only for its participants: not in a scrape
    assert store.open_by_severity() == {"P0": 1, "P1": 2}


def test_a_timeline_larger_than_one_statement_is_stored_whole_and_in_order(store):
    # An import brings a whole timeline at once; events go a few hundred rows a statement.
    created = store.create_incident(new_incident(), [event(f"note {n}") for n in range(1234)])
    store.append_events(created.number, [event(f"more {n}", EventKind.STATUS) for n in range(3)])
    texts = [e.text for e in store.timeline(created.number)]
    assert texts == [f"note {n}" for n in range(1234)] + [f"more {n}" for n in range(3)]
    assert store.timeline(created.number)[-1].kind == EventKind.STATUS
