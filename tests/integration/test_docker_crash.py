"""opsbot killed with SIGKILL in the middle of a Docker rollback, at each step of the container replace, then the
reconciliation: every replica is one container again, on the image its step reached, running as it was, no
`-opsbot-old-` container is left, the status counts right, and the attempt is recorded `reconciled`.

The rollback runs through the ops service in a child Python process that pauses right after the step under test
(the step's function is wrapped inside that process); the test kills it there with SIGKILL, as the OOM killer or
`kill -9` would: no `finally`, no lease released, no outcome written."""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import docker
import pytest

from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.ops import OpsService
from bot.platforms import Platforms
from bot.platforms.docker import DockerPlatform
from bot.platforms.script import ScriptRunner
from bot.store.sqlite import SqliteStore
from bot.timeparse import utcnow
from tests.integration.test_docker_platform import docker_host, project  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
NEW, OLD = "opsbot-busybox:1", "opsbot-busybox:2"  # the rollback goes from OLD (running) to NEW (the previous image)

# Runs one action through the ops service and pauses for ever right after `step` of the first container's replace.
CHILD = r"""
import json, sys, time
import docker.api.container, docker.models.containers
from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.ops import Actor, OpsService
from bot.platforms import Platforms, docker_recreate
from bot.platforms.docker import DockerPlatform
from bot.platforms.script import ScriptRunner
from bot.store.sqlite import SqliteStore

step, url, catalog, action, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])

def pause_after(owner, name, when=lambda *a, **k: True):
    original = getattr(owner, name)
    def wrapped(*a, **k):
        result = original(*a, **k)
        if when(*a, **k):
            print("AT", step, flush=True)
            time.sleep(3600)
        return result
    setattr(owner, name, wrapped)

where = {"intent": (DockerPlatform, "_note", lambda self, service, name, intent: intent is not None),
         "stop": (docker.models.containers.Container, "stop"),
         "rename": (docker.models.containers.Container, "rename"),
         "create": (docker_recreate, "create"),
         "start": (docker.api.container.ContainerApiMixin, "start"),
         "remove": (docker.models.containers.Container, "remove")}[step]
pause_after(*where)
store = SqliteStore(url)
platforms = Platforms(store)
ops = OpsService(store, Catalog.model_validate(catalog), platforms, CheckRunner(platforms), ScriptRunner())
ops.request(Actor("U_OPS", "C1", f"/ops {action} api prod"), "prod", action, "api" if action != "maintenance" else None, args)
print("DONE", flush=True)
"""


def catalog_doc(compose: str, host: str) -> dict:
    return {"environments": {"prod": {
        "platform": {"kind": "docker", "project": compose, "host": host},
        "services": {"api": {"docker_service": "api", "max_replicas": 5}},
        "maintenance": {"key": "MAINTENANCE_MODE", "restart": ["api"]}}}}


def killed_at(step: str, url: str, compose: str, host: str, action: str = "rollback", args: dict | None = None) -> None:
    """Run the action in a child process; SIGKILL it once it reports it is past `step`."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, step, url, json.dumps(catalog_doc(compose, host)), action, json.dumps(args or {})],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            line = ""
            while time.monotonic() < deadline and not line:
                if selector.select(timeout=deadline - time.monotonic()):
                    line = child.stdout.readline() or "EOF"
        assert line.strip() == f"AT {step}", f"{line!r}: {child.stderr.read() if child.poll() is not None else ''}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def containers(client, compose: str) -> dict[str, tuple[str, str]]:
    """name → (status, image) of every container of the project, parked ones included."""
    found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={compose}"})
    return {c.name: (c.status, c.attrs["Config"]["Image"]) for c in found}


@pytest.fixture
def store(sqlite_url):
    store = SqliteStore(sqlite_url)
    store.migrate()
    yield store
    store.close()


def reconciler(store, compose: str, host: str) -> OpsService:
    """The restarted opsbot, once the dead process's lease has lapsed (it is renewed only while its holder lives)."""
    platforms = Platforms(store)
    return OpsService(store, Catalog.model_validate(catalog_doc(compose, host)), platforms, CheckRunner(platforms),
                      ScriptRunner(), clock=lambda: utcnow() + timedelta(minutes=16))


# step → (what every replica runs afterwards, what the reconciliation says it did): the first replica's replace is
# finished or undone, and the batch is then brought to one image — finished on the new one when the first replica
# runs it, else left on the old one.
FINISHED_BATCH = f"finished the batch: {{p}}-api-2 recreated on {NEW}, as {{p}}-api-1 already were"
STEPS = {
    "intent": (OLD, "{p}-api-1 had not been changed yet"),
    "stop": (OLD, f"restored the old container {{p}}-api-1 ({OLD})"),
    "rename": (OLD, f"restored the old container {{p}}-api-1 ({OLD})"),
    "create": (OLD, f"restored the old container {{p}}-api-1 ({OLD})"),
    "start": (NEW, f"finished: {{p}}-api-1 is on {NEW}; removed the old container ({OLD}); " + FINISHED_BATCH),
    "remove": (NEW, f"finished: {{p}}-api-1 runs {NEW}; " + FINISHED_BATCH),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_rollback_killed_at_each_step_is_finished_or_undone(step, project, docker_host, store, sqlite_url):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    killed_at(step, sqlite_url, project, docker_host)
    left = containers(client, project)
    platform = DockerPlatform("prod", Catalog.model_validate(catalog_doc(project, docker_host)).environments["prod"])
    # before anything is settled, a parked container is no replica
    assert platform.replicas("api") == len([name for name in left if "-opsbot-old-" not in name])
    [started] = [r for r in store.audit_records() if r.phase == "started"]

    [done] = reconciler(store, project, docker_host).reconcile()

    image, said = STEPS[step]
    assert containers(client, project) == {f"{project}-api-1": ("running", image), f"{project}-api-2": ("running", image)}
    [state] = platform.status()
    assert (state.running, state.desired) == (2, 2)
    assert (done.record.attempt, done.record.phase, done.record.user) == (started.attempt, "reconciled", "scheduler")
    assert done.record.excerpt == "opsbot stopped mid-way; " + said.format(p=project)
    memory = store.recall(f"docker/{docker_host}/{project}/api") or {}
    assert memory.get("replacing") == {}
    assert reconciler(store, project, docker_host).reconcile() == []  # a second process finds nothing to do
    client.close()


def test_a_stopped_container_is_never_started_by_the_reconciliation(project, docker_host, store, sqlite_url):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    client.containers.get(f"{project}-api-1").stop(timeout=1)
    killed_at("rename", sqlite_url, project, docker_host)
    [done] = reconciler(store, project, docker_host).reconcile()
    assert containers(client, project) == {f"{project}-api-1": ("exited", OLD), f"{project}-api-2": ("running", OLD)}
    assert done.record.excerpt == (f"opsbot stopped mid-way; restored the old container {project}-api-1 ({OLD}), "
                                   "stopped as it was")
    client.close()


def test_maintenance_mode_killed_mid_way_is_undone(project, docker_host, store, sqlite_url):  # noqa: F811
    client = docker.DockerClient(base_url=docker_host)
    killed_at("create", sqlite_url, project, docker_host, action="maintenance", args={"on": True})
    [done] = reconciler(store, project, docker_host).reconcile()
    assert containers(client, project) == {f"{project}-api-1": ("running", OLD), f"{project}-api-2": ("running", OLD)}
    assert all("MAINTENANCE_MODE=true" not in (c.attrs["Config"]["Env"] or [])
               for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"}))
    assert done.record.action == "maintenance" and "restored the old container" in (done.record.excerpt or "")
    client.close()


def test_a_parked_container_without_a_recorded_intent_is_not_a_replica_and_is_put_back(project, docker_host):  # noqa: F811
    """Left by an opsbot from before intents were recorded: renamed back, left stopped (whether it ran is unknown)."""
    client = docker.DockerClient(base_url=docker_host)
    old = client.containers.get(f"{project}-api-1")
    old.stop(timeout=1)
    old.rename(f"{project}-api-1-opsbot-old-{old.short_id}")
    platform = DockerPlatform("prod", Catalog.model_validate(catalog_doc(project, docker_host)).environments["prod"])
    assert platform.replicas("api") == 1 and platform.restart("api") == f"restarted {project}-api-2"
    assert client.containers.get(old.id).status == "exited"  # restart never started it
    assert "left stopped" in (platform.reconcile("api") or "")
    assert containers(client, project)[f"{project}-api-1"] == ("exited", OLD)
    assert platform.reconcile("api") is None
    client.close()


def test_a_scale_cut_short_is_finished_as_confirmed(project, docker_host, store):  # noqa: F811
    """The state a kill -9 leaves in the middle of `scale 2 → 3`: the clone created, never started (counted as
    desired, not running). Reconciliation starts it; a scale down cut short loses its extra replica."""
    client = docker.DockerClient(base_url=docker_host)
    platform = DockerPlatform("prod", Catalog.model_validate(catalog_doc(project, docker_host)).environments["prod"],
                              memory=Platforms(store).memory)
    template = client.containers.get(f"{project}-api-1")
    labels = {**template.labels, "com.docker.compose.container-number": "3"}
    client.containers.create(template.image.id, template.attrs["Config"]["Cmd"], name=f"{project}-api-3",
                             labels=labels, network_mode="none")
    platform._remember("api", scaling={"to": 3})
    [state] = platform.status()
    assert (state.running, state.desired) == (2, 3)
    said = platform.reconcile("api")
    assert said == f"finished the scale to 3: started {project}-api-3; 3 running"
    assert platform.status()[0].running == 3 and platform.reconcile("api") is None
    platform._remember("api", scaling={"to": 1})  # cut short before it removed anything
    assert platform.reconcile("api") == f"finished the scale to 1: removed {project}-api-3, removed {project}-api-2; 1 running"
    client.close()


def test_an_environment_batch_cut_short_is_brought_to_agree(project, docker_host, store):  # noqa: F811
    """The state a kill -9 leaves in the middle of `/ops config api prod set LOG_LEVEL=debug` (or maintenance, or a
    secret rotation): api-1 recreated with the new value, api-2 not. Finished when api-1 runs (api-2 takes its value,
    copied container to container); undone when it does not (it takes api-2's back)."""
    from bot.platforms import docker_recreate as recreate
    from bot.platforms.docker_config import env_of

    client = docker.DockerClient(base_url=docker_host)
    platform = DockerPlatform("prod", Catalog.model_validate(catalog_doc(project, docker_host)).environments["prod"],
                              memory=Platforms(store).memory)
    names = [f"{project}-api-1", f"{project}-api-2"]

    def half_done() -> None:
        first = client.containers.get(names[0])
        env = [item for item in first.attrs["Config"]["Env"] or [] if not item.startswith("LOG_LEVEL=")]
        platform._replace(client, "api", first, recreate.create_request(
            first.attrs, recreate.image_config(client, first.attrs), env=[*env, "LOG_LEVEL=debug"]))
        platform._remember("api", env_batch={"keys": ["LOG_LEVEL"], "names": names, "done": names[:1]})

    half_done()
    assert platform.reconcile("api") == f"finished the batch: {names[1]} given LOG_LEVEL as {names[0]} has them"
    assert [env_of(client.containers.get(name)).get("LOG_LEVEL") for name in names] == ["debug", "debug"]
    assert "debug" not in json.dumps(store.recall(f"docker/{docker_host}/{project}/api"))  # names, never values

    client.containers.get(names[1]).stop(timeout=1)  # now a batch whose done container does not run
    platform._remember("api", env_batch={"keys": ["LOG_LEVEL"], "names": names[::-1], "done": [names[1]]})
    first = client.containers.get(names[0])
    env = [item for item in first.attrs["Config"]["Env"] or [] if not item.startswith("LOG_LEVEL=")]
    platform._replace(client, "api", first, recreate.create_request(
        first.attrs, recreate.image_config(client, first.attrs), env=[*env, "LOG_LEVEL=info"]))
    assert platform.reconcile("api") == f"undid the batch: {names[1]} given back LOG_LEVEL as {names[0]} has them"
    assert env_of(client.containers.get(names[1])).get("LOG_LEVEL") == "info"
    client.close()
