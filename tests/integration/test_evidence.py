"""Evidence collection against real components: a Docker container that logs secrets, PostgreSQL, Redis, a
runbook collector, a database on a closed port (a failed item, the bundle still made), and verification that
names every changed, missing or added file."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import docker
import pytest

from bot.app import build_services
from bot.config import Catalog
from commands.base import Context
from commands.router import Router
from tests.integration.test_docker_platform import docker_host  # noqa: F401 — the real engine fixture
from tests.redaction_corpus import SECRETS

OPS = Context(user="U_OPS", channel="C1", source="console")


@pytest.fixture
def shop(docker_host, tmp_path):  # noqa: F811
    """An 'api' service whose container logs part of the secrets corpus."""
    name = f"t{uuid.uuid4().hex[:8]}"
    client = docker.DockerClient(base_url=docker_host)
    lines = "\n".join(line for _, line, _ in SECRETS[:40]).replace("'", "")
    container = client.containers.create(
        "opsbot-busybox:2", ["sh", "-c", f"echo 'started'; echo '{lines}'; trap 'exit 0' TERM; sleep 3600 & wait"],
        name=f"{name}-api-1", network_mode="none",
        labels={"com.docker.compose.project": name, "com.docker.compose.service": "api",
                "com.docker.compose.container-number": "1"})
    container.start()
    yield name, lines
    container.remove(force=True)
    client.close()


def catalog(project: str, host: str, pg_url: str) -> Catalog:
    os.environ["OPSBOT_TEST_EVIDENCE_PG"] = pg_url
    os.environ["OPSBOT_TEST_EVIDENCE_REDIS"] = os.environ.get("OPSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["OPSBOT_TEST_EVIDENCE_CLOSED"] = "postgresql://postgres@127.0.0.1:9/postgres"
    return Catalog.model_validate({"environments": {"prod": {
        "protected": True,
        "platform": {"kind": "docker", "project": project, "host": host},
        "services": {"api": {"docker_service": "api"}},
        "checks": [{"name": "db", "kind": "postgres", "dsn_env": "OPSBOT_TEST_EVIDENCE_PG"},
                   {"name": "cache", "kind": "redis", "url_env": "OPSBOT_TEST_EVIDENCE_REDIS"},
                   {"name": "replica", "kind": "postgres", "dsn_env": "OPSBOT_TEST_EVIDENCE_CLOSED",
                    "timeout_s": 2}],
        "runbook": {"security_snapshot": {"argv": [sys.executable, "-c", "print('ps: 3 processes; DB_PASS=hunter2')"]}},
        "evidence": {"runbook": ["security_snapshot"], "time_budget_s": 30},
    }}, "roles": {"prod": {"responder": ["U_OPS"]}}})


@pytest.fixture
def evidence_router(shop, docker_host, store, clock, pg_url, tmp_path):  # noqa: F811
    services = build_services(store, catalog(shop[0], docker_host, pg_url), clock=clock,
                              evidence_dir=tmp_path / "evidence")
    return Router(services), services, tmp_path / "evidence"


def test_collect_gathers_every_source_redacted_hashed_and_on_the_record(evidence_router, shop, store):
    router, services, _root = evidence_router
    router.handle("/incident", "open p1 Checkout errors --env prod", OPS)
    reply = router.handle("/incident", "evidence INC-1 collect", OPS)
    assert reply.ok, reply.text
    (bundle,) = services.evidence.bundles(1)
    items = {item.name: item for item in bundle.items}
    assert {"logs-api.log", "status.txt", "health.txt", "postgres-db.txt", "redis-cache.txt",
            "run-security_snapshot.txt", "audit.jsonl", "timeline.jsonl"} <= {n for n, i in items.items() if i.ok}
    failed = items["postgres-replica.txt"]
    assert not failed.ok and failed.error  # a closed port: a failed item with its reason, the bundle still made
    assert "connections:" in (Path(bundle.location) / "postgres-db.txt").read_text()
    assert "used_memory" in (Path(bundle.location) / "redis-cache.txt").read_text()
    stored = "".join(path.read_text(errors="replace") for path in Path(bundle.location).iterdir())
    leaked = [kind for kind, _, secret in SECRETS[:40] if secret.replace("'", "") in stored]
    assert leaked == [] and "hunter2" not in stored
    assert items["logs-api.log"].redacted > 0
    with tarfile.open(Path(bundle.location).with_suffix(".tar.gz")) as archive:
        assert "EB-1/MANIFEST.json" in archive.getnames()
    event = services.incidents.timeline(1)[-1]
    assert event.kind == "evidence" and bundle.manifest_sha256[:12] in event.text
    audit = store.audit_records()[-1]
    assert audit.action == "evidence" and audit.output_sha256 == bundle.manifest_sha256
    assert reply.file is not None and reply.file.path.endswith("EB-1.tar.gz")
    assert "EB-1" in str(router.handle("/incident", "evidence INC-1 list", OPS).blocks)
    draft = router.handle("/incident", "postmortem INC-1", OPS).file.content
    assert "### Evidence collected" in draft and items["logs-api.log"].sha256 in draft
    assert "postgres-replica.txt (failed:" in draft


def test_verify_names_each_changed_missing_and_added_file(evidence_router, sqlite_url):
    router, services, _root = evidence_router
    router.handle("/incident", "open p2 Slow --env prod", OPS)
    router.handle("/incident", "evidence INC-1 collect --only status,timeline,audit", OPS)
    assert services.evidence.verify(1) == (3, [])
    folder = Path(services.evidence.bundles(1)[0].location)
    (folder / "status.txt").write_text("all fine, nothing happened\n")
    (folder / "audit.jsonl").unlink()
    (folder / "planted.txt").write_text("x")
    _checked, problems = services.evidence.verify(1)
    assert problems == ["EB-1: status.txt was changed", "EB-1: audit.jsonl is missing", "EB-1: planted.txt was added"]


@pytest.mark.parametrize("text,message", [
    ("evidence INC-1", "Missing 'collect', 'add' or 'list'"),
    ("evidence INC-1 add", "Say what to add"),
    ("evidence INC-1 gather", "Unknown evidence verb"),
    ("evidence INC-1 collect --env moon", "Unknown environment 'moon'"),
    ("evidence INC-1 collect --env prod --only logs,secrets", "Unknown collector 'secrets'"),
    ("evidence INC-1 collect --since soon", "'soon' is not a duration"),
    ("evidence INC-9 collect", "There is no incident INC-9"),
])
def test_bad_evidence_requests_are_refused_and_change_nothing(evidence_router, store, text, message):
    router, services, root = evidence_router
    router.handle("/incident", "open p2 Slow", OPS)  # no environment
    before = len(services.incidents.timeline(1))
    reply = router.handle("/incident", text, OPS)
    assert not reply.ok and message in reply.text
    assert len(services.incidents.timeline(1)) == before and not root.exists()
    nowhere = router.handle("/incident", "evidence INC-1 collect", OPS)
    assert "names no environment" in nowhere.text


def test_collecting_needs_the_responder_role(evidence_router):
    router, _services, _root = evidence_router
    router.handle("/incident", "open p2 Slow --env prod", OPS)
    reply = router.handle("/incident", "evidence INC-1 collect", Context(user="U_NOBODY", channel="C1"))
    assert not reply.ok and "responder role in prod" in reply.text


def test_opsbot_evidence_verify_exit_codes(shop, docker_host, sqlite_url, clock, pg_url, tmp_path):  # noqa: F811
    from bot.store.sqlite import SqliteStore

    store = SqliteStore(sqlite_url)
    store.migrate()
    root = tmp_path / "evidence"
    services = build_services(store, catalog(shop[0], docker_host, pg_url), clock=clock, evidence_dir=root)
    router = Router(services)
    router.handle("/incident", "open p2 Slow --env prod", OPS)
    env = {**os.environ, "OPSBOT_DATABASE_URL": sqlite_url, "OPSBOT_EVIDENCE_DIR": str(root)}

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "evidence", "verify", "INC-1"], capture_output=True,
                              text=True, env=env, timeout=60, check=False)

    try:
        nothing = verify()
        assert nothing.returncode == 0 and "no evidence" in nothing.stdout
        router.handle("/incident", "evidence INC-1 collect --only status,timeline", OPS)
        assert verify().returncode == 0
        (Path(services.evidence.bundles(1)[0].location) / "status.txt").write_text("edited")
        failed = verify()
        assert failed.returncode == 1 and "status.txt was changed" in failed.stderr
    finally:
        store.close()


def test_evidence_added_by_hand_is_redacted_hashed_and_verified(evidence_router):
    router, services, _root = evidence_router
    router.handle("/incident", "open p2 Slow", OPS)
    reply = router.handle("/incident", "evidence INC-1 add https://grafana.example.com/d/x DB_PASSWORD=hunter2", OPS)
    assert reply.ok and "EB-1" in reply.text
    (bundle,) = services.evidence.bundles(1)
    stored = (Path(bundle.location) / "added.txt").read_text()
    assert "grafana.example.com" in stored and "hunter2" not in stored
    assert services.evidence.verify(1) == (1, [])


def test_the_incident_id_may_follow_the_verb_as_the_issue_writes_it(evidence_router):
    router, services, _root = evidence_router
    router.handle("/incident", "open p2 Slow --env prod", OPS)
    assert router.handle("/incident", "evidence collect INC-1 --only status", OPS).ok
    assert router.handle("/incident", "evidence add INC-1 saw a spike at 02:10", OPS).ok
    assert "EB-2" in str(router.handle("/incident", "evidence list INC-1", OPS).blocks)
    assert len(services.evidence.bundles(1)) == 2
