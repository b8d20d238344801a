"""Every way to tamper with the audit log, against every combination of defences, on SQLite and PostgreSQL.

Defences: OPSBOT_AUDIT_KEY (HMAC on every record), a witness file of checkpoints (OPSBOT_AUDIT_WITNESS), and
checkpoints signed with OPSBOT_AUDIT_SIGNING_KEY (verified with the public key alone). The table says which
attacks each combination detects; the cells marked False are the documented limits (README, "The audit log").
"""
from __future__ import annotations

import base64
import subprocess
import sys
from datetime import timedelta

import pytest

from bot.core.audit import GENESIS, AuditRecord, chain
from bot.core.audit_signing import Checkpoint, SigningKey, VerifyKey
from bot.core.export_signing import DocumentKeys
from bot.core.records import Records
from bot.store import open_store
from bot.store.witness import FileWitness
from tests.contract.test_audit_tamper import KEY, T0, Database, record

SIGNER = SigningKey.from_text(base64.b64encode(bytes(range(32))).decode())
ATTACKER = SigningKey.from_text(base64.b64encode(bytes(range(1, 33))).decode())

# defence → (HMAC key, witness file, signed checkpoints)
DEFENCES = {
    "nothing": (False, False, False),
    "key": (True, False, False),
    "witness": (False, True, False),
    "signed witness": (False, True, True),
    "key and signed witness": (True, True, True),
}


def edit(db: Database, store_url: str) -> None:
    (doc,) = db.run("SELECT record FROM audit WHERE seq = 3")[0]
    db.run("UPDATE audit SET record = ? WHERE seq = 3", (doc.replace("U_OPS", "U_EVE"),))


def rechain(db: Database, store_url: str) -> None:
    """Rewrite record 2 and recompute every hash after it (the algorithm is public; the key is not)."""
    rows = [AuditRecord.model_validate_json(doc) for (doc,) in db.run("SELECT record FROM audit ORDER BY seq")]
    prev = GENESIS
    for row in rows:
        if row.seq == 2:
            row = row.model_copy(update={"user": "U_EVE"})
        forged = chain(row.model_copy(update={"keyed": False}), row.seq, prev)
        db.run("UPDATE audit SET record = ?, hash = ? WHERE seq = ?", (forged.model_dump_json(), forged.hash, row.seq))
        prev = forged.hash


def delete_middle(db: Database, store_url: str) -> None:
    db.run("DELETE FROM audit WHERE seq = 3")


def delete_tail(db: Database, store_url: str) -> None:
    """The last record — already anchored — deleted and the counter moved back."""
    db.run("DELETE FROM audit WHERE seq = 5")
    db.run("UPDATE counters SET value = 4 WHERE name = 'audit'")


def truncate(db: Database, store_url: str) -> None:
    db.run("DELETE FROM audit WHERE seq >= 2")
    db.run("UPDATE counters SET value = 1 WHERE name = 'audit'")


def forged_append(db: Database, store_url: str) -> None:
    """A record appended as opsbot would, by someone without the HMAC key."""
    forger = open_store(store_url, None)
    try:
        forger.append_audit(record(6).model_copy(update={"user": "U_EVE", "at": T0 + timedelta(hours=1)}))
    finally:
        forger.close()


# attack → which defences detect it (in DEFENCES' order)
DETECTED = {
    edit: (True, True, True, True, True),
    rechain: (False, True, True, True, True),
    delete_middle: (True, True, True, True, True),
    delete_tail: (False, False, True, True, True),
    truncate: (False, False, True, True, True),
    # Records appended after the last checkpoint are only ever authenticated by the HMAC key.
    forged_append: (False, True, False, False, True),
}


def defended(store_url, tmp_path, defence: str):
    """A store of five records under the defence, the last one anchored; returns (records, key, checkpoints
    reader, public key)."""
    keyed, witnessed, signed = DEFENCES[defence]
    key = KEY if keyed else None
    store = open_store(store_url, key)
    for i in range(1, 6):
        store.append_audit(record(i))
    witness = FileWitness(tmp_path / "witness")
    if witnessed:
        witness(Checkpoint.make(store.audit_head(), T0 + timedelta(minutes=6), SIGNER if signed else None))
    return store, key, witness, SIGNER.public() if signed else None


@pytest.mark.parametrize("defence", list(DEFENCES))
@pytest.mark.parametrize("attack", list(DETECTED), ids=lambda attack: attack.__name__)
def test_each_attack_is_detected_or_a_documented_limit(store_url, tmp_path, attack, defence):
    store, key, witness, public = defended(store_url, tmp_path, defence)
    try:
        records = Records(store, None, None, None)  # type: ignore[arg-type]  # only the audit log is used
        assert records.verify_audit(key, witness.checkpoints(), public_key=public).ok  # intact before
        db = Database(store_url)
        db.drop_protection()
        attack(db, store_url)
        result = records.verify_audit(key, witness.checkpoints(), public_key=public)
        expected = DETECTED[attack][list(DEFENCES).index(defence)]
        assert (not result.ok) == expected, (attack.__name__, defence, result.problem)
        if not expected and key is None:  # what was not checked is said, never passed over in silence
            assert result.unchecked
    finally:
        store.close()


def test_a_checkpoint_signed_by_another_key_is_a_forgery(store_url, tmp_path):
    """Whoever holds the database and the witness file rewrites the log and writes a checkpoint for it: with
    signing, they cannot sign it."""
    store, key, witness, public = defended(store_url, tmp_path, "signed witness")
    try:
        db = Database(store_url)
        db.drop_protection()
        rechain(db, store_url)
        (tmp_path / "witness").write_text("")
        witness(Checkpoint.make(store.audit_head(), T0 + timedelta(minutes=7), ATTACKER))
        result = Records(store, None, None, None).verify_audit(key, witness.checkpoints(), public_key=public)  # type: ignore[arg-type]
        assert not result.ok and "checkpoint 1" in result.problem and "forged" in result.problem
        # an unsigned replacement is not accepted as signed either: it is used, and said to be unsigned
        (tmp_path / "witness").write_text("")
        witness(Checkpoint.make(store.audit_head(), T0 + timedelta(minutes=7), None))
        result = Records(store, None, None, None).verify_audit(key, witness.checkpoints(), public_key=public)  # type: ignore[arg-type]
        assert result.ok and any("no signed checkpoint" in note for note in result.unchecked)
    finally:
        store.close()


def test_the_limit_whoever_holds_every_anchor_can_cut_back_to_a_signed_checkpoint(store_url, tmp_path):
    """The documented limit: with the database and every anchor in hand, the tail after an earlier signed
    checkpoint can be cut and the later checkpoints deleted. What verify says then: the last signed checkpoint and
    its time, so an auditor who expects newer ones sees the gap."""
    store, key, witness, public = defended(store_url, tmp_path, "key and signed witness")
    try:
        early = Checkpoint.make(_head_at(store, 3), T0 + timedelta(minutes=3), SIGNER)
        db = Database(store_url)
        db.drop_protection()
        db.run("DELETE FROM audit WHERE seq > 3")
        db.run("UPDATE counters SET value = 3 WHERE name = 'audit'")
        (tmp_path / "witness").write_text(early.line() + "\n")
        result = Records(store, None, None, None).verify_audit(key, witness.checkpoints(), public_key=public)  # type: ignore[arg-type]
        assert result.ok
        assert any("last signed checkpoint is record 3 at 2026-11-20T09:03:00+00:00" in note for note in result.unchecked)
    finally:
        store.close()


def _head_at(store, seq: int):
    from bot.core.audit import Head

    row = next(row for row in store.iter_audit() if row.seq == seq)
    return Head(row.seq, row.hash)


def test_an_auditor_verifies_signed_checkpoints_with_the_public_key_alone(sqlite_url, tmp_path):
    """Through the CLI: keygen, pubkey, checkpoints written by opsbot's ops service, verify with only --pubkey."""
    base = {"OPSBOT_DATABASE_URL": sqlite_url, "OPSBOT_AUDIT_WITNESS": str(tmp_path / "w"), "PATH": "/usr/bin:/bin"}

    def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "audit", *args], capture_output=True, text=True,
                              env=base | env, timeout=60, check=False)

    made = cli("keygen")
    assert made.returncode == 0 and "public key (give it to auditors): ed25519:" in made.stderr
    private = made.stdout.strip()
    printed = cli("pubkey", OPSBOT_AUDIT_SIGNING_KEY=private)
    public = printed.stdout.strip()
    assert printed.returncode == 0 and public == made.stderr.split(": ", 1)[1].strip()
    assert str(VerifyKey.from_text(public)) == public
    unset = cli("pubkey")
    assert unset.returncode == 2 and "OPSBOT_AUDIT_SIGNING_KEY is not set" in unset.stderr

    from bot.app import build_services
    from bot.config.catalog import Catalog
    from bot.core.requests import Actor

    store = open_store(sqlite_url)
    services = build_services(store, Catalog(), witnesses=[FileWitness(tmp_path / "w")],
                              keys=DocumentKeys(signing=SigningKey.from_text(private)))
    actor = Actor(user="U_OPS", channel="C1", command="/ops health local")
    for n in range(3):
        store.append_audit(services.ops.audit_record(actor, f"a-{n}", "dry_run", None, "health", None, {}))
    services.ops.anchor_new()
    store.close()
    assert " sig=" in (tmp_path / "w").read_text()

    ok = cli("verify", "--pubkey", public)
    assert ok.returncode == 0 and "3 records (links, every column, hashes, 1 checkpoint, their signatures)" in ok.stdout
    assert "last signed checkpoint is record 3" in ok.stdout
    line = (tmp_path / "w").read_text().strip()
    seq_hash, at, _signature = line.split()
    (tmp_path / "w").write_text(f"{seq_hash} {at} sig={ATTACKER.sign(b'x')}\n")
    forged = cli("verify", "--pubkey", public)
    assert forged.returncode == 1 and "forged" in forged.stderr and "Traceback" not in forged.stderr
    bad = cli("verify", "--pubkey", "ed25519:nonsense")
    assert bad.returncode == 2 and "must be ed25519:<32 bytes in base64>" in bad.stderr and "Traceback" not in bad.stderr
