"""The Docker platform against a real Docker Engine (scripts/start-docker.sh), busybox containers labelled
as a Compose project."""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.grep import LineFilter
from bot.core.ops import Actor, OpsService
from bot.errors import BackendError, ConflictError, UsageError
from bot.platforms import Platforms
from bot.platforms.docker import DockerPlatform
from bot.platforms.script import ScriptRunner
from tests.platform_contract import CASES, case_id
from tests.poll import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_host() -> str:
    """A real engine is required: its absence fails the run, never skips it."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "start-docker.sh")], capture_output=True, text=True,
                          check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"Docker Engine unavailable (scripts/start-docker.sh): {done.stderr[-1500:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def project(docker_host):
    """A Compose-labelled 'api' service with two containers on image v2, whose previous image was v1."""
    name = f"t{uuid.uuid4().hex[:8]}"
    client = docker.DockerClient(base_url=docker_host)
    for number in (1, 2):
        container = client.containers.create(
            "opsbot-busybox:2",
            # PID 1 ignores SIGTERM unless it traps it: trap it, so stop and restart are quick.
            ["sh", "-c", "trap 'exit 0' TERM; echo started; echo error: pool exhausted; echo ok; sleep 3600 & wait"],
            name=f"{name}-api-{number}", network_mode="none",
            labels={"com.docker.compose.project": name, "com.docker.compose.service": "api",
                    "com.docker.compose.container-number": str(number), "opsbot.previous-image": "opsbot-busybox:1"})
        container.start()
    yield name
    for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"}):
        container.remove(force=True)
    client.close()


def catalog(project: str, host: str) -> Catalog:
    return Catalog.model_validate({"environments": {
        "prod": {"protected": True, "platform": {"kind": "docker", "project": project, "host": host},
                 "services": {"api": {"docker_service": "api", "max_replicas": 5}},
                 "maintenance": {"key": "MAINTENANCE_MODE", "restart": ["api"]},
                 "checks": [{"name": "containers", "kind": "docker", "service": "api"}]},
    }, "roles": {"prod": {"operator": ["U_OPS"]}}})


@pytest.fixture
def platform(project, docker_host) -> DockerPlatform:
    return DockerPlatform("prod", catalog(project, docker_host).environments["prod"])


@pytest.fixture
def ops(project, docker_host, store, clock) -> OpsService:
    return OpsService(store, catalog(project, docker_host), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                      clock=clock)




def test_status_finds_the_compose_service(platform):
    [state] = platform.status()
    assert (state.name, state.running, state.desired, state.image) == ("api", 2, 2, "opsbot-busybox:2")


def test_logs_since_and_grep(platform):
    wait_until(lambda: "pool exhausted" in platform.logs("api", None, 100, None))
    text = platform.logs("api", None, 100, LineFilter("ERROR"))
    lines = text.splitlines()
    assert len(lines) == 2 and all("error: pool exhausted" in line for line in lines)


def test_restart_restarts_every_container(platform, project, docker_host):
    client = docker.DockerClient(base_url=docker_host)
    before = {c.name: c.attrs["State"]["StartedAt"] for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}
    output = platform.restart("api")
    after = {c.name: c.attrs["State"]["StartedAt"] for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}
    assert set(before) == set(after) and all(before[n] != after[n] for n in before)
    assert output.startswith("restarted ")


def test_scale_clones_and_removes_containers(platform):
    assert platform.scale("api", 4).count("started") == 2
    assert platform.replicas("api") == 4
    assert platform.status()[0].running == 4
    platform.scale("api", 1)
    assert platform.replicas("api") == 1


def test_rollback_recreates_on_the_previous_image_and_records_the_way_back(platform):
    assert platform.rollback_plan("api") == "image opsbot-busybox:2 → opsbot-busybox:1"
    platform.rollback("api")
    [state] = platform.status()
    assert (state.image, state.running) == ("opsbot-busybox:1", 2)
    assert platform.rollback_plan("api") == "image opsbot-busybox:1 → opsbot-busybox:2"


def test_rollback_without_a_recorded_image_is_refused(platform, project, docker_host):
    client = docker.DockerClient(base_url=docker_host)
    client.containers.create("opsbot-busybox:1", ["sleep", "60"], network_mode="none", labels={
        "com.docker.compose.project": project, "com.docker.compose.service": "worker"})
    platform.env.services["worker"] = platform.env.services["api"].model_copy(update={"docker_service": "worker"})
    with pytest.raises(ConflictError, match="No previous image"):
        platform.rollback_plan("worker")


def test_docker_check_reports_stopped_containers(ops, platform, project, docker_host):
    from commands.base import Context  # noqa: F401  (keeps the import graph honest in this test)

    report = ops.health(Actor("U_OPS", None, "/ops health prod"), "prod")
    assert report.results[0].level == "ok" and report.results[0].value == "2/2 running"
    client = docker.DockerClient(base_url=docker_host)
    client.containers.get(f"{project}-api-2").stop(timeout=1)
    report = ops.health(Actor("U_OPS", None, "/ops health prod"), "prod")
    assert report.results[0].level == "warn" and "1/2 running" == report.results[0].value


def test_protected_scale_shows_the_exact_plan_and_runs_after_confirmation(ops, platform, store):
    actor = Actor("U_OPS", "C1", "/ops scale api prod 3")
    planned = ops.request(actor, "prod", "scale", "api", {"replicas": 3})
    assert planned.summary == "scale api in prod: 2 → 3 replicas"
    assert platform.replicas("api") == 2
    ops.confirm(actor, planned.plan.id)
    assert platform.replicas("api") == 3
    assert [r.phase for r in store.audit_records()] == ["requested", "confirmed", "started", "succeeded"]


def test_a_plan_made_stale_by_a_change_is_refused(ops, platform):
    actor = Actor("U_OPS", "C1", "/ops scale api prod 3")
    planned = ops.request(actor, "prod", "scale", "api", {"replicas": 3})
    platform.scale("api", 1)  # someone else acted meanwhile
    with pytest.raises(ConflictError, match="situation changed.*1 → 3"):
        ops.confirm(actor, planned.plan.id)
    assert platform.replicas("api") == 1


def test_maintenance_recreates_the_services_with_the_flag(ops, platform, project, docker_host):
    actor = Actor("U_OPS", "C1", "/ops maintenance on prod")
    planned = ops.request(actor, "prod", "maintenance", None, {"on": True})
    assert planned.summary == "maintenance mode in prod: unknown → on, then restart api"
    ops.confirm(actor, planned.plan.id)
    client = docker.DockerClient(base_url=docker_host)
    containers = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    assert len(containers) == 2
    assert all("MAINTENANCE_MODE=true" in c.attrs["Config"]["Env"] for c in containers)
    assert platform.maintenance_state() is True
    off = ops.request(actor, "prod", "maintenance", None, {"on": False})
    assert off.summary.startswith("maintenance mode in prod: on → off")


def test_secrets_a_container_logs_reach_neither_the_reply_nor_the_audit_log(docker_host, store, clock, tmp_path):
    """The corpus printed by a real container on the test engine, read back through `/ops logs`."""
    from bot.app import build_services
    from commands.base import Context
    from commands.router import Router
    from tests.redaction_corpus import SECRETS

    name = f"t{uuid.uuid4().hex[:8]}"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(line for _, line, _ in SECRETS) + "\n")
    client = docker.DockerClient(base_url=docker_host)
    container = client.containers.create(
        "opsbot-busybox:2", ["sh", "-c", "cat /corpus.txt; trap 'exit 0' TERM; sleep 3600 & wait"],
        name=f"{name}-api-1", network_mode="none",
        labels={"com.docker.compose.project": name, "com.docker.compose.service": "api",
                "com.docker.compose.container-number": "1"})
    import io
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(str(corpus), arcname="corpus.txt")
    container.put_archive("/", archive.getvalue())
    container.start()
    try:
        router = Router(build_services(store, catalog(name, docker_host), clock=clock))
        wait_until(lambda: "pool" in container.logs().decode() or len(container.logs()) > 1000)
        reply = router.handle("/ops", "logs api prod --tail 2000", Context(user="U_OPS"))
        shown = reply.text + str(reply.blocks) + (reply.file.content if reply.file else "")
        assert reply.ok and "***" in shown
        audit = " ".join((r.excerpt or "") + str(r.args) for r in store.audit_records())
        leaked = [kind for kind, _, secret in SECRETS if secret in shown or secret in audit]
        assert leaked == []
    finally:
        container.remove(force=True)
        client.close()


def test_parallel_scales_of_one_service_run_one_at_a_time(project, docker_host, store, clock):
    """Ten operators scale the same service at once: one lease, one change; the others are told who holds it,
    and the engine never sees two of them (no container name conflicts)."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.errors import ConflictError

    cat = catalog(project, docker_host)
    cat.environments["prod"].protected = False
    ops = OpsService(store, cat, (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(), clock=clock)

    def scale(i: int):
        try:
            return ops.request(Actor(f"U_{i}", "C1", "/ops scale api prod 4"), "prod", "scale", "api",
                               {"replicas": 4}).kind
        except ConflictError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(scale, range(10)))
    assert "done" in results
    # the others: refused while it runs, or — once it is done — told there is nothing left to change
    assert all(r == "done" or "being changed right now by @U_" in r or "already runs 4 replicas" in r
               for r in results), results
    assert results.count("done") == 1
    assert DockerPlatform("prod", cat.environments["prod"]).replicas("api") == 4


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_platform_contract(platform, case):
    case(platform, "api")


def test_deploy_recreates_on_the_new_tag_keeping_the_spec_and_refuses_what_cannot_be(platform, project, docker_host):
    """A version the engine has: every container recreated on it, the rest of its inspect spec unchanged (name,
    labels, command, network); one the engine lacks is refused before anything changes (opsbot never pulls);
    the version already running and a rollback to it are refused too."""
    client = docker.DockerClient(base_url=docker_host)

    def spec(name: str) -> dict:
        attrs = client.containers.get(name).attrs
        return {"cmd": attrs["Config"]["Cmd"], "network": attrs["HostConfig"]["NetworkMode"],
                "labels": {k: v for k, v in attrs["Config"]["Labels"].items() if not k.startswith("opsbot.")}}

    before = spec(f"{project}-api-1")
    with pytest.raises(ConflictError, match="has no image opsbot-busybox:9.9.9: pull or build it there first"):
        platform.deploy_plan("api", "opsbot-busybox:9.9.9")
    with pytest.raises(ConflictError, match="already runs opsbot-busybox:2; nothing to deploy"):
        platform.deploy_plan("api", "opsbot-busybox:2")
    assert platform.deploy_plan("api", "opsbot-busybox:1").startswith("2 container(s): opsbot-busybox:2 → opsbot-busybox:1")
    assert platform.deploy("api", "opsbot-busybox:1", 60) == "recreated 2 container(s) of api on opsbot-busybox:1"
    [state] = platform.status()
    assert (state.image, state.running, state.desired) == ("opsbot-busybox:1", 2, 2)
    after = spec(f"{project}-api-1")
    assert after["cmd"] == before["cmd"] and after["network"] == before["network"]
    assert {k: v for k, v in after["labels"].items() if "config-hash" not in k} == \
        {k: v for k, v in before["labels"].items() if "config-hash" not in k}
    assert platform.rollback_plan("api") == "image opsbot-busybox:1 → opsbot-busybox:2"


def test_describe_tells_each_container_state_restarts_and_last_exit(platform, project, docker_host):
    client = docker.DockerClient(base_url=docker_host)
    client.containers.get(f"{project}-api-2").stop(timeout=1)
    described = platform.describe("api")
    assert f"container {project}-api-1: running, 0 restarts, image opsbot-busybox:2" in described
    assert f"container {project}-api-2: exited" in described and "; exited " in described
    with pytest.raises(UsageError, match="runs Docker containers, not pods"):
        platform.delete_pod_plan("api-1")


def test_a_runbook_action_with_exec_runs_inside_the_service_container(project, docker_host, store, clock):
    """`exec: {service: api}` — the runbooks' `docker compose exec postgres pg_isready`: the argv runs in the
    service's first running container (its hostname is the container's, not this machine's), its output redacted;
    a non-zero exit fails the run with the output."""
    from bot.config.environments import RunbookAction

    cat = catalog(project, docker_host)
    cat.environments["prod"].protected = False
    cat.environments["prod"].runbook["inside"] = RunbookAction.model_validate({
        "argv": ["sh", "-c", "echo host=$(hostname); echo DB_PASSWORD=Hunter2Secret"], "exec": {"service": "api"}})
    cat.environments["prod"].runbook["broken"] = RunbookAction.model_validate({
        "argv": ["sh", "-c", "echo failing; exit 3"], "exec": {"service": "api"}})
    ops = OpsService(store, cat, (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(), clock=clock)
    client = docker.DockerClient(base_url=docker_host)
    first = client.containers.get(f"{project}-api-1")
    done = ops.request(Actor("U_OPS", "C1", "/ops run inside prod"), "prod", "run", "inside", {})
    assert done.kind == "done" and f"host={first.attrs['Config']['Hostname']}" in done.output
    assert "Hunter2Secret" not in done.output and "DB_PASSWORD=***" in done.output
    with pytest.raises(BackendError, match=r"broken inside api's container exited with status 3: failing"):
        ops.request(Actor("U_OPS", "C1", "/ops run broken prod"), "prod", "run", "broken", {})


def test_config_secret_and_resources_on_the_engine(platform, project, docker_host):
    """Environment keys changed by recreating each container faithfully; a secret written into the listed services'
    environment and never into the outcome; memory and CPU limits updated in place (no restart)."""
    from bot.config.environments import SecretSpec, ServiceConfig

    client = docker.DockerClient(base_url=docker_host)
    platform.env.services["api"] = platform.env.services["api"].model_copy(update={
        "config": ServiceConfig(keys=["LOG_LEVEL"])})

    def env_of(name: str) -> list[str]:
        return client.containers.get(name).attrs["Config"]["Env"]

    assert platform.config_values("api", ["LOG_LEVEL"]) == {"LOG_LEVEL": None}
    assert platform.set_config("api", {"LOG_LEVEL": "debug"}, restart=False).startswith("LOG_LEVEL=debug; recreated ")
    assert "LOG_LEVEL=debug" in env_of(f"{project}-api-1") and "LOG_LEVEL=debug" in env_of(f"{project}-api-2")
    secret = SecretSpec(key="JWT_SECRET", restart=["api"])
    written = platform.set_secret(secret, "n3w-s3cr3t-value-0123456789")
    assert "n3w-s3cr3t" not in written and written.startswith("environment variable JWT_SECRET of api written")
    assert "JWT_SECRET=n3w-s3cr3t-value-0123456789" in env_of(f"{project}-api-1")
    assert "LOG_LEVEL=debug" in env_of(f"{project}-api-1")  # the rest of the environment kept
    started = client.containers.get(f"{project}-api-1").attrs["State"]["StartedAt"]
    assert platform.resources_plan("api", "64Mi", "500m") == \
        "2 container(s): memory (no limit) → 64Mi, cpu (no limit) → 500m (docker update, no restart)"
    platform.set_resources("api", "64Mi", "500m")
    host = client.containers.get(f"{project}-api-1").attrs["HostConfig"]
    assert host["Memory"] == 64 << 20 and host["CpuQuota"] == 50_000 and host["CpuPeriod"] == 100_000
    assert client.containers.get(f"{project}-api-1").attrs["State"]["StartedAt"] == started
    [state] = platform.status()
    assert state.running == 2


def test_a_host_network_service_listening_on_a_port_is_not_scaled_past_one(platform, project, docker_host):
    """The clone would crash-loop on the bound port after "Done": refused at plan time, nothing created."""
    client = docker.DockerClient(base_url=docker_host)
    client.api.create_container("opsbot-busybox:1", ["sleep", "60"], name=f"{project}-edge-1", ports=[8080],
                                host_config=client.api.create_host_config(network_mode="host"),
                                labels={"com.docker.compose.project": project, "com.docker.compose.service": "edge",
                                        "com.docker.compose.container-number": "1"})
    platform.env.services["edge"] = platform.env.services["api"].model_copy(update={"docker_service": "edge"})
    with pytest.raises(ConflictError, match="runs on the host's network and listens on port 8080"):
        platform.scale_plan("edge", 2)
    assert len(client.containers.list(all=True, filters={"label": "com.docker.compose.service=edge"})) == 1
