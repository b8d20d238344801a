"""The router under random input, as a hurried or hostile user types it: no exception ever escapes, and a refused
command changes nothing (the audit log may only gain the record of a denial or a failure, which is its job)."""
from __future__ import annotations

import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_services
from bot.config import Catalog
from bot.store.sqlite import SqliteStore, sqlite_path
from commands.base import Context
from commands.router import COMMAND_SETS, Router

CATALOG = {
    "environments": {
        "prod": {"protected": True, "runbook": {"echo": {"argv": ["/bin/echo", "{msg}"], "params": {"msg": {}}}}},
        "staging": {"runbook": {"echo": {"argv": ["/bin/echo", "{msg}"], "params": {"msg": {}},
                                         "min_role": "viewer"}}},
    },
    "roles": {"*": {"admin": ["U_OPS"]}},
}
TOKENS = st.one_of(
    st.sampled_from([
        "INC-1", "INC-2", "INC-0", "INC-99999999999999999999", "inc-٣", "MW-1", "CL-1", "mw-99999999999999999",
        "p0", "p1", "p7", "sev4", "prod", "staging", "moon", "api", "echo", "msg=hi", "msg=", "=x", "--yes",
        "--dry-run", "--all", "--since", "15m", "99999999d", "9999999999w", "0m", "-1h", "--tail", "0", "3",
        "٣", "+3", "-1", "1e9", "99999999999999999999", "in", "3h", "sun", "02:00", "25:99", "2026-12-06T02:00Z",
        "2026-02-30", "due", "2026-12-01", "add", "done", "on", "off", "investigating", "mitigated", "commander",
        "scribe", "<@U_BOB|bob>", "@U_BOB", "@bob", "<!channel>", "<https://x.example|x>", "&amp;", "&lt;b&gt;",
        '""', "''", '"', "'", "“quoted”", "—impact", "--impact", "; rm -rf /", "$(reboot)", "`id`", "a|b", "{x}",
        "%s", "\\", "\u0000", "\u202e", "🔥", "x" * 200, "DB_PASSWORD=hunter2", "p-000000", "help", "",
    ]),
    st.text(min_size=1, max_size=12),
)
LINES = st.tuples(
    st.sampled_from([command.name for command in COMMAND_SETS] + ["/nope"]),
    st.one_of(st.sampled_from([sub.name for command in COMMAND_SETS for sub in command.subcommands] + ["help"]),
              st.text(max_size=8)),
    st.lists(TOKENS, max_size=5),
)


def snapshot(path: str) -> tuple[dict, list]:
    """Every table's rows but the audit log's, and the audit log's phases."""
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if name not in ("audit", "sqlite_sequence")]
        rows = {name: sorted(repr(row) for row in db.execute(f'SELECT * FROM "{name}"').fetchall()
                             if row[:1] != ("audit",))  # the audit log's counter grows with it
                for name in tables}
        phases = [phase for (phase,) in db.execute("SELECT json_extract(record, '$.phase') FROM audit ORDER BY seq")]
    return rows, phases


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=LINES, user=st.sampled_from(["U_OPS", "U_NOBODY"]), source=st.sampled_from(["console", "slack"]))
def test_random_commands_never_raise_and_refusals_change_nothing(tmp_path_factory, line, user, source):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/opsbot.db"
    store = SqliteStore(url)
    store.migrate()
    try:
        router = Router(build_services(store, Catalog.model_validate(CATALOG)))
        ctx = Context(user=user, channel="C1", source=source)
        router.handle("/incident", "open p2 Existing incident", Context(user="U_OPS"))
        command, sub, tokens = line
        text = " ".join([sub, *tokens])
        before = snapshot(sqlite_path(url))
        reply = router.handle(command, text, ctx)  # must not raise
        assert reply.text and "Traceback" not in reply.text and "Something went wrong" not in reply.text
        if not reply.ok:
            rows, phases = snapshot(sqlite_path(url))
            assert rows == before[0], f"{command} {text!r} was refused ({reply.text}) but changed the store"
            assert phases[: len(before[1])] == before[1]
            assert set(phases[len(before[1]):]) <= {"denied", "refused", "failed"}
    finally:
        store.close()
