"""deploy/kubernetes/: every manifest is a valid object for the official client (no unknown or misspelt field),
is accepted by kmock's Kubernetes API emulator and read back unchanged; the Role grants exactly the calls the
Kubernetes platform makes, derived by running every platform operation against the emulator."""
from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kubernetes import client, utils

from bot.platforms.kubernetes import KubernetesPlatform
from tests.integration.test_kubernetes_platform import NS, Emulator, catalog, cluster  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
KINDS = {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"}


def manifests() -> list[dict]:
    return [doc for path in sorted(MANIFESTS.glob("*.yml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict:
    [doc] = [doc for doc in manifests() if doc["kind"] == kind]
    return doc


def snake(kind: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", kind).lower()


API = {"v1": client.CoreV1Api, "apps/v1": client.AppsV1Api, "rbac.authorization.k8s.io/v1": client.RbacAuthorizationV1Api}


def test_the_manifests_are_the_deployment_set_and_namespace_scoped():
    docs = manifests()
    assert sorted(doc["kind"] for doc in docs) == sorted(KINDS)
    assert all("namespace" not in doc["metadata"] for doc in docs)  # applied with kubectl -n


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_manifest_round_trips_through_the_official_models_unchanged(kind):
    """Deserialising drops fields the model does not know; serialising it back must give the same document."""
    doc = by_kind(kind)
    api = client.ApiClient()
    model = api._ApiClient__deserialize(doc, f"V1{kind}")  # type: ignore[attr-defined]
    assert api.sanitize_for_serialization(model) == doc


@pytest.fixture
def bare_cluster():
    emulator = Emulator()
    done = asyncio.run_coroutine_threadsafe(_register(emulator), emulator.loop)
    done.result(10)
    configuration = client.Configuration()
    configuration.host = emulator.url
    api = client.ApiClient(configuration)
    yield api
    api.close()
    emulator.stop()


async def _register(emulator: Emulator) -> None:
    for resource in ("v1/serviceaccounts", "v1/services", "rbac.authorization.k8s.io/v1/roles",
                     "rbac.authorization.k8s.io/v1/rolebindings"):
        emulator.emulator.resources[resource] = {}  # type: ignore[attr-defined]  # set in its loop


def test_each_manifest_is_created_through_the_official_client_and_reads_back(bare_cluster):
    for doc in manifests():
        utils.create_from_dict(bare_cluster, doc, namespace=NS)
        api = API[doc["apiVersion"]](bare_cluster)
        back = getattr(api, f"read_namespaced_{snake(doc['kind'])}")(doc["metadata"]["name"], NS)
        back = bare_cluster.sanitize_for_serialization(back)
        assert {key: back[key] for key in doc if key != "metadata"} == {k: v for k, v in doc.items() if k != "metadata"}
        assert back["metadata"]["labels"] == doc["metadata"]["labels"]


def test_the_deployment_runs_two_non_root_replicas_probed_on_healthz_with_secrets_by_reference():
    deployment = by_kind("Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    env = {item["name"]: item for item in container["env"]}
    for name in ("OPSBOT_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPSBOT_AUDIT_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "opsbot" and "value" not in env[name]
    # The catalog ConfigMap's key is the file OPSBOT_CONFIG names (bot/config/settings.py reads OPSBOT_CONFIG).
    mount = next(m for m in container["volumeMounts"] if m["name"] == "catalog")
    [item] = next(v for v in spec["volumes"] if v["name"] == "catalog")["configMap"]["items"]
    assert env["OPSBOT_CONFIG"]["value"] == f"{mount['mountPath']}/{item['path']}" and mount["readOnly"] is True
    assert item["key"] in by_kind("ConfigMap")["data"]
    assert spec["serviceAccountName"] == by_kind("ServiceAccount")["metadata"]["name"]
    assert by_kind("Service")["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_catalog_in_the_configmap_is_valid(tmp_path):
    from bot.config.catalog import load_catalog

    path = tmp_path / "opsbot.yml"
    path.write_text(by_kind("ConfigMap")["data"]["opsbot.yml"])
    environment = load_catalog(path).environments["prod"]
    assert environment.platform.kind == "kubernetes" and not environment.platform.api_url  # in-cluster credentials


def verb(method: str, path: str) -> tuple[str, str, str]:
    """(apiGroup, resource[/subresource], RBAC verb) of a namespaced API request path."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    assert rest[0] == "namespaces", f"a cluster-wide call: {method} {path}"
    resource, named = rest[2], len(rest) > 3
    if len(rest) > 4:
        resource = f"{resource}/{rest[4]}"
    rbac = {"GET": "get" if named else "list", "PATCH": "patch", "PUT": "update", "POST": "create",
            "DELETE": "delete" if named else "deletecollection"}[method]
    return group, resource, rbac


def test_the_role_allows_exactly_what_the_platform_calls(cluster):  # noqa: F811
    emulator = cluster[0]
    platform = KubernetesPlatform("prod", catalog(emulator.url).environments["prod"])
    setup = len(list(emulator.emulator))  # the fixture's own requests are not the platform's
    since = datetime(2026, 1, 1, tzinfo=UTC)
    platform.status()
    platform.replicas("api")
    platform.workload_health("api")
    platform.logs("api", None, 100, None)
    for _, chunks in platform.log_streams("api", since):
        b"".join(chunks)
    platform.history(since)
    platform.restart("api")
    platform.scale("api", 4)
    platform.stop_plan("api")
    platform.stop("api")
    platform.start_plan("api")
    platform.start("api")
    platform.rollback_plan("api")
    platform.rollback("api")
    platform.maintenance_state()
    platform.set_maintenance(True)
    calls = {verb(str(request.method.value).upper(), request.url.path) for request in list(emulator.emulator)[setup:]}

    role = by_kind("Role")
    granted = {(group, resource, rbac) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for rbac in rule["verbs"]}
    assert granted == calls
    assert all("resourceNames" not in rule for rule in role["rules"])
    binding = by_kind("RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "opsbot"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": by_kind("ServiceAccount")["metadata"]["name"]}]
