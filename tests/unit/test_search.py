"""Searching past incidents: the index follows every change in its own transaction, the migration and `reindex`
build it from the records, a private incident is found only by its participants and admins, and whatever is
typed is a search or a clear message — never an error. (Run on PostgreSQL by tests/contract/test_on_postgres_search.py.)
"""
from __future__ import annotations

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.audit import AuditRecord
from bot.core.models import Event, EventKind
from bot.core.search import NOBODY, SearchRequest
from bot.core.search_text import MAX_QUERY, parse_query, similarity_match
from bot.errors import UsageError
from bot.store import open_store, sql_search
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

CATALOG = {"roles": {"*": {"admin": ["U_ROOT"]}}, "environments": {"prod": {}}}
ALICE = Context(user="U_ALICE", channel="C_ONE", source="console")


@pytest.fixture
def services(store, clock):
    return build_services(store, Catalog.model_validate(CATALOG), clock=clock)


@pytest.fixture
def router(services):
    return Router(services)


def run(router: Router, text: str, ctx: Context = ALICE) -> str:
    answer = router.handle("/incident", text, ctx)
    assert answer.ok, answer.text
    return to_text(answer)


def found(services, text: str, user: str = "U_ALICE", include_open: bool = True) -> list[str]:
    viewer = services.incidents.viewer(user, None)
    return [f.incident.id for f in services.search.search(SearchRequest(text, include_open=include_open), viewer)]


def test_each_change_is_searchable_once_committed(router, services, store, clock):
    run(router, "open p1 Checkout API returns 502 --service api --impact payments failing")
    assert found(services, "checkout") == ["INC-1"]
    assert found(services, "checkout", include_open=False) == []  # by default: resolved and closed only
    for command, word in [("note INC-1 pgbouncer pool saturated", "pgbouncer"),
                          ("update INC-1 raising max_connections on the primary", "primary"),
                          ('action INC-1 add "alert on pool usage above 80%"', "usage"),
                          ("impact INC-1 every card payment times out", "card")]:
        run(router, command)
        assert found(services, word) == ["INC-1"], command
    run(router, "resolve INC-1 restarted pgbouncer with a larger pool")
    assert found(services, "larger", include_open=False) == ["INC-1"]
    run(router, "postmortem INC-1 done")
    # an ops action's name, recorded on the timeline with its audit record
    record = AuditRecord(at=clock(), attempt="a1", phase="succeeded", user="U_ALICE", command="ops restart",
                         action="restart", target="api", env="prod")
    store.append_audit(record, (1, Event(at=clock(), actor="U_ALICE", kind=EventKind.OPS,
                                         text="restart api in prod: succeeded", data={"action": "flushcache"})))
    assert found(services, "flushcache") == ["INC-1"]


def test_an_alerts_title_and_labels_are_searched(services, store, clock):
    from bot.core.alerts import AlertService  # noqa: F401  (alerts write through the same store path)

    incident, events = services.incidents.declaration("alertmanager", "P2", "KubePodCrashLooping", service="worker")
    stored = store.create_incident(incident, events)
    store.append_events(stored.number, [Event(at=clock(), actor="alertmanager", kind=EventKind.ALERT,
                                              text="Alert firing: KubePodCrashLooping",
                                              data={"labels": {"namespace": "eventchain", "pod": "ingest-7f"}})])
    assert found(services, "eventchain") == [stored.id]
    assert found(services, "kubepodcrashlooping") == [stored.id]


def test_secrets_never_reach_the_index(router, services):
    run(router, "open p2 Login broken --impact token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked")
    assert found(services, "ghp_abcdefghijklmnopqrstuvwxyz0123456789") == []
    assert found(services, "login") == ["INC-1"]


def test_filters_narrow_by_service_env_severity_and_time(router, services, clock):
    run(router, "open p1 Disk full on db host --service db --env prod")
    run(router, "resolve INC-1 pruned WAL archive")
    clock.advance(days=100)
    run(router, "open p3 Disk full on build runner --service ci")
    run(router, "resolve INC-2 cleared docker images")
    viewer = services.incidents.viewer("U_ALICE", None)

    def ids(**options) -> list[str]:
        return [f.incident.id for f in services.search.search(SearchRequest("disk full", **options), viewer)]

    assert sorted(ids()) == ["INC-1", "INC-2"]
    assert ids(service="db") == ["INC-1"]
    assert ids(env="prod") == ["INC-1"]
    assert ids(severity="p3") == ["INC-2"]
    from datetime import timedelta
    assert ids(since=timedelta(days=30)) == ["INC-2"]
    with pytest.raises(UsageError, match="Unknown environment"):
        ids(env="mars")
    with pytest.raises(UsageError, match="severit"):
        ids(severity="p9")


def test_phrases_and_exclusions(router, services):
    run(router, "open p2 Connection pool exhausted on api")
    run(router, "open p2 Pool of workers exhausted, connection lost")
    assert found(services, '"connection pool"') == ["INC-1"]
    assert found(services, "pool exhausted -workers") == ["INC-1"]
    assert sorted(found(services, "pool exhausted")) == ["INC-1", "INC-2"]
    assert found(services, "pools exhausting") != []  # stemmed on both backends


@pytest.mark.parametrize("text", ["NEAR(pool exhausted)", "pool AND exhausted", "pool OR x", "pool*", "^pool",
                                  "title:pool", 'pool "exhausted', '"pool', "pool -", "pool - -", "pool NOT x",
                                  "(pool", "pool)", "pool & ! |", "pool <-> x", "pool ' x", 'p"o"ol', "pool\\",
                                  "pool %s %% ?", "pool; DROP TABLE incidents; --", "NEAR/3 pool", "pool:*"])
def test_operators_and_stray_punctuation_are_plain_words(router, services, text):
    run(router, "open p2 Connection pool exhausted")
    ids = found(services, text)
    assert ids in ([], ["INC-1"])
    assert run(router, f"search {text} --all")


@pytest.mark.parametrize("text,message", [
    ("", "Say what to search for"), ("   ", "Say what to search for"), ("-", "nothing to search for"),
    ('"', "nothing to search for"), ("***", "nothing to search for"), ("-pool", "not only words to leave out"),
    ("x" * 10_000, "10,000 characters long; the limit is 500"), (" ".join(f"w{i}" for i in range(40)), "more than 32 words"),
])
def test_bad_input_is_a_clear_message(router, services, text, message):
    with pytest.raises(UsageError, match=message):
        parse_query(text)
    answer = router.handle("/incident", f"search {text}", ALICE)
    assert not answer.ok and "Something went wrong" not in answer.text
    assert len(text) < MAX_QUERY or "limit is 500" in answer.text


def test_the_query_text_is_never_logged(router, caplog):
    caplog.set_level("DEBUG")
    router.handle("/incident", "search secretive needle words", ALICE)
    router.handle("/incident", "search " + "y" * 600, ALICE)
    assert "needle" not in caplog.text and "y" * 50 not in caplog.text


def test_a_failing_search_logs_the_command_and_its_size_not_its_text(router, services, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services.search, "search", broken)
    caplog.set_level("DEBUG")
    answer = router.handle("/incident", "search secretive needle words --since 1y", ALICE)
    assert not answer.ok and "Something went wrong (ref" in answer.text
    assert "needle" not in caplog.text and "secretive" not in caplog.text
    assert "/incident search (5 words)" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_a_private_incident_is_found_only_by_participants_and_admins(router, services):
    run(router, "open p1 Card data exposed --private")
    run(router, "resolve INC-1 rotated keys")
    run(router, "open p1 Card reader offline")
    run(router, "resolve INC-2 replaced reader")
    assert sorted(found(services, "card", "U_ALICE")) == ["INC-1", "INC-2"]
    assert sorted(found(services, "card", "U_ROOT")) == ["INC-1", "INC-2"]
    assert found(services, "card", "U_EVE") == ["INC-2"]
    assert "INC-1" not in run(router, "search card", Context(user="U_EVE", channel="C_X", source="slack"))
    # similar lists, in a channel or a draft, never name it
    run(router, "open p1 Card data exposed again")
    new = services.incidents.get(3)
    assert [s.incident.id for s in services.search.similar(new, NOBODY)] == []
    assert [s.incident.id for s in services.search.similar(new, services.incidents.viewer("U_ALICE", None))] == [
        "INC-1"]


def test_search_lines_start_with_the_id_and_say_how_it_was_resolved(router):
    run(router, "open p1 Certificate expired on api.example.com --service api")
    run(router, "resolve INC-1 renewed with certbot and reloaded nginx")
    run(router, "postmortem INC-1 done")
    shown = run(router, "search certificate expired")
    item = next(line for line in shown.splitlines() if "INC-1" in line)
    assert item.lstrip("•- ").startswith("INC-1 P1")
    for part in ("resolved", "renewed with certbot", "post-mortem", "inc-1-certificate-expired", "→"):
        assert part in item, part
    assert "No resolved or closed incidents match" in run(router, "search kangaroo")


def test_similar_names_the_fix_the_ops_actions_and_open_action_items(router, services, store, clock):
    run(router, "open p1 Postgres connection pool exhausted --service api")
    run(router, 'action INC-1 add "alert on pool saturation"')
    record = AuditRecord(at=clock(), attempt="a1", phase="succeeded", user="U_ALICE", command="ops restart",
                         action="restart", target="pgbouncer", env="prod")
    store.append_audit(record, (1, Event(at=clock(), actor="U_ALICE", kind=EventKind.OPS,
                                         text="restart pgbouncer in prod: succeeded",
                                         data={"action": "restart", "outcome": "succeeded"})))
    run(router, "resolve INC-1 raised the pool size")
    clock.advance(days=3)
    run(router, "open p1 API cannot get a database connection, pool exhausted --service api")
    shown = run(router, "similar INC-2")
    assert "INC-1" in shown and "raised the pool size" in shown and "alert on pool saturation" in shown
    assert "restart pgbouncer in prod: succeeded (audit #1)" in shown
    assert "No past incident is similar enough" in run(router, "similar INC-1")


def test_nothing_is_similar_below_min_score(store, clock):
    strict = build_services(store, Catalog.model_validate(CATALOG | {"similar": {"min_score": 1.0}}), clock=clock)
    router = Router(strict)
    run(router, "open p1 Postgres connection pool exhausted")
    run(router, "resolve INC-1 raised the pool size")
    run(router, "open p1 Pool exhausted on the queue consumer")
    assert strict.search.similar(strict.incidents.get(2), None) == []
    with pytest.raises(Exception, match="less than or equal to 1"):
        Catalog.model_validate({"similar": {"min_score": 2}})


def test_the_postmortem_draft_lists_similar_past_incidents(router):
    run(router, "open p1 Memory leak in worker, OOMKilled every hour --service worker")
    run(router, "resolve INC-1 rolled back to 2.3.1, leak in image resize cache")
    run(router, "open p1 Worker pods OOMKilled, memory climbing --service worker")
    run(router, "resolve INC-2 restarted")
    draft = run(router, "postmortem INC-2")
    assert "## 7. Similar past incidents" in draft
    section = draft.split("## 7. Similar past incidents")[1]
    assert "INC-1" in section and "rolled back to 2.3.1" in section


def test_reindex_and_the_migration_build_the_index_from_the_records(router, services, store):
    run(router, "open p2 Redis evicting keys")
    run(router, "resolve INC-1 raised maxmemory")
    with store._write() as db:  # as a store from before the index: no rows, the mark unset
        db.execute("DELETE FROM search_rows")
        if not store.postgres:
            db.execute("DELETE FROM incident_search")
        db.execute("UPDATE counters SET value = 0 WHERE name = 'search_index_built'")
    assert found(services, "maxmemory") == []
    reopened = open_store(store.url)
    try:
        again = build_services(reopened, Catalog.model_validate(CATALOG))
        assert found(again, "maxmemory") == ["INC-1"]
    finally:
        reopened.close()
    with store._write() as db:
        db.execute("DELETE FROM search_rows")
    assert services.search.reindex() == 1
    assert found(services, "evicting") == ["INC-1"]


def test_help_lists_search_and_similar(router):
    shown = run(router, "help")
    assert "/incident search" in shown and "/incident similar" in shown


def test_a_common_word_ranks_the_most_recent_matches_filters_first(router, services, monkeypatch):
    """Only the CANDIDATES most recent matches are ranked (the cost of a word found in half the index stays
    flat); the filters narrow before that cap, so an older incident of the asked service is still found."""
    monkeypatch.setattr(sql_search, "CANDIDATES", 3)
    monkeypatch.setattr(sql_search, "PG_CANDIDATES", 3)
    run(router, "open p2 Timeout talking to billing --service billing")
    run(router, "resolve INC-1 raised the billing timeout timeout timeout")
    for number in range(2, 7):
        run(router, f"open p2 Timeout number {number} --service api")
        run(router, f"resolve INC-{number} restarted")
    assert sorted(found(services, "timeout")) == ["INC-4", "INC-5", "INC-6"]  # INC-1 ranks best, but is old
    viewer = services.incidents.viewer("U_ALICE", None)
    request = SearchRequest("timeout", service="billing")
    assert [f.incident.id for f in services.search.search(request, viewer)] == ["INC-1"]


def test_match_counts_stop_at_the_cap(router, store):
    for number in range(1, 5):
        run(router, f"open p2 Disk full number {number}")
    run(router, "note INC-1 pgbouncer saturated")
    assert store.count_matches(["disk", "pgbouncer", "kangaroo"], 3) == {"disk": 3, "pgbouncer": 1, "kangaroo": 0}


def test_similar_asks_for_the_rarest_words_some_incident_holds():
    terms = ["checkout", "hangs", "db", "connection", "database"]
    counts = {"checkout": 200, "hangs": 0, "db": 5, "connection": 40, "database": 5}
    assert similarity_match(terms, counts, size=3).any_of == ("db", "database", "connection")


def test_a_letter_whose_lowercase_is_two_characters_is_searched_not_refused(router, services):
    """The Turkish İ lowercases to i and a combining dot: search, similar, the post-mortem (which lists similar
    incidents) and the console's suggestion after an open all go on as with any other word."""
    import io

    from bot import console

    run(router, "open p2 Database outage Istanbul --service api")
    run(router, "resolve INC-1 failover")
    out = io.StringIO()
    assert console.run(router, ALICE, stdin=io.StringIO("/incident open p2 İstanbul DC outage --service api\n"
                                                       "/incident list\n"), stdout=out) == 0
    assert "INC-2" in out.getvalue() and "Something went wrong" not in out.getvalue()
    assert "INC-1" in run(router, "search İstanbul")
    assert "INC-1" in run(router, "similar INC-2")
    assert "İstanbul DC outage" in run(router, "postmortem INC-2")
    assert found(services, "İSTANBUL outage", include_open=False) == ["INC-1"]


def test_a_bug_after_a_console_reply_is_a_reference_and_the_session_goes_on(router, monkeypatch, caplog):
    """The similar incidents are a suggestion: should finding them fail, nothing is said and the session goes on;
    a bug anywhere after a reply is one line with a reference, never a traceback and never the end of the session."""
    import io

    from bot import console

    def broken_search(self, incident, viewer):
        raise RuntimeError("a bug in the similar incidents' search")

    monkeypatch.setattr(type(router.services.search), "similar", broken_search)
    out = io.StringIO()
    lines = "/incident open p2 Checkout slow --service api\n/incident list\n"
    assert console.run(router, ALICE, stdin=io.StringIO(lines), stdout=out) == 0
    assert "Checkout slow" in out.getvalue().split("INC-1")[-1]  # the list ran after it
    assert "Traceback" not in out.getvalue() and "Something went wrong" not in out.getvalue()
    assert "a bug in the similar incidents' search" in caplog.text

    def broken_effect(self, effect):
        raise RuntimeError("a bug in carrying out an effect")

    monkeypatch.setattr(console.ConsoleEffects, "similar", broken_effect)
    out = io.StringIO()
    lines = "/incident open p2 Search slow --service api\n/incident list\n"
    assert console.run(router, ALICE, stdin=io.StringIO(lines), stdout=out) == 0
    said = out.getvalue()
    assert "Something went wrong after that (ref " in said and "Search slow" in said.split("(ref ")[-1]
    assert "Traceback" not in said and "a bug in carrying out an effect" in caplog.text
