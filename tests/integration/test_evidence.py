"""Evidence collection against real components: a Docker container that logs secrets, PostgreSQL, Redis, a
runbook collector, a database on a closed port (a failed item, the bundle still made), and verification that
names every changed, missing or added file."""
from __future__ import annotations

import hashlib
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
from bot.core.evidence import Collected, Job
from bot.core.ops import Actor
from commands.base import Context
from commands.router import Router
from tests.integration.test_docker_platform import docker_host  # noqa: F401 — the real engine fixture
from tests.loud import loud_command
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
    log_name = f"logs-api-{shop[0]}-api-1.log"  # one item per container, streamed from the engine
    assert {log_name, "status.txt", "health.txt", "postgres-db.txt", "redis-cache.txt",
            "run-security_snapshot.txt", "audit.jsonl", "timeline.jsonl"} <= {n for n, i in items.items() if i.ok}
    failed = items["postgres-replica.txt"]
    assert not failed.ok and failed.error  # a closed port: a failed item with its reason, the bundle still made
    assert "connections:" in (Path(bundle.location) / "postgres-db.txt").read_text()
    assert "used_memory" in (Path(bundle.location) / "redis-cache.txt").read_text()
    stored = "".join(path.read_text(errors="replace") for path in Path(bundle.location).iterdir())
    leaked = [kind for kind, _, secret in SECRETS[:40] if secret.replace("'", "") in stored]
    assert leaked == [] and "hunter2" not in stored
    assert items[log_name].redacted > 0 and items[log_name].source == f"api/{shop[0]}-api-1"
    assert "started" in (Path(bundle.location) / log_name).read_text()
    assert "\tstart\t" in (Path(bundle.location) / "status.txt").read_text()  # the engine's events since then
    with tarfile.open(Path(bundle.location).with_suffix(".tar.gz")) as archive:
        assert "EB-1/MANIFEST.json" in archive.getnames()
    event = services.incidents.timeline(1)[-1]
    assert event.kind == "evidence" and bundle.manifest_sha256[:12] in event.text
    audit = store.audit_records()[-1]
    assert audit.action == "evidence" and audit.output_sha256 == bundle.manifest_sha256
    assert reply.file is not None and reply.file.path.endswith("EB-1.tar.gz")
    assert "EB-1" in str(router.handle("/incident", "evidence INC-1 list", OPS).blocks)
    draft = router.handle("/incident", "postmortem INC-1", OPS).file.content
    assert "### Evidence collected" in draft and items[log_name].sha256 in draft
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


BIG = 200_000_000


@pytest.fixture(scope="module")
def loud(docker_host):  # noqa: F811
    """A container that has logged 200 MB, every line holding a password."""
    name = f"t{uuid.uuid4().hex[:8]}"
    client = docker.DockerClient(base_url=docker_host, timeout=300)
    container = client.containers.run(
        "opsbot-busybox:2", ["sh", "-c", loud_command(BIG)], detach=True,
        name=f"{name}-api-1", network_mode="none",
        labels={"com.docker.compose.project": name, "com.docker.compose.service": "api",
                "com.docker.compose.container-number": "1"})
    assert container.wait(timeout=300)["StatusCode"] == 0
    yield name
    container.remove(force=True)
    client.close()


def test_200_mb_of_logs_stream_through_redaction_into_a_verifiable_bundle(loud, docker_host, sqlite_url,  # noqa: F811
                                                                          clock, tmp_path):
    from bot.store.sqlite import SqliteStore

    store = SqliteStore(sqlite_url)
    store.migrate()
    shop = Catalog.model_validate({"environments": {"prod": {
        "platform": {"kind": "docker", "project": loud, "host": docker_host},
        "services": {"api": {}}, "evidence": {"collectors": ["logs"], "max_item_bytes": 400_000_000}}},
        "roles": {"prod": {"responder": ["U_OPS"]}}})
    services = build_services(store, shop, clock=clock, evidence_dir=tmp_path / "evidence")
    router = Router(services)
    router.handle("/incident", "open p1 Orders failing --env prod", OPS)
    assert router.handle("/incident", "evidence collect INC-1", OPS).ok
    (bundle,) = services.evidence.bundles(1)
    (item,) = bundle.items
    assert item.ok and not item.truncated and item.redacted > 30_000  # one line in a hundred
    stored, seen, digest = Path(bundle.location) / item.name, 0, hashlib.sha256()
    with stored.open("rb") as log:
        while block := log.read(1 << 22):
            assert b"hunter2secret" not in block
            seen += block.count(b"\n")
            digest.update(block)
    assert seen > 3_000_000 and digest.hexdigest() == item.sha256 and stored.stat().st_size == item.size
    assert services.evidence.verify(1) == (1, [])
    store.close()


class Trickle:
    """A collectors stand-in for the service's own limits: a stream that never ends, one that breaks off."""

    def __init__(self, chunks):
        self.chunks = chunks

    def jobs(self, env_name, env, names, since):
        async def work():
            return [Collected("logs-api-x.log", "logs", "api/x", chunks=self.chunks())]
        return [Job("logs-api.log", "logs", "api", work())]


def endless():
    while True:
        yield b"tick DB_PASSWORD=hunter2secret\n" * 1000


def breaks_off():
    yield b"first line\n" * 10
    raise ConnectionResetError("connection reset by peer")


@pytest.mark.parametrize("chunks,limits,cut", [
    (endless, {"max_item_bytes": 300_000}, "cut at evidence.max_item_bytes"),
    (endless, {"max_bundle_bytes": 200_000}, "cut at evidence.max_bundle_bytes"),
    (endless, {"time_budget_s": 0.3}, "cut at the time budget (0.3 s)"),
    (breaks_off, {}, "cut at the source breaking off (connection reset by peer)"),
])
def test_an_item_is_cut_at_its_limits_and_says_why(sqlite_url, clock, tmp_path, chunks, limits, cut):
    from bot.core.evidence import EvidenceService
    from bot.store.sqlite import SqliteStore

    store = SqliteStore(sqlite_url)
    store.migrate()
    shop = Catalog.model_validate({"environments": {"prod": {"services": {"api": {}},
                                                            "evidence": {"collectors": ["logs"], **limits}}},
                                   "roles": {"prod": {"responder": ["U_OPS"]}}})
    services = build_services(store, shop, clock=clock, evidence_dir=tmp_path / "evidence")
    evidence = EvidenceService(services.incidents, services.ops, shop, Trickle(chunks),
                               services.evidence.storage, clock=clock)
    services.incidents.open(OPS.user, "p2", "Ticking", env="prod")
    bundle = evidence.collect(Actor(user="U_OPS", channel="C1", command="/incident evidence collect"), 1)
    (item,) = bundle.items
    data = (Path(bundle.location) / item.name).read_bytes()
    assert item.ok and item.truncated and item.error == cut and data.endswith(f"[{cut}]\n".encode())
    assert b"hunter2secret" not in data and len(data) <= limits.get("max_item_bytes", 10**9) + 200
    assert evidence.verify(1) == (1, [])
    store.close()
