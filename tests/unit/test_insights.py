"""bot/core/insights.py over a real store, and the two store reads behind the web view at size
(`incidents_where`, `event_times`): counts per month by severity and service, p50/p90 against the catalog's targets
and the share within them, the status-update cadence kept, privacy, and the list's filters in SQL.
Both stores: tests/contract/test_on_postgres_insights.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Catalog
from bot.core.insights import insights, month_start
from bot.core.models import Event, EventKind, Incident, Status
from bot.core.privacy import Viewer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CATALOG = Catalog.model_validate({"environments": {"prod": {"services": {"api": {}, "web": {}}}}})


def add(store, title: str, severity: str, declared: datetime, ack_min: int | None = None,
        resolve_h: float | None = None, service: str = "api", private: bool = False,
        updates: tuple[int, ...] = ()) -> Incident:
    incident = Incident(title=title, severity=severity, opened_by="U0OPENER", service=service, env="prod",
                        declared_at=declared, private=private,
                        status=Status.RESOLVED if resolve_h is not None else Status.DECLARED,
                        acknowledged_at=declared + timedelta(minutes=ack_min) if ack_min is not None else None,
                        resolved_at=declared + timedelta(hours=resolve_h) if resolve_h is not None else None)
    events = [Event(at=declared, actor="U0OPENER", kind=EventKind.DECLARED, text="declared"),
              *(Event(at=declared + timedelta(minutes=m), actor="U0OPENER", kind=EventKind.UPDATE, text=f"u{m}")
                for m in updates)]
    return store.create_incident(incident, events)


def test_month_start_counts_back_whole_months_across_a_year():
    assert month_start(NOW, 0) == datetime(2026, 11, 1, tzinfo=UTC)
    assert month_start(NOW, 11) == datetime(2025, 12, 1, tzinfo=UTC)
    assert month_start(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 1, tzinfo=UTC)


def test_counts_percentiles_targets_and_cadence(store):
    october = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    # P1: acknowledge within 1h, resolve within 4h. Acks 10, 20, 30, 90 min; resolutions 1, 2, 3, 6 h.
    for n, (ack, res) in enumerate([(10, 1), (20, 2), (30, 3), (90, 6)]):
        add(store, f"p1 {n}", "P1", october + timedelta(days=n), ack, res, service="api" if n < 3 else "web",
            updates=(30, 60) if n == 0 else ())
    add(store, "november p2", "P2", datetime(2026, 11, 2, tzinfo=UTC), 5, 1, service="web")
    add(store, "too old", "P1", datetime(2026, 1, 2, tzinfo=UTC), 5, 1)
    add(store, "secret", "P1", datetime(2026, 11, 3, tzinfo=UTC), 1, 1, private=True)
    found = insights(store, CATALOG, Viewer(user="U0SOMEONE"), NOW, months=2)
    assert found.since == datetime(2026, 10, 1, tzinfo=UTC)
    assert found.months == ["2026-10", "2026-11"]
    assert dict(found.by_severity["2026-10"]) == {"P1": 4} and dict(found.by_severity["2026-11"]) == {"P2": 1}
    assert dict(found.by_service["2026-10"]) == {"api": 3, "web": 1}
    p1 = found.mtta["P1"]
    # Nearest rank: p50 of 10, 20, 30, 90 is 20 (half of them within it), not 30 (three quarters).
    assert (p1.count, p1.p50, p1.p90, p1.target) == (4, timedelta(minutes=20), timedelta(minutes=90),
                                                     timedelta(hours=1))
    assert p1.within == 0.75  # 90 minutes missed the hour
    r1 = found.mttr["P1"]
    assert (r1.p50, r1.p90, r1.target, r1.within) == (timedelta(hours=2), timedelta(hours=6), timedelta(hours=4), 0.75)
    assert found.mttm["P1"].count == 0 and found.mttr["P2"].target is None and found.mttr["P2"].within is None
    # The first P1 (1 h open, updates at 30 and 60 min) kept its 30-minute cadence; the others had no update:
    # 3 h open with none is 2.5 h over, 1.0 - 2.5/3; the P2 (1 h, none) is half over.
    kept = [1.0, 1 - 1.5 / 2, 1 - 2.5 / 3, 1 - 5.5 / 6, 0.5]
    assert found.updates_kept is not None and abs(found.updates_kept - sum(kept) / 5) < 1e-9


def test_percentiles_are_nearest_rank_the_share_of_incidents_within_them():
    from bot.core.insights import _percentiles

    minutes = [timedelta(minutes=m) for m in range(1, 11)]  # 1..10
    found = _percentiles(list(reversed(minutes)), timedelta(minutes=5))
    assert (found.p50, found.p90, found.within) == (timedelta(minutes=5), timedelta(minutes=9), 0.5)
    two = _percentiles([timedelta(minutes=40), timedelta(minutes=10)], None)
    assert (two.p50, two.p90) == (timedelta(minutes=10), timedelta(minutes=40))
    one = _percentiles([timedelta(minutes=7)], None)
    assert (one.count, one.p50, one.p90) == (1, timedelta(minutes=7), timedelta(minutes=7))


def test_every_month_of_the_range_is_shown_a_quiet_one_as_zero(store):
    add(store, "august", "P2", datetime(2026, 8, 10, tzinfo=UTC), 5, 1)
    add(store, "november", "P2", datetime(2026, 11, 10, tzinfo=UTC), 5, 1)
    found = insights(store, CATALOG, Viewer(user="U0SOMEONE"), NOW, months=4)
    assert found.months == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert set(found.by_severity) == {"2026-08", "2026-11"}
    across = insights(store, CATALOG, Viewer(user="U0SOMEONE"), datetime(2027, 1, 3, tzinfo=UTC), months=3)
    assert across.months == ["2026-11", "2026-12", "2027-01"]


def test_a_private_incident_counts_only_for_those_who_may_see_it(store):
    add(store, "secret", "P1", datetime(2026, 11, 3, tzinfo=UTC), 1, 1, private=True)
    assert insights(store, CATALOG, Viewer(user="U0SOMEONE"), NOW, 1).by_severity == {}
    assert insights(store, CATALOG, Viewer(user="U0OPENER"), NOW, 1).by_severity == {"2026-11": {"P1": 1}}
    assert insights(store, CATALOG, Viewer(user="U0ADMIN", admin=True), NOW, 1).mtta["P1"].count == 1


def test_incidents_where_filters_in_the_store_newest_first_in_batches(store):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(7):
        add(store, f"i{n}", ("P1", "P2")[n % 2], base + timedelta(days=n), 5, 1 if n < 5 else None,
            service=("api", "web")[n % 2])
    assert [i.title for i in store.incidents_where(batch=3)] == [f"i{n}" for n in range(6, -1, -1)]
    assert [i.title for i in store.incidents_where(severity="P2", service="web", batch=2)] == ["i5", "i3", "i1"]
    assert [i.title for i in store.incidents_where(statuses=(Status.DECLARED,))] == ["i6", "i5"]
    assert [i.title for i in store.incidents_where(since=base + timedelta(days=2), until=base + timedelta(days=4))] \
        == ["i3", "i2"]
    assert list(store.incidents_where(env="staging")) == []
    first = next(iter(store.incidents_where()))
    assert first.version == store.get_incident(first.number).version >= 1


def test_event_times_reads_one_kind_since_a_moment(store):
    day = datetime(2026, 11, 1, tzinfo=UTC)
    one = add(store, "a", "P1", day, updates=(10, 20))
    two = add(store, "b", "P1", day + timedelta(days=1), updates=(5,))
    found = store.event_times("update", day + timedelta(minutes=15))
    assert found == {one.number: [day + timedelta(minutes=20)], two.number: [day + timedelta(days=1, minutes=5)]}


def test_timeline_part_reads_kinds_and_pages_in_order(store):
    day = datetime(2026, 11, 1, tzinfo=UTC)
    incident = add(store, "a", "P1", day, updates=(10, 20, 30))
    store.append_events(incident.number, [Event(at=day + timedelta(minutes=40 + n), actor="U0X", kind=EventKind.NOTE,
                                                text=f"n{n}") for n in range(5)])
    whole = store.timeline(incident.number)
    assert store.timeline_length(incident.number) == len(whole) == 9
    assert store.timeline_part(incident.number, offset=2, limit=3) == whole[2:5]
    assert [e.text for e in store.timeline_part(incident.number, kinds=("update",))] == ["u10", "u20", "u30"]
    assert store.timeline_part(incident.number, offset=20, limit=5) == []


def test_cached_insights_are_recomputed_when_the_store_changes_and_kept_per_viewer(store):
    from bot.core.insights import CachedInsights

    cache = CachedInsights(store, CATALOG, size=2)
    add(store, "a", "P1", datetime(2026, 11, 3, tzinfo=UTC), 5, 1)
    someone, admin = Viewer(user="U0SOMEONE"), Viewer(user="U0ADMIN", admin=True)
    first = cache.get(someone, NOW, 3)
    assert cache.get(someone, NOW, 3) is first and cache.get(admin, NOW, 3) is not first
    incident = add(store, "b", "P2", datetime(2026, 11, 4, tzinfo=UTC), 5, 1)
    second = cache.get(someone, NOW, 3)
    assert second is not first and dict(second.by_severity["2026-11"]) == {"P1": 1, "P2": 1}
    store.save_incident(incident.model_copy(update={"private": True}), [])  # no event: the version still moves
    assert dict(cache.get(someone, NOW, 3).by_severity["2026-11"]) == {"P1": 1}
    later = cache.get(someone, NOW + timedelta(minutes=1), 3)  # an open incident's cadence runs to now
    assert later is not cache.get(someone, NOW + timedelta(minutes=2), 3)


def test_audit_newest_reads_back_from_the_newest_in_batches(store):
    from bot.core.audit import AuditRecord

    start = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(7):
        store.append_audit(AuditRecord(at=start + timedelta(hours=n), attempt=f"a{n}", phase="succeeded",
                                       user="U0X", env="prod", action=f"act{n}"))
    assert [r.action for r in store.audit_newest(batch=3)] == [f"act{n}" for n in range(6, -1, -1)]
    assert [r.action for r in store.audit_newest(since=start + timedelta(hours=2), until=start + timedelta(hours=4),
                                                 batch=1)] == ["act3", "act2"]
    assert [r.seq for r in store.audit_newest(seq=2)] == [2] and list(store.audit_newest(seq=99)) == []


def test_incident_times_and_audit_outcomes_are_read_by_the_database(store):
    from bot.core.audit import AuditRecord

    day = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    one = add(store, "a", "P1", day, 4, 2.5, service="web")
    add(store, "b", "P2", day + timedelta(days=1), private=True)
    add(store, "old", "P1", day - timedelta(days=40))
    times = store.incident_times(day)
    assert [(t.number, t.severity, t.service, t.private) for t in times] == [(one.number, "P1", "web", False),
                                                                             (one.number + 1, "P2", "api", True)]
    assert (times[0].declared_at, times[0].acknowledged_at, times[0].resolved_at, times[0].mitigated_at) == (
        day, day + timedelta(minutes=4), day + timedelta(hours=2.5), None)
    for n, (phase, env) in enumerate([("succeeded", "prod"), ("failed", "prod"), ("succeeded", "prod"),
                                      ("succeeded", None), ("requested", "prod")]):
        store.append_audit(AuditRecord(at=day + timedelta(minutes=n), attempt=f"x{n}", phase=phase, user="U0X",
                                       env=env, action="restart"))
    store.append_audit(AuditRecord(at=day - timedelta(days=1), attempt="early", phase="failed", user="U0X",
                                   env="prod", action="restart"))
    assert store.audit_outcomes(day) == {"succeeded": 2, "failed": 1, "requested": 1}
    store.append_audit(AuditRecord(at=day, attempt="s1", phase="failed", user="U0X", env="staging", action="restart"))
    assert store.audit_outcomes(day, {"prod"}) == {"succeeded": 2, "failed": 1, "requested": 1}
    assert store.audit_outcomes(day, {"staging", "dev"}) == {"failed": 1}
    assert store.audit_outcomes(day, set()) == {} and store.audit_outcomes(day)["failed"] == 2


def test_ops_actions_are_counted_for_the_environments_the_viewer_works_in(store):
    """The audit log is for admins; insights count ops actions only in the environments a person holds a role in
    (all of them for admins), so a protected environment's activity is not shown to everyone."""
    from bot.app import build_services
    from bot.core.audit import AuditRecord
    from bot.core.web_read import WebRead

    catalog = Catalog.model_validate({
        "environments": {"prod": {"protected": True}, "staging": {}},
        "roles": {"prod": {"operator": ["U0OPS"]}, "*": {"admin": ["U0ADMIN"]}}})
    services = build_services(store, catalog)
    for env, phase in (("prod", "failed"), ("prod", "failed"), ("staging", "succeeded")):
        store.append_audit(AuditRecord(at=NOW - timedelta(days=1), attempt=f"{env}{phase}", phase=phase, user="U0OPS",
                                       env=env, action="restart"))
    read = WebRead(store, catalog, services.ops, services.incidents.clock)
    scope = {user: read.action_scope(user) for user in ("U0OPS", "U0ADMIN", "U0SOMEONE")}
    assert scope == {"U0OPS": {"prod", "staging"}, "U0ADMIN": None, "U0SOMEONE": {"staging"}}
    counted = {user: dict(insights(store, catalog, read.viewer(user), NOW, 2, envs).actions)
               for user, envs in scope.items()}
    assert counted["U0OPS"] == counted["U0ADMIN"] == {"failed": 2, "succeeded": 1}
    assert counted["U0SOMEONE"] == {"succeeded": 1}
