"""`/ops deploy <service> <env> <version>` through the core: the catalog's rules (an image, the allowed versions,
the version not already running), the plan, the audit and the timeline; then `verify` checks whose failure offers
the rollback or performs it; and the SSH way, a deploy runbook with {version}."""
from __future__ import annotations

import sys

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.requests import Action, ActionRequest, Actor
from bot.errors import BackendError, ConflictError, UsageError
from commands.base import Context
from commands.router import Router
from tests.fakes.platform import FakePlatform

OPS = Actor(user="U_OPS", channel="C1", command="/ops deploy", surface="web")


def setup(store, clock, service: dict | None = None, checks: list | None = None, runbook: dict | None = None):
    platform = FakePlatform("dev")
    catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"}, "checks": checks or [], "runbook": runbook or {},
        "services": {"api": {"image": "shop/api", "versions": r"[0-9]+\.[0-9]+\.[0-9]+", **(service or {})}}}}})
    services = build_services(store, catalog, clock=clock, platform_for=lambda name, env: platform)
    return services, platform


def test_a_version_is_planned_deployed_audited_and_on_the_timeline(store, clock):
    services, platform = setup(store, clock)
    router = Router(services)
    ctx = Context(user="U_OPS", channel="C_INC", source="console")
    assert router.handle("/incident", "open p2 Checkout slow", ctx).ok
    done = router.handle("/ops", "deploy api dev 2.1.0", ctx)
    assert done.ok and "deploy api in dev: image shop/api:2 → shop/api:2.1.0" in done.text
    assert platform.services["api"].image == "shop/api:2.1.0"
    phases = [(r.phase, r.action, r.target, r.args) for r in store.audit_records() if r.action == "deploy"]
    assert phases[-1] == ("succeeded", "deploy", "api", {"version": "2.1.0"})
    assert any(e.kind == "ops" and "deploy" in e.text for e in store.timeline(1))


@pytest.mark.parametrize("service,version,refusal", [
    ({}, "latest", "'latest' is not a version api in dev allows"),
    ({}, "2.1.0;rm", "Shell metacharacters"),
    ({"image": None}, "2.1.0", "has no `image` (nor a `deploy_runbook`)"),
])
def test_what_the_catalog_does_not_allow_is_refused_and_audited(store, clock, service, version, refusal):
    services, platform = setup(store, clock, service)
    with pytest.raises(UsageError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        services.ops.submit(OPS, ActionRequest(Action.DEPLOY, "dev", "api", {"version": version}))
    assert platform.events == [] and [r.phase for r in store.audit_records()] == ["refused"]


def test_the_version_already_running_is_refused_at_plan_time(store, clock):
    services, platform = setup(store, clock)
    platform.services["api"].image = "shop/api:2.1.0"
    with pytest.raises(ConflictError, match="already runs shop/api:2.1.0; nothing to deploy"):
        services.ops.submit(OPS, ActionRequest(Action.DEPLOY, "dev", "api", {"version": "2.1.0"}))
    assert platform.events == []


@pytest.mark.parametrize("on_failure", ["offer", "rollback"])
def test_a_failed_verification_offers_or_performs_the_rollback(store, clock, on_failure):
    gone = {"name": "api-up", "kind": "tcp", "host": "127.0.0.1", "port": 9, "timeout_s": 1}
    services, platform = setup(store, clock, {"verify": ["api-up"], "on_failure": on_failure}, checks=[gone])
    with pytest.raises(BackendError) as failed:
        services.ops.submit(OPS, ActionRequest(Action.DEPLOY, "dev", "api", {"version": "2.1.0"}))
    assert "but the verification failed (api-up:" in str(failed.value)
    if on_failure == "rollback":
        assert "rolled back" in str(failed.value) and platform.services["api"].image == "shop/api:2"
    else:
        assert "Nothing was rolled back: roll api back in dev if it stays broken" in str(failed.value)
        assert platform.services["api"].image == "shop/api:2.1.0"
    assert [r.phase for r in store.audit_records()][-1] == "failed"


def test_ssh_hosts_deploy_through_the_deploy_runbook_with_the_version(store, clock, tmp_path):
    marker = tmp_path / "deployed"
    runbook = {"release": {"argv": [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])",
                                    str(marker), "{version}"], "params": {"version": {}}}}
    services, _ = setup(store, clock, {"image": None, "deploy_runbook": "release"}, runbook=runbook)
    planned = services.ops.describe("dev", Action.DEPLOY, "api", {"version": "3.0.1"})
    assert planned == f"deploy api in dev 3.0.1: `{sys.executable} -c 'import sys; open(sys.argv[1], '\"'\"'w'\"'\"').write(sys.argv[2])' {marker} 3.0.1`"
    assert services.ops.submit(OPS, ActionRequest(Action.DEPLOY, "dev", "api", {"version": "3.0.1"})).kind == "done"
    assert marker.read_text() == "3.0.1"


def test_the_catalog_refuses_a_deploy_runbook_without_version_and_unknown_verify_checks():
    with pytest.raises(ValueError) as refused:
        Catalog.model_validate({"environments": {"dev": {"runbook": {"release": {"argv": ["true"]}},
            "services": {"api": {"deploy_runbook": "release", "verify": ["nope"]}}}}})
    assert "must declare a `version` parameter" in str(refused.value)
    assert "verify names unknown checks: nope" in str(refused.value)


def test_history_lists_what_was_done_to_a_service_newest_first_with_its_audit_seq(store, clock):
    """Through the console's router (text) and Slack's blocks: a deploy, a scale and a refused request (not a
    change: left out); a service the environment does not have is refused."""
    from bot.views.blocks import to_blocks
    from bot.views.text import to_text

    services, _ = setup(store, clock)
    router = Router(services)
    ctx = Context(user="U_OPS", channel="C1", source="console")
    assert router.handle("/ops", "deploy api dev 2.1.0", ctx).ok
    clock.advance(minutes=5)
    assert router.handle("/ops", "scale api dev 3", ctx).ok
    assert not router.handle("/ops", "deploy api dev latest", ctx).ok
    shown = router.handle("/ops", "history api dev", ctx)
    text = to_text(shown)
    assert shown.ok and text.index("scale api in dev: 2 → 3") < text.index("deploy api in dev: image shop/api:2 → shop/api:2.1.0")
    assert "latest" not in text and "succeeded (audit #" in text
    assert "scale api in dev" in str(to_blocks(shown))
    unknown = router.handle("/ops", "history payments dev", ctx)
    assert not unknown.ok and "Unknown service 'payments' in dev" in unknown.text


def test_describe_and_delete_pod_through_the_console(store, clock):
    """describe answers from the platform (the fake: its one line); delete-pod refuses a name that is not a pod
    name before anything else, audited as refused, and a platform without pods says why."""
    services, platform = setup(store, clock)
    router = Router(services)
    ctx = Context(user="U_OPS", channel="C1", source="console")
    described = router.handle("/ops", "describe api dev", ctx)
    assert described.ok and "api: 2 replicas, image shop/api:2" in described.text + str(described.parts)
    bad = router.handle("/ops", "delete-pod API_Pod! dev", ctx)
    assert not bad.ok and "is not a pod name" in bad.text
    assert [r.phase for r in store.audit_records()] == ["refused"]
    nopods = router.handle("/ops", "delete-pod api-7f9c-x2 dev", ctx)
    assert not nopods.ok and "the fake platform has no pods" in nopods.text and platform.events == []


def test_a_runbook_actions_place_is_checked_by_the_catalog_and_said_in_the_plan(store, clock):
    with pytest.raises(ValueError) as refused:
        Catalog.model_validate({"environments": {"dev": {"services": {"api": {}}, "runbook": {
            "both": {"argv": ["true"], "exec": {"service": "api"}, "hosts": ["web-1"]},
            "nowhere": {"argv": ["true"], "exec": {"service": "db"}}}}}})
    text = str(refused.value)
    assert "runbook both: exec and hosts are two places; choose one" in text
    assert "runbook both: hosts are for ssh platforms" in text
    assert "runbook nowhere: exec names unknown service 'db' (services: api)" in text
    services, platform = setup(store, clock, runbook={"ready": {"argv": ["pg_isready", "-q"], "exec": {"service": "api"}}})
    assert services.ops.describe("dev", Action.RUN, "ready", {}) == "run ready in dev inside api's container: `pg_isready -q`"
    assert services.ops.submit(OPS, ActionRequest(Action.RUN, "dev", "ready")).output == "ran pg_isready -q in api\n"
    assert platform.events[-1][1] == "exec in api: pg_isready -q"


def test_a_pre_deploy_checklist_must_be_ticked_and_the_audit_records_it(store, clock):
    checklist = ["database migration reviewed", "rollback plan ready", "on-call told"]
    services, platform = setup(store, clock, {"pre_deploy": checklist})
    router = Router(services)
    ctx = Context(user="U_OPS", channel="C1", source="console")
    refused = router.handle("/ops", "deploy api dev 2.1.0 --checked 1", ctx)
    assert not refused.ok and "still to do: 2. rollback plan ready; 3. on-call told" in refused.text
    assert "--checked 1,2,3 (or --checked all)" in refused.text and platform.events == []
    done = router.handle("/ops", "deploy api dev 2.1.0 --checked all", ctx)
    assert done.ok and "pre-deploy checklist ticked (3 items)" in done.text
    assert [r.args for r in store.audit_records() if r.phase == "succeeded"] == [{"version": "2.1.0", "checked": [1, 2, 3]}]


def test_a_deploy_tells_the_asker_how_it_goes_while_it_runs(store, clock):
    services, platform = setup(store, clock)
    told: list[str] = []
    router = Router(services)
    done = router.handle("/ops", "deploy api dev 2.1.0", Context(user="U_OPS", channel="C1", source="console",
                                                                    say=told.append))
    assert done.ok and told == ["api: 1/1 updated"] and platform.services["api"].image == "shop/api:2.1.0"
