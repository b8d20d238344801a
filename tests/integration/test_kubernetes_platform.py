"""The Kubernetes platform: the official client against kmock's Kubernetes API emulator over HTTP."""
from __future__ import annotations

import asyncio
import threading

import kmock
import pytest
from kubernetes import client

from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.grep import LineFilter
from bot.core.ops import Actor, OpsService
from bot.errors import BackendError, ConflictError, UsageError
from bot.platforms import Platforms
from bot.platforms.kubernetes import KubernetesPlatform
from bot.platforms.script import ScriptRunner
from tests.platform_contract import CASES, case_id

NS = "production"


class Emulator:
    """kmock's KubernetesEmulator served on a loopback port from its own event loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._stop = None

        async def main():
            self.emulator = kmock.KubernetesEmulator()
            await self.emulator.__aenter__()
            for resource in ("apps/v1/deployments", "apps/v1/replicasets", "v1/pods", "v1/configmaps", "v1/events",
                             "v1/services", "v1/secrets"):
                self.emulator.resources[resource] = {}
            self.server = kmock.Server(self.emulator)
            await self.server.__aenter__()
            self._stop = asyncio.Event()
            ready.set()
            await self._stop.wait()
            await self.server.__aexit__(None, None, None)
            await self.emulator.__aexit__(None, None, None)

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(main()), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = str(self.server.url).rstrip("/")

    def on_get(self, path: str, payload: bytes) -> None:
        self.loop.call_soon_threadsafe(lambda: self.emulator[f"get {path}"] << payload)

    def stop(self):
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


def template(image: str, extra_labels: dict | None = None) -> dict:
    return {"metadata": {"labels": {"app": "api-gateway", **(extra_labels or {})}},
            "spec": {"containers": [{"name": "api", "image": image}]}}


@pytest.fixture
def cluster():
    emulator = Emulator()
    configuration = client.Configuration()
    configuration.host = emulator.url
    api = client.ApiClient(configuration)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(NS, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api-gateway", "namespace": NS, "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api-gateway"}}, "template": template("shop/api:1.4.2")},
        "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}})
    for revision, image in ((1, "shop/api:1.4.0"), (2, "shop/api:1.4.1"), (3, "shop/api:1.4.2")):
        apps.create_namespaced_replica_set(NS, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"api-gateway-rs{revision}", "namespace": NS, "labels": {"app": "api-gateway"},
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api-gateway",
                                              "uid": "u1"}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "api-gateway"}},
                     "template": template(image, {"pod-template-hash": f"h{revision}"})}})
    for index, (ready, waiting, restarts) in enumerate([(True, None, 0), (True, None, 0), (False, "CrashLoopBackOff", 7)]):
        core.create_namespaced_pod(NS, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"api-gateway-{index}", "namespace": NS, "labels": {"app": "api-gateway"}},
            "spec": {"containers": [{"name": "api", "image": "shop/api:1.4.2"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "api", "ready": ready, "restartCount": restarts, "image": "shop/api:1.4.2", "imageID": "",
                "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}]}})
    core.create_namespaced_pod(NS, {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "worker-0", "namespace": NS, "labels": {"app": "worker"}},
                                    "spec": {"containers": [{"name": "w", "image": "shop/worker:1"}]}})
    core.create_namespaced_config_map(NS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "shop-config", "namespace": NS},
                                           "data": {"MAINTENANCE_MODE": "false"}})
    emulator.on_get(f"/api/v1/namespaces/{NS}/pods/api-gateway-0/log",
                    b"2026-11-22T10:00:00Z GET /health 200\n2026-11-22T10:00:01Z ERROR pool exhausted\n")
    emulator.on_get(f"/api/v1/namespaces/{NS}/pods/api-gateway-1/log", b"2026-11-22T10:00:02Z GET /health 200\n")
    emulator.on_get(f"/api/v1/namespaces/{NS}/pods/api-gateway-2/log", b"2026-11-22T10:00:03Z ERROR crash\n")
    yield emulator, apps, core
    api.close()
    emulator.stop()


def catalog(url: str) -> Catalog:
    return Catalog.model_validate({"environments": {"prod": {
        "protected": True,
        "platform": {"kind": "kubernetes", "namespace": NS, "api_url": url},
        "services": {"api": {"deployment": "api-gateway", "selector": "app=api-gateway", "max_replicas": 10}},
        "maintenance": {"configmap": "shop-config", "key": "MAINTENANCE_MODE", "restart": ["api"]},
        "checks": [{"name": "pods", "kind": "kubernetes", "selector": "app=api-gateway"}],
    }}, "roles": {"prod": {"operator": ["U_OPS"]}}})


@pytest.fixture
def platform(cluster):
    return KubernetesPlatform("prod", catalog(cluster[0].url).environments["prod"])


def test_status_and_replicas(platform):
    [state] = platform.status()
    assert (state.name, state.running, state.desired, state.image) == ("api", 3, 3, "shop/api:1.4.2")
    assert platform.replicas("api") == 3


def test_scale_through_the_scale_subresource(platform, cluster):
    _, apps, _ = cluster
    platform.scale("api", 5)
    assert apps.read_namespaced_deployment("api-gateway", NS).spec.replicas == 5
    scale_patches = cluster[0].emulator[f"patch /apis/apps/v1/namespaces/{NS}/deployments/api-gateway/scale"]
    assert len(scale_patches) == 1 and scale_patches[0].data == {"spec": {"replicas": 5}}


def test_restart_sets_the_restarted_at_annotation(platform, cluster):
    _, apps, _ = cluster
    platform.restart("api")
    annotations = apps.read_namespaced_deployment("api-gateway", NS).spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_rollback_goes_to_the_previous_revision_like_rollout_undo(platform, cluster):
    _, apps, _ = cluster
    assert platform.rollback_plan("api") == "revision 3 (shop/api:1.4.2) → revision 2 (shop/api:1.4.1)"
    platform.rollback("api")
    template_now = apps.read_namespaced_deployment("api-gateway", NS).spec.template
    assert template_now.spec.containers[0].image == "shop/api:1.4.1"
    assert "pod-template-hash" not in template_now.metadata.labels


def test_stop_scales_to_zero_remembering_the_replicas_and_start_brings_them_back(platform, cluster):
    _, apps, _ = cluster
    assert platform.stop_plan("api") == "deployment/api-gateway: 3 → 0 replicas (3 remembered for /ops start)"
    platform.stop("api")
    stopped = apps.read_namespaced_deployment("api-gateway", NS)
    assert stopped.spec.replicas == 0 and stopped.metadata.annotations["opsbot/stopped-replicas"] == "3"
    with pytest.raises(ConflictError, match="already stopped"):
        platform.stop_plan("api")
    assert platform.start_plan("api") == "deployment/api-gateway: 0 → 3 replicas"
    platform.start("api")
    started = apps.read_namespaced_deployment("api-gateway", NS)
    assert started.spec.replicas == 3 and "opsbot/stopped-replicas" not in (started.metadata.annotations or {})
    with pytest.raises(ConflictError, match="not stopped by opsbot.*use /ops scale"):
        platform.start_plan("api")


def test_logs_by_selector_with_grep(platform):
    text = platform.logs("api", None, 100, LineFilter("error"))
    assert text.splitlines() == ["api-gateway-0 | 2026-11-22T10:00:01Z ERROR pool exhausted",
                                 "api-gateway-2 | 2026-11-22T10:00:03Z ERROR crash"]


def test_pod_check_flags_crash_loops(cluster, store, clock):
    ops = OpsService(store, catalog(cluster[0].url), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock)
    [result] = ops.health(Actor("U_OPS", None, "/ops health prod"), "prod").results
    assert result.level == "crit" and result.value == "2/3 running"
    assert "api-gateway-2 CrashLoopBackOff" in result.detail and "restarted 7×" in result.detail


def test_maintenance_patches_the_configmap_then_restarts(cluster, store, clock):
    _, apps, core = cluster
    ops = OpsService(store, catalog(cluster[0].url), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock)
    actor = Actor("U_OPS", "C1", "/ops maintenance on prod")
    planned = ops.request(actor, "prod", "maintenance", None, {"on": True})
    assert planned.summary == "maintenance mode in prod: off → on, then restart api"
    ops.confirm(actor, planned.plan.id)
    assert core.read_namespaced_config_map("shop-config", NS).data["MAINTENANCE_MODE"] == "true"
    annotations = apps.read_namespaced_deployment("api-gateway", NS).spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_scale_plan_via_the_ops_service(cluster, store, clock):
    ops = OpsService(store, catalog(cluster[0].url), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock)
    actor = Actor("U_OPS", "C1", "/ops scale api prod 5")
    planned = ops.request(actor, "prod", "scale", "api", {"replicas": 5})
    assert planned.summary == "scale api in prod: 3 → 5 replicas"


def test_a_rollback_cut_short_is_reconciled_by_reporting_the_rollout_and_changing_nothing(cluster, store, clock):
    """opsbot died after `started`: the Deployment carries the rollout on by itself; the reconciliation says where
    it is and records the attempt, and patches nothing."""
    from bot.core.audit import AuditRecord

    _, apps, _ = cluster
    apps.patch_namespaced_deployment("api-gateway", NS, {"status": {"replicas": 4, "updatedReplicas": 1,
                                                                    "availableReplicas": 3, "readyReplicas": 3}})
    before = apps.read_namespaced_deployment("api-gateway", NS)
    store.append_audit(AuditRecord(at=clock(), attempt="a-cut", phase="started", user="U_OPS", env="prod",
                                   action="rollback", target="api"))
    ops = OpsService(store, catalog(cluster[0].url), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock)
    [done] = ops.reconcile()
    assert (done.record.attempt, done.record.phase) == ("a-cut", "reconciled")
    assert done.record.excerpt == ("opsbot stopped mid-way; deployment/api-gateway: rolling out (revision 3), 1 of 3 "
                                   "replicas updated; it finishes by itself")
    after = apps.read_namespaced_deployment("api-gateway", NS)
    assert (after.spec, after.metadata.annotations) == (before.spec, before.metadata.annotations)
    apps.patch_namespaced_deployment("api-gateway", NS, {"status": {"replicas": 3, "updatedReplicas": 3}})
    assert KubernetesPlatform("prod", catalog(cluster[0].url).environments["prod"]).reconcile("api") == \
        "deployment/api-gateway: rollout complete (revision 3), 3 of 3 replicas available"


def test_no_previous_revision_is_a_clear_refusal(platform, cluster):
    _, apps, _ = cluster
    apps.patch_namespaced_deployment("api-gateway", NS, {"metadata": {"annotations": {
        "deployment.kubernetes.io/revision": "1"}}})
    with pytest.raises(ConflictError, match="no previous revision"):
        platform.rollback_plan("api")


def test_unreachable_api_is_a_backend_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    platform = KubernetesPlatform("prod", catalog(f"http://127.0.0.1:{port}").environments["prod"])
    with pytest.raises(BackendError, match="Cannot reach the Kubernetes API of prod"):
        platform.replicas("api")


def test_evidence_streams_each_pods_log_and_reads_rollouts_and_events(platform, cluster):
    from datetime import UTC, datetime

    _, _, core = cluster
    for name, when, reason in (("api-gateway-2", "2026-11-22T10:00:05Z", "BackOff"),
                               ("api-gateway-0", "2026-11-20T08:00:00Z", "Pulled"),  # before the incident
                               ("worker-0", "2026-11-22T10:00:06Z", "Killing")):  # another service
        core.create_namespaced_event(NS, {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{reason}", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": NS}, "reason": reason, "type": "Warning",
            "message": f"{reason} on {name}", "lastTimestamp": when})
    since = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    streams = dict(platform.log_streams("api", since))
    assert sorted(streams) == ["api-gateway-0", "api-gateway-1", "api-gateway-2"]
    assert b"".join(streams["api-gateway-0"]) == (b"2026-11-22T10:00:00Z GET /health 200\n"
                                                  b"2026-11-22T10:00:01Z ERROR pool exhausted\n")
    history = platform.history(since)
    assert [line.split("\t")[:3] for line in history if line.startswith("replicaset")] == [
        ["replicaset api-gateway-rs1", "revision 1", "shop/api:1.4.0"],
        ["replicaset api-gateway-rs2", "revision 2", "shop/api:1.4.1"],
        ["replicaset api-gateway-rs3", "revision 3", "shop/api:1.4.2"]]
    events = [line for line in history if not line.startswith("replicaset")]
    assert len(events) == 1 and "BackOff\tPod/api-gateway-2\tBackOff on api-gateway-2" in events[0]


def test_evidence_from_a_kubernetes_environment_has_each_pods_log_and_the_rollouts(cluster, store, tmp_path):
    from bot.app import build_services
    from bot.core.ops import Actor

    emulator = cluster[0]
    services = build_services(store, catalog(emulator.url), evidence_dir=tmp_path / "evidence")  # U_OPS: operator
    services.incidents.open("U_OPS", "p1", "Gateway crash-looping", env="prod")
    bundle = services.evidence.collect(Actor("U_OPS", "C1", "/incident evidence collect"), 1,
                                       only=["logs", "status"])
    items = {item.name: item for item in bundle.items}
    assert {f"logs-api-api-gateway-{n}.log" for n in range(3)} | {"status.txt"} == set(items)
    assert all(item.ok for item in items.values())
    status = (tmp_path / "evidence" / "INC-1" / "EB-1" / "status.txt").read_text()
    assert "replicaset api-gateway-rs3\trevision 3\tshop/api:1.4.2" in status
    assert services.evidence.verify(1) == (4, [])


# --- blue/green slots, logs with regular expressions -----------------------------------------------------------
def slotted_catalog(url: str) -> Catalog:
    return Catalog.model_validate({"environments": {"prod": {
        "protected": True,
        "platform": {"kind": "kubernetes", "namespace": NS, "api_url": url},
        "services": {"shop": {"slots": {"blue": {"deployment": "shop-blue"}, "green": {"deployment": "shop-green"},
                                        "selector_key": "slot", "service": "shop"}},
                     "api": {"deployment": "api-gateway", "selector": "app=api-gateway"}},
    }}, "roles": {"prod": {"operator": ["U_OPS"]}}})


@pytest.fixture
def slotted(cluster, store, clock):
    """shop: blue live (2 ready), green deployed with 0 ready; one Service selecting slot=blue."""
    emulator, apps, core = cluster
    for slot, ready in (("blue", 2), ("green", 0)):
        labels = {"app": "shop", "slot": slot}
        apps.create_namespaced_deployment(NS, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"shop-{slot}", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "shop", "image": f"shop/web:{slot}"}]}}},
            "status": {"replicas": 2, "readyReplicas": ready}})
        core.create_namespaced_pod(NS, {"apiVersion": "v1", "kind": "Pod",
                                        "metadata": {"name": f"shop-{slot}-0", "namespace": NS, "labels": labels},
                                        "spec": {"containers": [{"name": "shop", "image": f"shop/web:{slot}"}]}})
        emulator.on_get(f"/api/v1/namespaces/{NS}/pods/shop-{slot}-0/log",
                        f"2026-11-22T10:00:00Z {slot} GET /health 200\n2026-11-22T10:00:01Z {slot} ERROR timeout\n"
                        .encode())
    core.create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": NS},
                                        "spec": {"selector": {"app": "shop", "slot": "blue"},
                                                 "ports": [{"port": 80}]}})
    ops = OpsService(store, slotted_catalog(emulator.url), (platforms := Platforms()), CheckRunner(platforms),
                     ScriptRunner(), clock=clock)
    return ops, apps, core


def selector(core) -> dict:
    return core.read_namespaced_service("shop", NS).spec.selector


def test_status_shows_the_live_slot(slotted):
    ops, _, _ = slotted
    states = {s.name: s for s in ops.status(Actor("U_OPS", "C1", "/ops status prod"), "prod")}
    assert states["shop"].detail == "live slot blue" and (states["shop"].running, states["shop"].image) == (2, "shop/web:blue")


def test_switch_refuses_a_slot_without_ready_replicas_then_switches_and_goes_back(slotted, store):
    ops, apps, core = slotted
    actor = Actor("U_OPS", "C1", "/ops switch shop prod green")
    with pytest.raises(ConflictError, match="green slot of shop in prod .deployment/shop-green. has no ready replicas"):
        ops.request(actor, "prod", "switch", "shop", {"slot": "green"})
    assert selector(core)["slot"] == "blue"
    apps.patch_namespaced_deployment_status("shop-green", NS, {"status": {"readyReplicas": 2}})
    planned = ops.request(actor, "prod", "switch", "shop", {"slot": "green"})
    assert planned.kind == "planned" and selector(core)["slot"] == "blue"  # protected: nothing until confirmed
    assert planned.summary == "service shop in prod: live slot blue → green (deployment/shop-green, 2 ready)"
    done = ops.confirm(actor, planned.plan.id)
    assert done.kind == "done" and selector(core) == {"app": "shop", "slot": "green"}
    assert core.read_namespaced_service("shop", NS).metadata.annotations["opsbot/previous-slot"] == "blue"
    with pytest.raises(ConflictError, match="green slot is already live"):
        ops.request(actor, "prod", "switch", "shop", {"slot": "green"})
    back = ops.request(Actor("U_OPS", "C1", "/ops switch shop prod --back"), "prod", "switch", "shop", {},
                       confirmed=True)
    assert back.kind == "done" and "live slot green → blue" in back.summary and selector(core)["slot"] == "blue"
    phases = [(r.action, r.phase) for r in store.audit_records()]
    assert phases.count(("switch", "succeeded")) == 2 and ("switch", "failed") in phases


def test_switch_back_without_a_previous_switch_is_refused(slotted):
    ops, _, core = slotted
    with pytest.raises(ConflictError, match="no previous slot to go back to.*blue, green"):
        ops.request(Actor("U_OPS", "C1", "/ops switch shop prod --back"), "prod", "switch", "shop", {})
    assert selector(core)["slot"] == "blue"


def test_logs_of_a_slotted_service_and_another_with_regex_filters(slotted):
    ops, _, _ = slotted
    text = ops.logs(Actor("U_OPS", "C1", "/ops logs shop,api prod"), "prod", ["shop", "api"], None, 100,
                    grep="error|timeout", grep_v="crash")
    assert text.splitlines() == ["── shop ──", "shop-blue-0 | 2026-11-22T10:00:01Z blue ERROR timeout",
                                 "shop-green-0 | 2026-11-22T10:00:01Z green ERROR timeout",
                                 "── api ──", "api-gateway-0 | 2026-11-22T10:00:01Z ERROR pool exhausted"]
    with pytest.raises(UsageError, match="--grep 'err\\(' is not a regular expression RE2 accepts: missing \\)"):
        ops.logs(Actor("U_OPS", "C1", "/ops logs api prod"), "prod", "api", None, 100, grep="err(")


def test_logs_of_one_slot_and_slots_refused_where_there_are_none(slotted, store):
    ops, _, _ = slotted
    actor = Actor("U_OPS", "C1", "/ops logs shop prod --slot green")
    assert ops.logs(actor, "prod", "shop", None, 100, grep="error", slot="green").splitlines() == [
        "shop-green-0 | 2026-11-22T10:00:01Z green ERROR timeout"]
    audited = len(store.audit_records())
    with pytest.raises(UsageError, match="'purple' is not a slot of shop; its slots: blue, green"):
        ops.logs(actor, "prod", "shop", None, 100, slot="purple")
    with pytest.raises(UsageError, match="api in prod has no blue/green slots; leave out --slot"):
        ops.logs(actor, "prod", ["shop", "api"], None, 100, slot="blue")
    # refused before anything was read: the refusals alone are on record
    assert [r.phase for r in store.audit_records()[audited:]] == ["refused", "refused"]


def test_previous_asks_for_the_crashed_containers_log(platform, cluster):
    platform.logs("api", None, 10, None, previous=True)
    requests = cluster[0].emulator[f"get /api/v1/namespaces/{NS}/pods/api-gateway-2/log"]
    assert requests[-1].params.get("previous", "").lower() == "true"  # the client writes True; the API reads both


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_platform_contract(platform, case):
    case(platform, "api")


def test_deploy_sets_the_image_and_follows_the_rollout_until_available(platform, cluster):
    """`kubectl set image` then `kubectl rollout status`: kmock has no controller, so the test plays it, reporting
    the new ReplicaSet's pods updated and available a moment after the patch."""
    _, apps, _ = cluster
    assert platform.deploy_plan("api", "shop/api:1.5.0") == \
        "deployment/api-gateway container api: shop/api:1.4.2 → shop/api:1.5.0 (3 replicas, rolling)"

    def controller():
        import time
        time.sleep(1.5)
        apps.patch_namespaced_deployment("api-gateway", NS, {"status": {
            "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}})

    thread = threading.Thread(target=controller)
    thread.start()
    told: list[str] = []
    try:
        done = platform.deploy("api", "shop/api:1.5.0", timeout_s=20, report=told.append)
    finally:
        thread.join()
    assert done == "deployment/api-gateway runs shop/api:1.5.0: 3/3 updated, 3 available"
    assert told == ["deployment/api-gateway → shop/api:1.5.0: 0/3 updated, 3 available",  # each change, once
                    "deployment/api-gateway → shop/api:1.5.0: 3/3 updated, 3 available"]
    assert apps.read_namespaced_deployment("api-gateway", NS).spec.template.spec.containers[0].image == "shop/api:1.5.0"
    with pytest.raises(ConflictError, match="already runs shop/api:1.5.0; nothing to deploy"):
        platform.deploy_plan("api", "shop/api:1.5.0")


def test_a_rollout_that_does_not_finish_in_time_says_the_image_was_set(platform, cluster):
    with pytest.raises(BackendError, match=r"was set to shop/api:1.6.0, but its rollout did not finish within 2 s "
                                           r"\(0/3 updated, 3 available\)"):
        platform.deploy("api", "shop/api:1.6.0", timeout_s=2)
    with pytest.raises(ConflictError, match="No container of deployment/api-gateway runs shop/other"):
        platform.deploy_plan("api", "shop/other:1")


def test_a_rollback_to_the_image_already_running_is_refused(platform, cluster):
    _, apps, _ = cluster
    apps.patch_namespaced_deployment("api-gateway", NS, {"spec": {"template": template("shop/api:1.4.1")}})
    with pytest.raises(ConflictError, match="already runs shop/api:1.4.1, the previous revision's image"):
        platform.rollback_plan("api")


def test_describe_summarises_each_pod_and_delete_pod_replaces_only_a_known_owned_pod(cluster):
    """Through the ops service on kmock: describe shows the crash-looping pod, its restarts and its events;
    delete-pod is planned, confirmed and done for a pod of a catalog service with an owner, and refused for a pod
    of no service, a pod without an owner, and a name that is not a pod name."""
    emulator, _, core = cluster
    core.create_namespaced_event(NS, {"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "e1", "namespace": NS}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container", "lastTimestamp": "2026-11-22T10:00:05Z",
        "involvedObject": {"kind": "Pod", "name": "api-gateway-2", "namespace": NS}})
    core.patch_namespaced_pod("api-gateway-2", NS, {"metadata": {"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-gateway-rs3", "uid": "u3"}]}})
    ops = OpsService(None, catalog(emulator.url), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner())
    actor = Actor("U_OPS", "C1", "/ops describe api prod")
    described = ops.inspect(actor, "prod", "api")
    assert "pod api-gateway-2: Running" in described
    assert "api: waiting (CrashLoopBackOff), not ready, 7 restarts, image shop/api:1.4.2" in described
    assert "Warning BackOff: Back-off restarting failed container" in described
    platform = KubernetesPlatform("prod", catalog(emulator.url).environments["prod"])
    assert platform.delete_pod_plan("api-gateway-2") == \
        "delete pod api-gateway-2 of api (ReplicaSet/api-gateway-rs3 starts a new one)"
    with pytest.raises(ConflictError, match="has no owner: nothing would start it again"):
        platform.delete_pod_plan("api-gateway-1")
    with pytest.raises(ConflictError, match="belongs to no service of the catalog"):
        platform.delete_pod_plan("worker-0")
    assert platform.delete_pod("api-gateway-2").startswith("deleted pod api-gateway-2 of api")
    assert "api-gateway-2" not in [p.metadata.name for p in core.list_namespaced_pod(NS).items]


def test_exec_in_a_pod_goes_through_the_clients_stream_and_a_server_without_it_is_a_clear_failure(platform):
    """kmock serves no exec WebSocket (its answer to the upgrade is the pod itself): the client's stream is
    opened on the service's first running pod, and the refusal is one clear BackendError, not a traceback."""
    with pytest.raises(BackendError, match=r"^Kubernetes exec failed in prod \(0 Handshake status 200 OK.{0,200}\)$"):
        platform.exec_in("api", ["pg_isready"], 5)
    with pytest.raises(UsageError, match="runs on hosts only in an environment whose platform is ssh"):
        platform.on_hosts(["uptime"])



def test_config_secret_and_resources_through_the_api(cluster):
    """A ConfigMap's allowed key old → new (a rollout restart with --restart); a Secret's key rewritten with a value
    opsbot made, never in the outcome, and its service restarted; the container's limits patched, its request brought
    down to a lower limit."""
    import base64

    from bot.config.environments import SecretSpec, ServiceConfig

    emulator, apps, core = cluster
    core.create_namespaced_secret(NS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "namespace": NS},
                                       "data": {"JWT_SECRET": base64.b64encode(b"old-value").decode()}})
    apps.patch_namespaced_deployment("api-gateway", NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "api", "image": "shop/api:1.4.2",
         "resources": {"limits": {"memory": "1Gi", "cpu": "1"}, "requests": {"memory": "1Gi", "cpu": "250m"}}}]}}}})
    cat = catalog(emulator.url)
    cat.environments["prod"].services["api"] = cat.environments["prod"].services["api"].model_copy(update={
        "config": ServiceConfig(configmap="shop-config", keys=["MAINTENANCE_MODE", "LOG_LEVEL"])})
    platform = KubernetesPlatform("prod", cat.environments["prod"])
    assert platform.config_values("api", ["MAINTENANCE_MODE", "LOG_LEVEL"]) == {"MAINTENANCE_MODE": "false", "LOG_LEVEL": None}
    done = platform.set_config("api", {"LOG_LEVEL": "debug"}, restart=True)
    assert done.startswith("configmap/shop-config: LOG_LEVEL=debug\nrollout restart of deployment/api-gateway")
    assert core.read_namespaced_config_map("shop-config", NS).data["LOG_LEVEL"] == "debug"
    secret = SecretSpec(key="JWT_SECRET", kubernetes_secret="app", restart=["api"])
    assert platform.secret_place(secret) == "Secret app key JWT_SECRET"
    written = platform.set_secret(secret, "n3w-s3cr3t-value-0123456789")
    assert "n3w-s3cr3t" not in written and written.startswith("Secret app key JWT_SECRET written")
    stored = core.read_namespaced_secret("app", NS).data["JWT_SECRET"]
    assert base64.b64decode(stored) == b"n3w-s3cr3t-value-0123456789"
    assert platform.resources_plan("api", "512Mi", None) == \
        "deployment/api-gateway container api: memory 1Gi → 512Mi (rolling)"
    platform.set_resources("api", "512Mi", None)
    resources = apps.read_namespaced_deployment("api-gateway", NS).spec.template.spec.containers[0].resources
    assert resources.limits["memory"] == "512Mi" and resources.requests["memory"] == "512Mi"
    assert resources.requests["cpu"] == "250m"
    with pytest.raises(ConflictError, match="already has those limits"):
        platform.resources_plan("api", "512Mi", None)
