"""The audit log against someone with the database in hand, on SQLite and a real PostgreSQL: the database refuses
edits; what gets past it (triggers dropped) is found by verification — every column, the HMAC under a key kept
outside the database, and checkpoints kept outside it too."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.audit import GENESIS, AuditKey, AuditRecord, Head, chain, verify_stream
from bot.core.audit_signing import Checkpoint
from bot.store import open_store
from bot.store.witness import FileWitness

KEY = AuditKey("k" * 32)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def record(i: int) -> AuditRecord:
    return AuditRecord(at=T0 + timedelta(minutes=i), attempt=f"a-{i}", phase="succeeded", user="U_OPS",
                       action="restart", env="prod", target="api")


@pytest.fixture(params=["plain", "keyed"])
def log(request, store_url):
    """A store with five audit records, with or without OPSBOT_AUDIT_KEY."""
    key = KEY if request.param == "keyed" else None
    store = open_store(store_url, key)
    for i in range(1, 6):
        store.append_audit(record(i))
    yield store, key
    store.close()


class Database:
    """Raw SQL on the store's database, as someone with its file or its superuser password."""

    def __init__(self, url: str):
        self.url = url

    def run(self, sql: str, params: tuple = ()) -> list:
        if self.url.startswith("sqlite"):
            import sqlite3

            from bot.store.sqlite import sqlite_path

            with sqlite3.connect(sqlite_path(self.url)) as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def drop_protection(self) -> None:
        if self.url.startswith("sqlite"):
            self.run("DROP TRIGGER audit_no_update")
            self.run("DROP TRIGGER audit_no_delete")
        else:
            self.run("DROP TRIGGER audit_append_only ON audit")


def verified(store, key, checkpoints=()):
    return verify_stream(store.iter_audit(batch=2), key, checkpoints)


def test_an_intact_log_verifies_and_says_what_it_could_not_check(log):
    store, key = log
    result = verified(store, key)
    assert result.ok and result.records == 5 and result.head == store.audit_head()
    assert any("no checkpoint" in note for note in result.unchecked)
    assert verified(store, key, [store.audit_head()]).unchecked == []


@pytest.mark.parametrize("sql", ["UPDATE audit SET record = record WHERE seq = 2", "DELETE FROM audit WHERE seq = 5",
                                 "DELETE FROM audit"])
def test_the_database_refuses_to_change_or_remove_audit_rows(log, sql):
    store, _ = log
    with pytest.raises(Exception, match="append-only"):
        Database(store.url).run(sql)
    assert verified(store, log[1]).records == 5


def test_an_edited_record_is_named(log):
    store, key = log
    db = Database(store.url)
    db.drop_protection()
    doc = db.run("SELECT record FROM audit WHERE seq = 3")[0][0]
    db.run("UPDATE audit SET record = ? WHERE seq = 3", (doc.replace("U_OPS", "U_EVE"),))
    result = verified(store, key)
    assert not result.ok and "record 3 was edited" in result.problem


def test_an_edited_indexed_column_is_named(log):
    """Moving `at` would hide a record from `/ops audit --since`: every stored column is verified."""
    store, key = log
    db = Database(store.url)
    db.drop_protection()
    new_at = (T0 - timedelta(days=30)).isoformat() if store.url.startswith("sqlite") else T0 - timedelta(days=30)
    db.run("UPDATE audit SET at = ? WHERE seq = 4", (new_at,))
    result = verified(store, key)
    assert not result.ok and "record 4 was edited: its stored columns" in result.problem


def test_a_log_cut_short_is_caught_by_a_checkpoint(log, tmp_path):
    store, key = log
    witness = FileWitness(tmp_path / "witness")
    witness(Checkpoint.make(store.audit_head(), T0, None))
    db = Database(store.url)
    db.drop_protection()
    db.run("DELETE FROM audit WHERE seq = 5")
    db.run("UPDATE counters SET value = 4 WHERE name = 'audit'")
    assert verified(store, key).ok  # without a checkpoint, a cut tail looks like a shorter log …
    result = verified(store, key, witness.heads())  # … with one, it cannot hide
    assert not result.ok and "ends at record 4" in result.problem and "record 5 existed" in result.problem


def test_an_emptied_log_is_caught_by_a_checkpoint(log, tmp_path):
    store, key = log
    head = store.audit_head()
    db = Database(store.url)
    db.drop_protection()
    db.run("DELETE FROM audit")
    result = verified(store, key, [head])
    assert not result.ok and "ends at record 0" in result.problem


def test_a_recomputed_chain_fails_with_the_key_or_a_checkpoint(log):
    """Someone who knows the algorithm but not the key rewrites record 2 and every hash after it."""
    store, key = log
    head = store.audit_head()
    db = Database(store.url)
    db.drop_protection()
    rows = [AuditRecord.model_validate_json(doc) for (doc,) in db.run("SELECT record FROM audit ORDER BY seq")]
    prev = GENESIS
    for row in rows:
        if row.seq == 2:
            row = row.model_copy(update={"user": "U_EVE"})
        forged = chain(row.model_copy(update={"keyed": False}), row.seq, prev)  # no key: plain hashes
        db.run("UPDATE audit SET record = ?, hash = ? WHERE seq = ?", (forged.model_dump_json(), forged.hash, row.seq))
        prev = forged.hash
    if key is not None:
        result = verified(store, key)
        assert not result.ok and "record 1 is not authenticated" in result.problem
    assert verified(store, None).ok  # without key or checkpoint this forgery is undetectable …
    result = verified(store, key, [head])  # … a checkpoint kept outside the database catches it
    assert not result.ok and ("checkpointed" in result.problem or "not authenticated" in result.problem)


def test_without_the_key_a_keyed_log_is_checked_and_the_gap_is_said(store_url):
    store = open_store(store_url, KEY)
    try:
        store.append_audit(record(1))
        result = verified(store, None, [store.audit_head()])
        assert result.ok and any("OPSBOT_AUDIT_KEY, which is not set" in note for note in result.unchecked)
    finally:
        store.close()


def test_the_cli_prints_the_head_and_verify_reads_the_witness(sqlite_url, tmp_path):
    env = {"OPSBOT_DATABASE_URL": sqlite_url, "OPSBOT_AUDIT_KEY": "k" * 32, "OPSBOT_AUDIT_WITNESS": str(tmp_path / "w"),
           "PATH": "/usr/bin:/bin"}
    store = open_store(sqlite_url, KEY)
    for i in range(1, 4):
        store.append_audit(record(i))
    head = store.audit_head()
    store.close()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "audit", *args], capture_output=True, text=True,
                              env=env, timeout=60, check=False)

    printed = cli("head")
    assert printed.returncode == 0 and Head.parse(printed.stdout) == head
    FileWitness(tmp_path / "w")(Checkpoint.make(head, T0, None))
    ok = cli("verify")
    assert ok.returncode == 0 and "verified: 3 records (links, every column, HMACs, 1 checkpoint)" in ok.stdout
    # Without the key an edited keyed record would keep its links: that is a failure to verify, not a pass.
    keyless = subprocess.run([sys.executable, "-m", "bot.cli", "audit", "verify"], capture_output=True, text=True,
                             env={key: value for key, value in env.items() if key != "OPSBOT_AUDIT_KEY"}, timeout=60,
                             check=False)
    assert keyless.returncode == 1 and "audit log NOT verified: 3 records are authenticated" in keyless.stderr
    assert cli("verify", "--head", "3:" + "0" * 64).returncode == 1
    bad = cli("verify", "--head", "nonsense")
    assert bad.returncode == 2 and "is not a checkpoint" in bad.stderr and "Traceback" not in bad.stderr
    Database(sqlite_url).drop_protection()
    Database(sqlite_url).run("DELETE FROM audit WHERE seq = 3")
    cut = cli("verify")
    assert cut.returncode == 1 and "records were deleted from the end" in cut.stderr


@pytest.mark.parametrize("sql,params", [("UPDATE audit SET record = ? WHERE seq = 2", ("{",)),
                                        ("UPDATE audit SET record = ? WHERE seq = 2", ("[]",)),
                                        ("UPDATE audit SET record = ? WHERE seq = 2", ('{"seq": "two"}',))])
def test_a_garbled_record_is_named_not_a_crash(log, sql, params):
    store, key = log
    db = Database(store.url)
    db.drop_protection()
    db.run(sql, params)
    result = verified(store, key)
    assert not result.ok and result.problem.startswith("record 2")


def test_a_garbled_time_column_is_named_not_a_crash(sqlite_url):
    store = open_store(sqlite_url)
    try:
        store.append_audit(record(1))
        store.append_audit(record(2))
        db = Database(sqlite_url)
        db.drop_protection()
        db.run("UPDATE audit SET at = 'yesterday' WHERE seq = 2")
        result = verified(store, None)
        assert not result.ok and "record 2 was edited: its stored columns" in result.problem
    finally:
        store.close()
