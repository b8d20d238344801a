"""Secrets never at rest: the rule-writing corpus and the held-out set are written through every path that
stores text — a slash command, the modal's functions, an Alertmanager group, the generic webhook, an import,
evidence (added text and collected logs), a runbook's output and `/ops logs` — then the whole database (the file's
bytes on SQLite, every table's rows on PostgreSQL), the evidence files and the export are searched for each
secret. The same test runs on PostgreSQL from tests/contract/test_on_postgres_secrets_at_rest.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bot.alerts import alertmanager, webhook
from bot.app import build_services
from bot.config import Catalog
from bot.core.alerts import AlertService
from bot.core.export import export_documents, seal, to_text
from bot.core.flows import IncidentFlows, OpenIncident
from commands.base import Context
from commands.incident import open_incident, resolve_incident, update_incident
from commands.router import Router
from tests.fakes.platform import FakePlatform, FakeService
from tests.redaction_corpus import SECRETS
from tests.secrets_heldout import HELDOUT

ALL = SECRETS + HELDOUT
OPS = Context(user="U_OPS", channel="C_OPS", source="console")


def lines() -> list[str]:
    return [line for _, line, _ in ALL]


@pytest.fixture
def setup(store, clock, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines()) + "\n")
    # the storm rule would fold the webhook's many groups into one incident; here every group opens its own
    catalog = Catalog.model_validate({"alerts": {"storm": {"max_new": 1000, "per": "1m"}}, "environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"}, "services": {"api": {"max_replicas": 3}},
        "runbook": {"leak": {"argv": [sys.executable, "-c", f"print(open({str(corpus)!r}).read())"]}}}}})
    platform = FakePlatform("dev", {"api": FakeService(1, "shop/api:2", log=lines())})
    services = build_services(store, catalog, clock=clock, platform_for=lambda name, env: platform,
                              evidence_dir=tmp_path / "evidence")
    return services, Router(services), catalog


def write_through_every_path(store, clock, services, router, catalog) -> None:
    # the slash command: a declaration, then every line as a note
    assert router.handle("/incident", "open p2 Checkout errors --env dev", OPS).ok
    for line in lines():
        assert router.handle("/incident", f"note INC-1 {line}", OPS).ok
    # the modal: what the Slack form calls, with the corpus in the impact, updates and the resolution
    opened = open_incident(services, OPS, OpenIncident(severity="p3", title="From the form", impact=lines()[0]))
    assert opened.ok
    for line in lines():
        assert update_incident(services, OPS, 2, line).ok
    assert resolve_incident(services, OPS, 2, lines()[-1]).ok
    # an Alertmanager group and the generic webhook, every line in labels, annotations and the description
    alerts = AlertService(store, catalog, IncidentFlows(services.incidents), clock=clock)
    group = alertmanager.parse(json.dumps({
        "version": "4", "groupKey": "g1", "status": "firing", "receiver": "opsbot",
        "commonLabels": {"alertname": "Leaky"},
        "alerts": [{"status": "firing", "fingerprint": f"f{n}", "startsAt": "2026-11-20T08:00:00Z",
                    "labels": {"alertname": "Leaky", "detail": line},
                    "annotations": {"summary": line, "nested": line}} for n, line in enumerate(lines())]}).encode(),
        "alertmanager")
    chunks = [lines()[n:n + 4] for n in range(0, len(lines()), 4)]  # the description is capped at 3,000 characters
    generic = [webhook.parse(json.dumps({"title": "Leaky webhook", "dedup_key": f"leak{n}", "description": "\n".join(chunk),
                                         "labels": {f"l{n}": line for n, line in enumerate(chunk)}}).encode(), "uptime")
               for n, chunk in enumerate(chunks)]
    deliveries = [(group, "d0")] + [(alert, f"d{n + 1}") for n, alert in enumerate(generic)]
    assert alerts.accept(deliveries) == [True] * len(deliveries)
    assert {outcome.outcome for outcome in alerts.process_pending()} == {"opened"}
    # evidence: added text, then collected logs of a service whose output is the corpus
    for line in lines():
        assert router.handle("/incident", f"evidence add INC-1 {line}", OPS).ok
    assert router.handle("/incident", "evidence collect INC-1 --env dev --only logs", OPS).ok
    # a runbook action's output and `/ops logs`, both for the incident
    assert router.handle("/ops", "run leak dev --incident INC-1", OPS).ok
    assert router.handle("/ops", "logs api dev --tail 500 --incident INC-1", OPS).ok
    # an import: a document from elsewhere whose timeline is full of secrets (no key here, so unsigned is taken)
    (document,) = export_documents(store, [store.get_incident(1)])
    foreign = json.loads(json.dumps(document))
    foreign["incident"].update(number=90, channel=None)
    note = next(event for event in document["timeline"] if event["kind"] == "note")
    foreign["timeline"] = [dict(event, incident=90) for event in document["timeline"]] + [
        dict(note, incident=90, text=line, data={"detail": line}) for line in lines()]
    foreign["audit"] = []
    services.records.import_documents([("foreign.json", to_text(seal(foreign)).encode())], "U_OPS")


def at_rest(store, tmp_path: Path) -> str:
    """Everything the store holds, as text: the SQLite file's bytes (and its WAL), or every PostgreSQL table."""
    if store.url.startswith("sqlite"):
        from bot.store.sqlite import sqlite_path

        path = Path(sqlite_path(store.url))
        return "".join(p.read_bytes().decode("utf-8", "replace")
                       for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    import psycopg

    with psycopg.connect(store.url) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()]
        return "\n".join(str(row) for table in tables
                         for row in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t').fetchall())


def test_no_secret_is_at_rest_after_every_path(store, clock, setup, tmp_path):
    services, router, catalog = setup
    write_through_every_path(store, clock, services, router, catalog)
    incidents = store.list_incidents(include_closed=True, limit=100)
    webhooks = (len(ALL) + 3) // 4
    assert sorted(i.number for i in incidents) == [1, 2, 3, *range(4, 4 + webhooks), 90]
    assert len(store.timeline(1)) > 2 * len(ALL) and len(store.timeline(90)) > len(ALL)
    evidence = "".join(p.read_bytes().decode("utf-8", "replace")
                       for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    exported = json.dumps(export_documents(store, incidents))
    stored = at_rest(store, tmp_path)
    assert "pool exhausted" not in stored  # the fake's default log is not what was read: the corpus was
    leaks = [(kind, where) for kind, _, secret in ALL
             for where, text in (("database", stored), ("evidence", evidence), ("export", exported))
             if secret in text]
    assert leaks == [], leaks
    # what is not secret came through: the ordinary words around each secret are kept
    for text in (stored, exported):
        assert "kubectl create secret generic db" in text and "charge failed for key" in text
    assert "started" in evidence or "sshpass" in evidence

