"""Redaction over the corpus (tests/redaction_corpus.py), and through the real paths: chat replies, the console,
the audit log, the timeline, the post-mortem and the log."""
from __future__ import annotations

import logging
import sys

import pytest

from bot.core.redact import MASK, default_redactor, load_rules, redact, redact_counted
from tests.redaction_corpus import NORMAL, SECRETS
from tests.secrets_heldout import HELDOUT


@pytest.mark.parametrize("kind,line,secret", SECRETS, ids=[kind for kind, _, _ in SECRETS])
def test_every_kind_of_secret_is_masked(kind, line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and MASK in cleaned


def test_the_corpus_covers_at_least_eighty_kinds_and_thirty_normal_lines():
    assert len({kind for kind, _, _ in SECRETS}) >= 80 and len(NORMAL) >= 30


@pytest.mark.parametrize("line", NORMAL)
def test_ordinary_lines_are_untouched(line):
    assert redact(line) == line


@pytest.mark.parametrize("text,expected", [
    ("postgres://app:s3cr3t@db:5432/shop", "postgres://app:***@db:5432/shop"),
    ("DB_PASSWORD=hunter2 next", "DB_PASSWORD=*** next"),
    ("bindpw S3cretLdapPw", "bindpw ***"),
    ("olcRootPW: {SSHA}abcdefgh12345", "olcRootPW: ***"),
    ("connect with password 'Tr0ub4dor&3' now", "connect with password '***' now"),
    ("ldap bindpw not set; password reset link sent", "ldap bindpw not set; password reset link sent"),
    ('{"password": "hunter2", "user": "x"}', '{"password": "***", "user": "x"}'),
    ("redis://:pw@cache:6379", "redis://:***@cache:6379"),
    ("TOKEN_TTL=3600", "TOKEN_TTL=3600"),
])
def test_only_the_secret_is_masked_and_the_shape_stays(text, expected):
    assert redact(text) == expected


def test_redaction_is_idempotent_and_counts_what_it_masked():
    text = "\n".join(line for _, line, _ in SECRETS)
    once, count = redact_counted(text)
    assert count >= len(SECRETS)
    assert redact_counted(once) == (once, 0)


def test_a_secret_after_a_megabyte_of_noise_is_still_found():
    line = "x" * 1_000_000 + " token ghp_" + "a" * 36
    assert "ghp_aaaa" not in redact(line)
    assert redact("A" * 1_000_000) == "A" * 1_000_000


def test_a_key_body_line_is_masked_without_its_begin_line_but_a_hex_digest_is_not():
    body = SECRETS[0][1].split("\n")[4]
    assert body not in redact(f"grep hit: \n{body}\n")
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert redact(digest) == digest


def test_every_rule_names_its_source_and_compiles_in_re2():
    rules = default_redactor().rules
    assert len({rule.id for rule in rules}) == len(rules)
    assert all(rule.source for rule in rules)


def test_rules_are_data_a_new_one_needs_no_code():
    redactor = type(default_redactor())(load_rules(
        "rules:\n  - id: acme\n    source: test\n    pattern: 'acme_[0-9a-f]{8}'\n"))
    assert redactor.redact("key acme_0123abcd used") == "key *** used"


# --- the real paths ------------------------------------------------------------------------------------------
def test_incident_text_is_redacted_before_it_is_stored_and_the_timeline_says_so(service):
    secret = "ghp_" + "Z" * 36
    incident = service.open("U_ALICE", "p1", f"Deploy broke after rotating {secret}",
                            impact="DB_PASSWORD=hunter2 leaked in logs")
    service.add_note(incident.number, "U_ALICE", f"curl -u admin:{secret} failed")
    stored = service.get(incident.number)
    assert secret not in stored.title and "hunter2" not in (stored.impact or "")
    events = service.timeline(incident.number)
    assert all(secret not in e.text and "hunter2" not in str(e.data) for e in events)
    assert events[-1].data["redacted"] == 1 and events[0].data["redacted"] >= 1


def test_chat_replies_and_the_console_never_echo_a_secret(router, alice):
    from bot.views.text import to_text

    router.handle("/incident", "open p2 Checkout slow", alice)
    reply = router.handle("/incident", "update INC-1 rotated the key sk_live_" + "a" * 24, alice)
    assert "sk_live_aaaa" not in str(reply.blocks) + reply.text and "sk_live_aaaa" not in to_text(reply)
    refused = router.handle("/ops", "health postgres://u:hunter2@db/x", alice)
    assert "hunter2" not in refused.text + str(refused.blocks)


def test_runbook_output_reaches_neither_chat_nor_the_audit_log(make_router, tmp_path, store):
    from bot.config import Catalog
    from commands.base import Context

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(line for _, line, _ in SECRETS))
    catalog = Catalog.model_validate({"environments": {"dev": {"runbook": {"leak": {
        "argv": [sys.executable, "-c", f"print(open({str(corpus)!r}).read())"]}}}}})
    router = make_router(catalog)
    reply = router.handle("/ops", "run leak dev", Context(user="U_OPS"))
    shown = reply.text + str(reply.blocks) + (reply.file.content if reply.file else "")
    assert reply.ok and "Done" in reply.text
    records = store.audit_records()
    for _, _, secret in SECRETS:
        assert secret not in shown
        assert all(secret not in (record.excerpt or "") + str(record.args) for record in records)


def test_the_post_mortem_file_holds_no_secret(router, alice):
    router.handle("/incident", "open p1 Outage", alice)
    router.handle("/incident", "note INC-1 export AWS_SECRET_ACCESS_KEY=" + "A1b2" * 10, alice)
    draft = router.handle("/incident", "postmortem INC-1", alice).file.content
    assert "A1b2A1b2" not in draft and MASK in draft


def test_log_lines_are_redacted_tracebacks_included(capsys):
    from bot.cli import configure_logging

    configure_logging("info")  # lower case is accepted
    log = logging.getLogger("opsbot.test")
    try:
        raise RuntimeError("cannot connect to postgres://app:hunter2@db/shop")
    except RuntimeError:
        log.exception("failed with token xoxb-123456789-abcdefghij")
    for handler in logging.getLogger().handlers:
        handler.flush()
    err = capsys.readouterr().err
    assert "hunter2" not in err and "xoxb-123456789" not in err and "postgres://app:***@db/shop" in err


def test_lone_surrogates_never_make_redaction_raise():
    assert redact("\ud800 token xoxb-123456789-abcdefghij") == "\ud800 token ***"
    assert redact("\ud800 plain") == "\ud800 plain"


def test_a_block_made_of_secrets_is_masked_whole():
    """A hostile line with a match every few bytes would cost a call per match: past 1000 it is masked at once."""
    line = "curl -u admin:Hunter2x " * 50_000
    cleaned, count = redact_counted(line)
    assert "Hunter2x" not in cleaned and "more than 1000 secrets" in cleaned and count >= 1000


def test_a_stream_is_redacted_in_whole_lines_whatever_its_chunking():
    from bot.core.redact import default_redactor

    text = "".join(f"line {n} user=alice DB_PASSWORD=s3cr3tValue{n}\n" for n in range(20_000)).encode()
    chunked = [text[i:i + 997] for i in range(0, len(text), 997)]  # secrets cut in two at chunk edges
    out = list(default_redactor().stream(chunked, block=4096))
    joined = b"".join(data for data, _ in out)
    assert b"s3cr3tValue" not in joined and sum(count for _, count in out) == 20_000
    assert joined.count(b"\n") == 20_000 and len(out) > 10  # bounded blocks, not the text at once


def test_a_stream_without_newlines_is_cut_at_four_blocks():
    from bot.core.redact import default_redactor

    out = list(default_redactor().stream([b"x" * 1000] * 100, block=1000))
    assert all(len(data) <= 4000 for data, _ in out) and sum(len(data) for data, _ in out) == 100_000


def test_dense_secrets_are_masked_one_by_one_and_the_lines_between_them_survive():
    """1,001 key blocks in a log used to turn the whole log into one line: now only the keys go."""
    from bot.core.redact import default_redactor

    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
    blocks = [f"-----BEGIN PRIVATE KEY-----\n{body}\n{body}\n-----END PRIVATE KEY-----\nline {n} ok\n"
              for n in range(1001)]
    text = "boot\n" + "".join(blocks) + "intruder logged in\n/data wiped\n"
    cleaned, count = redact_counted(text)
    assert body not in cleaned and count >= 1001
    assert "intruder logged in\n/data wiped\n" in cleaned and "line 0 ok" in cleaned and "line 1000 ok" in cleaned
    streamed = b"".join(data for data, _ in default_redactor().stream([text.encode()], block=64 * 1024))
    assert body.encode() not in streamed and b"intruder logged in" in streamed and b"line 1000 ok" in streamed


@pytest.mark.parametrize("kind,line,secret", HELDOUT, ids=[kind for kind, _, _ in HELDOUT])
def test_the_held_out_set_the_rules_were_not_written_from_is_masked(kind, line, secret):
    assert secret not in redact(line)
