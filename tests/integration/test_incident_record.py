"""One incident record, end to end on the console against the real Docker engine: a restart, a scale, a health check
and an evidence collection done in the incident's channel (or with --incident) are typed timeline events with their
audit seqs; health snapshots are kept at declaration and resolution; the post-mortem lists all of it and judges a
P0 downgraded to P1 as a P0."""
from __future__ import annotations

import io
import os
import uuid

import docker
import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.console import run
from bot.core.models import EventKind
from commands.base import Context
from commands.router import Router
from tests.integration.test_docker_platform import docker_host  # noqa: F401 — the real engine fixture
from tests.integration.test_slack_http import wait_until

ROOM = Context(user="U_OPS", channel="C_WARROOM", source="console")


@pytest.fixture
def shop(docker_host):  # noqa: F811
    name = f"t{uuid.uuid4().hex[:8]}"
    client = docker.DockerClient(base_url=docker_host)
    container = client.containers.create(
        "opsbot-busybox:2", ["sh", "-c", "echo started; trap 'exit 0' TERM; sleep 3600 & wait"],
        name=f"{name}-api-1", network_mode="none",
        labels={"com.docker.compose.project": name, "com.docker.compose.service": "api",
                "com.docker.compose.container-number": "1"})
    container.start()
    yield name
    for leftover in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"}):
        leftover.remove(force=True)
    client.close()


@pytest.fixture
def router(shop, docker_host, store, clock, tmp_path):  # noqa: F811
    os.environ["OPSBOT_TEST_RECORD_REDIS"] = os.environ.get("OPSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    catalog = Catalog.model_validate({"environments": {"prod": {
        "protected": True,
        "platform": {"kind": "docker", "project": shop, "host": docker_host},
        "services": {"api": {"max_replicas": 5}},
        "checks": [{"name": "cache", "kind": "redis", "url_env": "OPSBOT_TEST_RECORD_REDIS"}],
        "evidence": {"collectors": ["status", "timeline"]}}},
        "roles": {"prod": {"operator": ["U_OPS"]}}})
    return Router(build_services(store, catalog, clock=clock, evidence_dir=tmp_path / "evidence"))


def console(router: Router, *lines: str, ctx: Context = ROOM) -> str:
    out = io.StringIO()
    run(router, ctx, io.StringIO("".join(line + "\n" for line in lines)), out)
    return out.getvalue()


def test_everything_done_in_the_incident_channel_lands_on_its_timeline(router, clock):
    console(router, "/incident open p0 Checkout down --env prod")
    clock.advance(minutes=5)
    console(router, "/ops restart api prod --yes", "/ops scale api prod 2 --yes", "/ops health prod",
            "/incident evidence collect", "/incident sev p1")
    clock.advance(minutes=30)
    elsewhere = Context(user="U_OPS", channel="C_OTHER", source="console")
    console(router, "/ops scale api prod 1 --yes --incident INC-1", ctx=elsewhere)
    console(router, "/incident resolve rolled back the config")
    timeline = router.services.incidents.timeline(1)
    ops = [e for e in timeline if e.kind is EventKind.OPS]
    assert [(e.data["action"], e.data["outcome"]) for e in ops] == [
        ("restart", "succeeded"), ("scale", "succeeded"), ("scale", "succeeded")]
    records = {r.seq: r for r in router.services.ops.store.audit_records()}
    for event in ops:  # each names its audit record, and that record is the attempt's outcome
        record = records[event.data["audit_seq"]]
        assert (record.attempt, record.phase, record.action) == (event.data["attempt"], "succeeded",
                                                                 event.data["action"])
        assert event.actor == "U_OPS" and event.data["duration_ms"] is not None
    (check,) = [e for e in timeline if e.kind is EventKind.CHECK]
    assert check.data["env"] == "prod" and check.data["results"][0]["name"] == "cache"
    evidence = [e for e in timeline if e.kind is EventKind.EVIDENCE]
    assert all(records[e.data["audit_seq"]].action == "evidence" for e in evidence)
    assert router.services.evidence.health_snapshots(1).keys() == {"declaration", "resolution"}

    draft = router.handle("/incident", "postmortem INC-1", ROOM).file.content
    assert "judged as P0" in draft and "| Time to acknowledge |" in draft and "15m (P0)" in draft
    assert "### Actions and checks taken" in draft
    for event in ops:
        assert f"| {event.data['audit_seq']} |" in draft
    assert "### Health at declaration and at resolution" in draft and "cache (redis)" in draft


def test_actions_outside_an_incident_stay_off_every_timeline_and_a_bad_incident_id_is_refused(router):
    console(router, "/incident open p2 Slow --env prod")
    lone = Context(user="U_OPS", channel="C_OTHER", source="console")
    console(router, "/ops health prod", ctx=lone)
    reply = router.handle("/ops", "health prod --incident INC-9", lone)
    assert not reply.ok and "There is no incident INC-9" in reply.text
    reply = router.handle("/ops", "health prod --incident nine", lone)
    assert not reply.ok and "'nine' is not an incident id" in reply.text
    assert not [e for e in router.services.incidents.timeline(1) if e.kind in (EventKind.OPS, EventKind.CHECK)]


def test_impact_start_and_detected_commands(router, clock):
    console(router, "/incident open p1 Errors")
    out = console(router, "/incident impact-start -25m", "/incident detected 2026-11-20 08:50",
                  "/incident detected tomorrow", "/incident impact-start 2026-11-20")
    incident = router.services.incidents.get(1)
    assert incident.impact_started_at == clock.now.replace(hour=8, minute=35)
    assert incident.detected_at == clock.now.replace(hour=8, minute=50)
    assert "'tomorrow' is not a time" in out and "has no time of day" in out


def test_the_whole_record_survives_export_and_import_into_the_other_store(router, store, store_url, clock,
                                                                         tmp_path, request):
    from bot.core.export import export_documents, import_documents, to_text
    from bot.store import open_store

    console(router, "/incident open p0 Checkout down --env prod")
    console(router, "/ops restart api prod --yes", "/ops health prod", "/incident evidence collect")
    console(router, "/incident resolve restarted")
    (document,) = export_documents(store, [router.services.incidents.get(1)])
    attempts = {e["data"]["attempt"] for e in document["timeline"] if e["kind"] == "ops"}
    assert attempts and attempts <= {r["attempt"] for r in document["audit"]}  # the action's records come along
    # SQLite → PostgreSQL, and PostgreSQL → SQLite
    other = request.getfixturevalue("pg_url") if store_url.startswith("sqlite") else f"sqlite:///{tmp_path}/other.db"
    target = open_store(other)
    try:
        import_documents(target, router.services.incidents.catalog, [("INC-1.json", to_text(document).encode())],
                         "U_MOVER", clock)
        (again,) = export_documents(target, [target.get_incident(1)])
    finally:
        target.close()
    assert to_text(again) == to_text(document)


def test_the_same_record_from_slack_over_http(shop, docker_host, fake_slack, slack):  # noqa: F811
    """Slack, over real HTTP against the local fake Slack: the actions typed in the incident's channel are on its
    timeline with their audit seqs, the snapshots are taken in the background, INCIDENT RESOLVED is announced and
    the post-mortem (a P0 downgraded to P1) is judged as a P0."""
    os.environ["OPSBOT_TEST_RECORD_REDIS"] = os.environ.get("OPSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    catalog = Catalog.model_validate({"environments": {"prod": {
        "platform": {"kind": "docker", "project": shop, "host": docker_host},
        "services": {"api": {"max_replicas": 5}},
        "checks": [{"name": "cache", "kind": "redis", "url_env": "OPSBOT_TEST_RECORD_REDIS"}],
        "evidence": {"collectors": ["status", "timeline"]}}},
        "roles": {"prod": {"operator": ["U_ALICE"]}}})
    services = slack.opsbot.services
    services.ops.catalog = services.incidents.catalog = services.evidence.catalog = catalog
    slack.command("open p0 Checkout down --env prod")
    wait_until(lambda: slack.opsbot.store.list_incidents() and slack.opsbot.store.get_incident(1).summary_ref)
    room = slack.opsbot.store.get_incident(1).channel
    for text, command in (("restart api prod", "/ops"), ("scale api prod 2", "/ops"), ("health prod", "/ops"),
                          ("evidence collect", "/incident"), ("sev p1", "/incident")):
        replied = len(fake_slack.responses)
        assert slack.command(text, command=command, channel=room).status_code == 200
        wait_until(lambda replied=replied: len(fake_slack.responses) > replied, timeout=30)  # as a person would
    slack.command("resolve rolled back the config", channel=room)
    wait_until(lambda: any("INCIDENT RESOLVED" in c.params.get("text", "")
                           for c in fake_slack.calls_to("chat.postMessage")))
    wait_until(lambda: services.evidence.health_snapshots(1).keys() == {"declaration", "resolution"}, timeout=30)

    timeline = services.incidents.timeline(1)
    ops = [e for e in timeline if e.kind is EventKind.OPS]
    assert [(e.data["action"], e.data["outcome"]) for e in ops] == [("restart", "succeeded"), ("scale", "succeeded")]
    records = {r.seq: r for r in slack.opsbot.store.audit_records()}
    assert all(records[e.data["audit_seq"]].attempt == e.data["attempt"] for e in ops)
    assert [e.kind for e in timeline].count(EventKind.CHECK) == 1
    slack.command("postmortem", channel=room)
    upload = fake_slack.wait_for("files.completeUploadExternal")[0]
    assert room in str(upload.params)
    draft = router_draft(services)
    assert "judged as P0" in draft and all(f"| {e.data['audit_seq']} |" in draft for e in ops)


def router_draft(services) -> str:
    return Router(services).handle("/incident", "postmortem INC-1", ROOM).file.content
