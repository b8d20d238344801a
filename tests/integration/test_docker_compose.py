"""The Docker platform on a real docker-compose 1.29 project (scripts/start-docker.sh installs it) on the test
engine: every opsbot action leaves each container's whole spec as Compose made it, apart from the intended change,
the service still answers, and `docker-compose up -d` afterwards does what the README says."""
from __future__ import annotations

import os
import re
import subprocess
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest

from bot.config import Catalog
from bot.core.ops import Actor
from bot.errors import ConflictError
from bot.platforms.docker import DockerPlatform
from bot.platforms.docker_recreate import create_request
from tests.integration.test_docker_platform import catalog, docker_host, ops, platform, project  # noqa: F401
from tests.poll import wait_until

# A service with a bind mount (the served files), a named and an anonymous volume, environment variables, a
# healthcheck, an ephemeral published port on a user-defined network with an alias, a user, a working directory,
# labels, a restart policy, a memory limit, a dropped capability, an extra host and log options.
COMPOSE = """
version: "2.4"
services:
  web:
    image: opsbot-busybox:2
    command: ["sh", "-c", "trap 'exit 0' TERM; busybox httpd -f -p 8080 -h /www & wait"]
    user: "0:0"  # explicit (the images' root directory is not readable by other users)
    working_dir: /www
    environment:
      GREETING: hello
      MAINTENANCE_MODE: "false"
    volumes: ["./www:/www:ro", "data:/data", "/cache"]
    ports: ["127.0.0.1::8080"]
    networks:
      front:
        aliases: [web-alias]
    healthcheck:
      test: ["CMD", "busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/index.html"]
      interval: 1s
      timeout: 2s
      retries: 3
    labels:
      opsbot.previous-image: opsbot-busybox:1
      team: oncall
    restart: unless-stopped
    mem_limit: 64m
    cap_drop: [NET_RAW]
    extra_hosts: ["db.internal:10.1.2.3"]
    logging:
      driver: json-file
      options: {max-size: 1m}
volumes:
  data: {}
networks:
  front: {}
"""
HASH = "com.docker.compose.config-hash"


class Project:
    def __init__(self, root: Path, host: str):
        self.name = f"oc{uuid.uuid4().hex[:8]}"
        self.root, self.host = root, host
        self.client = docker.DockerClient(base_url=host)
        self.volumes: set[str] = set()  # every volume seen mounted, removed at the end

    def compose(self, *args: str) -> str:
        done = subprocess.run(["docker-compose", "-p", self.name, "-f", str(self.root / "docker-compose.yml"), *args],
                              check=False, capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_HOST": self.host})
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    def containers(self) -> list[dict]:
        found = self.client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.name}"})
        self.volumes |= {m["Name"] for c in found for m in c.attrs["Mounts"] if m["Type"] == "volume"}
        return sorted((c.attrs for c in found), key=lambda a: int(a["Config"]["Labels"]["com.docker.compose.container-number"]))

    def platform(self) -> DockerPlatform:
        catalog = Catalog.model_validate({"environments": {"prod": {
            "platform": {"kind": "docker", "project": self.name, "host": self.host},
            "services": {"web": {"max_replicas": 5, "config": {"keys": ["LOG_LEVEL"]}}},
            "secrets": {"jwt": {"key": "JWT_SECRET", "restart": ["web"]}},
            "maintenance": {"key": "MAINTENANCE_MODE", "restart": ["web"]}}}})
        return DockerPlatform("prod", catalog.environments["prod"])


def anonymous(name: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{64}", name))


def spec(attrs: dict) -> dict:
    """Everything a container was created with, minus what the engine makes up for each container: its id as
    hostname and network alias, the name of an anonymous volume (see `cache_volume`) and the bind that carries
    it over when a container is recreated (as Compose does)."""
    short_id = attrs["Id"][:12]
    config = {k: v for k, v in attrs["Config"].items() if k != "Hostname"}
    host = {**attrs["HostConfig"], "Binds": [b for b in attrs["HostConfig"]["Binds"] if not anonymous(b.split(":")[0])]}
    mounts = sorted((m["Type"], "<anonymous>" if anonymous(m.get("Name") or "") else m.get("Name") or m["Source"],
                     m["Destination"], m["RW"]) for m in attrs["Mounts"])
    networks = {name: sorted(a for a in n["Aliases"] or [] if a != short_id)
                for name, n in attrs["NetworkSettings"]["Networks"].items()}
    return {"Config": config, "HostConfig": host, "Mounts": mounts, "Networks": networks}


def cache_volume(attrs: dict) -> str:
    return next(m["Name"] for m in attrs["Mounts"] if m["Destination"] == "/cache")


def changed(attrs: dict, **labels: str | None) -> dict:
    """The original spec with some labels changed (None: removed)."""
    result = spec(attrs)
    result["Config"] = {**result["Config"], "Labels": {k: v for k, v in {**result["Config"]["Labels"], **labels}.items()
                                                       if v is not None}}
    return result


def answers(attrs: dict) -> str:
    port = attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=3) as response:
        return response.read().decode()


def healthy(stack: Project, count: int) -> list[dict]:
    """Waits until `count` containers run and pass their healthcheck (so the healthcheck was copied and works)."""
    wait_until(lambda: [a["State"].get("Health", {}).get("Status") for a in stack.containers()] == ["healthy"] * count,
               timeout=30, what=f"{count} healthy containers")
    return stack.containers()


@pytest.fixture
def compose_project(docker_host, tmp_path):  # noqa: F811
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the bind mount\n")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    stack = Project(tmp_path, docker_host)
    try:
        stack.compose("up", "-d")
        yield stack
    finally:
        for container in stack.client.containers.list(all=True, filters={"name": stack.name}):
            container.remove(force=True, v=True)  # with their anonymous volumes, even after a failed test
        stack.compose("down", "-v", "--remove-orphans")  # the network and the named volume
        for name in stack.volumes:  # an anonymous volume a Compose recreate left behind
            try:
                stack.client.volumes.get(name).remove()
            except docker.errors.NotFound:
                pass
        stack.client.close()


def test_scale_restart_stop_and_start_keep_the_compose_spec_and_compose_agrees(compose_project):
    stack = compose_project
    [original] = healthy(stack, 1)
    web = stack.platform()

    web.restart("web")
    web.scale("web", 3)
    first, *clones = healthy(stack, 3)
    assert first["Id"] == original["Id"] and spec(first) == spec(original)
    for number, clone in enumerate(clones, start=2):
        assert spec(clone) == changed(original, **{"com.docker.compose.container-number": str(number)})
        assert clone["Name"] == f"/{stack.name}_web_{number}" and answers(clone) == "hello from the bind mount\n"
    web.scale("web", 1)
    assert [a["Id"] for a in stack.containers()] == [original["Id"]]  # the highest-numbered go first

    web.stop("web")
    [stopped] = stack.containers()
    assert stopped["Id"] == original["Id"] and stopped["State"]["Status"] == "exited"
    assert "Exit 0" in stack.compose("ps")
    web.start("web")
    [again] = healthy(stack, 1)
    assert again["Id"] == original["Id"] and answers(again) == "hello from the bind mount\n"

    # Scale to 0 keeps the spec (in the web memory): scaling up again makes the same container.
    web.scale("web", 0)
    assert stack.containers() == []
    web.scale("web", 1)
    [recreated] = healthy(stack, 1)
    assert spec(recreated) == spec(original) and answers(recreated) == "hello from the bind mount\n"

    # Compose agrees: the container is its own, up to date; `up -d` changes nothing.
    output = stack.compose("up", "-d")
    assert "is up-to-date" in output and "Recreating" not in output and "Creating" not in output.replace("Creating network", "")
    assert [a["Id"] for a in stack.containers()] == [recreated["Id"]]


def test_rollback_and_maintenance_change_only_their_field_and_compose_bookkeeping_stays_true(compose_project):
    stack = compose_project
    [original] = healthy(stack, 1)
    web = stack.platform()
    compose_hash = original["Config"]["Labels"][HASH]

    assert web.rollback_plan("web") == "image opsbot-busybox:2 → opsbot-busybox:1"
    web.rollback("web")
    [rolled] = healthy(stack, 1)
    expected = changed(original, **{"opsbot.previous-image": "opsbot-busybox:2", HASH: f"changed-by-opsbot-{compose_hash[:12]}",
                                    "opsbot.compose-config-hash": compose_hash})
    expected["Config"]["Labels"]["opsbot.compose-spec"] = rolled["Config"]["Labels"]["opsbot.compose-spec"]
    expected["Config"]["Image"] = "opsbot-busybox:1"
    assert spec(rolled) == expected and answers(rolled) == "hello from the bind mount\n"
    assert cache_volume(rolled) == cache_volume(original)  # the same anonymous volume, its data kept
    assert f"{stack.name}_web_1" in (ps := stack.compose("ps")) and "Up (healthy)" in ps

    # Rolling forward again returns the container to exactly what Compose made: Compose calls it up to date.
    assert web.rollback_plan("web") == "image opsbot-busybox:1 → opsbot-busybox:2"
    web.rollback("web")
    [forward] = healthy(stack, 1)
    assert spec(forward) == spec(original)
    assert "is up-to-date" in stack.compose("up", "-d")
    assert [a["Id"] for a in stack.containers()] == [forward["Id"]]

    # Maintenance on changes one variable; off puts it back, and the compose hash with it.
    web.set_maintenance(True)
    [on] = healthy(stack, 1)
    assert "MAINTENANCE_MODE=true" in on["Config"]["Env"] and on["Config"]["Labels"][HASH] != compose_hash
    assert spec(on)["HostConfig"] == spec(original)["HostConfig"] and spec(on)["Mounts"] == spec(original)["Mounts"]
    web.set_maintenance(False)
    [off] = healthy(stack, 1)
    assert spec(off) == spec(original) and answers(off) == "hello from the bind mount\n"
    assert "is up-to-date" in stack.compose("up", "-d")

    # A rollback Compose has not been told about: `up -d` recreates from the compose file (documented), loudly.
    web.rollback("web")
    output = stack.compose("up", "-d")
    assert "Recreating" in output
    [compose_made] = healthy(stack, 1)
    assert compose_made["Config"]["Image"] == "opsbot-busybox:2" and compose_made["Config"]["Labels"][HASH] == compose_hash


def test_deploy_config_secret_and_resources_change_only_their_fields(compose_project):
    """Against docker-compose 1.29's own containers, the whole inspect spec before and after: a deploy changes the
    image (and opsbot's labels), config and a secret only their environment variables, resources only the limits."""
    from bot.config.environments import SecretSpec

    stack = compose_project
    [original] = healthy(stack, 1)
    web = stack.platform()
    compose_hash = original["Config"]["Labels"][HASH]
    web.deploy("web", "opsbot-busybox:1", 60)
    [deployed] = healthy(stack, 1)
    expected = changed(original, **{"opsbot.previous-image": "opsbot-busybox:2", HASH: f"changed-by-opsbot-{compose_hash[:12]}",
                                    "opsbot.compose-config-hash": compose_hash})
    expected["Config"]["Labels"]["opsbot.compose-spec"] = deployed["Config"]["Labels"]["opsbot.compose-spec"]
    expected["Config"]["Image"] = "opsbot-busybox:1"
    assert spec(deployed) == expected and answers(deployed) == "hello from the bind mount\n"
    web.deploy("web", "opsbot-busybox:2", 60)  # back to what Compose made: it calls it up to date
    [back] = healthy(stack, 1)
    assert spec(back) == spec(original)

    web.set_config("web", {"LOG_LEVEL": "debug"}, restart=False)
    web.set_secret(SecretSpec(key="JWT_SECRET", restart=["web"]), "s3cr3t-value-for-the-test-0001")
    [configured] = healthy(stack, 1)
    before, after = spec(original), spec(configured)
    assert after["HostConfig"] == before["HostConfig"] and after["Mounts"] == before["Mounts"]
    assert after["Networks"] == before["Networks"]
    assert set(after["Config"]["Env"]) - set(before["Config"]["Env"]) == {"LOG_LEVEL=debug",
                                                                          "JWT_SECRET=s3cr3t-value-for-the-test-0001"}
    assert {k: v for k, v in after["Config"].items() if k not in ("Env", "Labels")} == \
        {k: v for k, v in before["Config"].items() if k not in ("Env", "Labels")}

    web.set_resources("web", "256Mi", "500m")
    [limited] = stack.containers()
    host = spec(limited)["HostConfig"]
    assert (host["Memory"], host["CpuQuota"], host["CpuPeriod"]) == (256 << 20, 50_000, 100_000)
    assert {k: v for k, v in host.items() if k not in ("Memory", "MemorySwap", "CpuQuota", "CpuPeriod")} == \
        {k: v for k, v in after["HostConfig"].items() if k not in ("Memory", "MemorySwap", "CpuQuota", "CpuPeriod")}
    assert limited["Id"] == configured["Id"]  # updated in place, not recreated


# --- on the Compose-labelled busybox project of test_docker_platform -------------------------------------------
def test_the_previous_image_is_remembered_in_the_store_when_the_label_is_lost(project, docker_host, store):  # noqa: F811
    env = catalog(project, docker_host).environments["prod"]
    DockerPlatform("prod", env, memory=store).rollback("api")  # 2 → 1
    client = docker.DockerClient(base_url=docker_host)
    for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
        labels = {k: v for k, v in container.labels.items() if k != "opsbot.previous-image"}
        container.remove(force=True)  # recreated elsewhere without opsbot's label (e.g. by Compose)
        client.containers.create("opsbot-busybox:1", ["sleep", "60"], network_mode="none", labels=labels)
    client.close()
    # Another opsbot process (a restart, a replica) knows the way back from the store.
    assert DockerPlatform("prod", env, memory=store).rollback_plan("api") == "image opsbot-busybox:1 → opsbot-busybox:2"


def test_a_container_opsbot_cannot_recreate_faithfully_is_refused_and_nothing_changes(platform, project, docker_host):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    client.containers.run("opsbot-busybox:2", ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], detach=True,
                          auto_remove=True, network_mode="none", name=f"{project}-api-3",
                          labels={"com.docker.compose.project": project, "com.docker.compose.service": "api",
                                  "com.docker.compose.container-number": "3"})
    before = {c.id: c.status for c in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})}
    for action in (lambda: platform.rollback("api"), lambda: platform.set_maintenance(True)):
        with pytest.raises(ConflictError, match=rf"{project}-api-3 cannot be recreated faithfully: HostConfig.AutoRemove"):
            action()
    after = {c.id: c.status for c in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})}
    assert after == before and set(after.values()) == {"running"}
    client.close()


def test_a_setting_opsbot_does_not_know_is_refused_by_name(platform, project, docker_host):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    attrs = client.containers.get(f"{project}-api-1").attrs
    image = client.api.inspect_image(attrs["Image"])["Config"]
    assert create_request(attrs, image)["HostConfig"]["NetworkMode"] == "none"
    attrs["HostConfig"]["FutureIsolation"] = {"level": "strict"}  # what a newer engine might report
    with pytest.raises(ConflictError, match="does not know the setting HostConfig.FutureIsolation"):
        create_request(attrs, image)
    attrs["HostConfig"]["FutureIsolation"] = None  # unset: nothing is lost by not copying it
    create_request(attrs, image)
    client.close()


def test_scaling_past_one_with_a_fixed_host_port_is_refused(platform, project, docker_host):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
        container.remove(force=True)
    network = client.networks.create(f"{project}-net")
    try:
        client.containers.create("opsbot-busybox:2", ["sleep", "60"], name=f"{project}-api-1", network=network.name,
                                 ports={"8080/tcp": ("127.0.0.1", 18931)},
                                 labels={"com.docker.compose.project": project, "com.docker.compose.service": "api",
                                         "com.docker.compose.container-number": "1"})
        with pytest.raises(ConflictError, match="fixed host port 18931"):
            platform.scale_plan("api", 2)  # refused when the plan is made, before anyone confirms it
        with pytest.raises(ConflictError, match="fixed host port 18931"):
            platform.scale("api", 2)
        assert platform.replicas("api") == 1
        assert platform.scale_plan("api", 0) == "1 → 0 replicas"
    finally:
        for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            container.remove(force=True)
        network.remove()
        client.close()


def test_stop_is_planned_confirmed_and_audited_and_start_resumes(ops, platform, store):  # noqa: F811
    actor = Actor("U_OPS", "C1", "/ops stop api prod")
    planned = ops.request(actor, "prod", "stop", "api", {})
    assert planned.summary == "stop api in prod: 2 of 2 container(s) running → all stopped"
    assert platform.status()[0].running == 2  # nothing happens before confirmation
    done = ops.confirm(actor, planned.plan.id)
    assert done.kind == "done" and platform.status()[0].running == 0 and platform.replicas("api") == 2
    assert [r.phase for r in store.audit_records()] == ["requested", "confirmed", "started", "succeeded"]
    start = ops.request(Actor("U_OPS", "C1", "/ops start api prod"), "prod", "start", "api", {}, confirmed=True)
    assert start.summary == "start api in prod: 0 of 2 container(s) running → all running"
    assert platform.status()[0].running == 2
