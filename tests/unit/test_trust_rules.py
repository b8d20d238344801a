"""Trust rules of the core, each through the service and through a command (issue: trust on every path): the audit
log shows a reader only the environments they may see; runbook ints stay within the catalog's range; a plan
confirmed by someone with no role is a recorded denial, expired or not; an alert's text never pings anybody."""
from __future__ import annotations

import sys

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.alerts import AlertService
from bot.core.flows import IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.ops import Actor
from bot.errors import ConfigError, ConflictError, PermissionDenied, UsageError
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

PY = sys.executable
CATALOG = {
    "environments": {
        "prod": {"protected": True, "runbook": {
            "uptime": {"argv": [PY, "-c", "print('up')"], "read_only": True},
            "trim": {"argv": [PY, "-c", "import sys; print(sys.argv[1])", "{days}"],
                     "params": {"days": {"type": "int", "max": 30}}},
            "shift": {"argv": [PY, "-c", "import sys; print(sys.argv[1])", "{by}"],
                      "params": {"by": {"type": "int", "min": -5, "max": 5}}}}},
        "staging": {"runbook": {"uptime": {"argv": [PY, "-c", "print('up')"], "read_only": True}}},
    },
    "roles": {"prod": {"operator": ["U_OPS"]}},
}


@pytest.fixture
def services(store, clock):
    return build_services(store, Catalog.model_validate(CATALOG), clock=clock)


def test_the_audit_log_without_env_shows_only_the_environments_the_reader_may_see(services, store):
    services.ops.request(Actor("U_OPS", "C1", "/ops run uptime prod"), "prod", "run", "uptime", {})
    services.ops.request(Actor("U_DEV", "C1", "/ops run uptime staging"), "staging", "run", "uptime", {})
    seen = services.ops.audit_log(Actor("U_DEV", "C1", "/ops audit"), None, None, None)
    assert {steps[0].env for steps in seen} == {"staging"}  # U_DEV has no role in prod
    assert {steps[0].env for steps in services.ops.audit_log(Actor("U_OPS", "C1", "/ops audit"), None, None, None)} \
        == {"prod", "staging"}
    shown = to_text(Router(services).handle("/ops", "audit", Context(user="U_DEV", channel="C1")))
    assert "uptime staging" in shown and "prod" not in shown


@pytest.mark.parametrize("text,message", [
    ("trim prod days=-1", "days must be a whole number from 0 to 30"),
    ("trim prod days=31", "days must be a whole number from 0 to 30"),
    ("shift prod by=-6", "by must be a whole number from -5 to 5"),
])
def test_a_runbook_int_outside_its_range_is_refused_before_anything_runs(services, store, text, message):
    reply = Router(services).handle("/ops", f"run {text} --yes", Context(user="U_OPS", channel="C1"))
    assert not reply.ok and message in reply.text
    assert [r.phase for r in store.audit_records()] == ["refused"]
    name, env, pair = text.split()
    key, value = pair.split("=")
    with pytest.raises(UsageError, match=message):
        services.ops.request(Actor("U_OPS", None, "POST /ui"), env, "run", name, {key: value})


def test_a_negative_int_within_the_catalogs_range_is_allowed(services):
    done = services.ops.request(Actor("U_OPS", None, "/ops run shift prod by=-3", surface="console"), "prod", "run",
                                "shift", {"by": "-3"}, confirmed=True)
    assert done.kind == "done" and done.output.strip() == "-3"


def test_a_range_upside_down_is_a_configuration_error(tmp_path):
    from bot.config.catalog import load_catalog

    (tmp_path / "opsbot.yml").write_text("environments: {e: {runbook: {a: {argv: [x, '{n}'], params: {n: {type: int, "
                                         "min: 5, max: 1}}}}}}")
    with pytest.raises(ConfigError, match="max \\(1\\) is below min \\(5\\)"):
        load_catalog(tmp_path / "opsbot.yml")


def test_an_expired_plan_confirmed_by_someone_without_the_role_is_a_recorded_denial(services, store, clock):
    planned = services.ops.request(Actor("U_OPS", "C1", "/ops run trim prod days=3"), "prod", "run", "trim",
                                   {"days": "3"})
    clock.advance(minutes=10)
    with pytest.raises(PermissionDenied):
        services.ops.confirm(Actor("U_EVE", "C1", f"/ops confirm {planned.plan.id}"), planned.plan.id)
    assert [(r.phase, r.user) for r in store.audit_records()][-1] == ("denied", "U_EVE")
    assert store.get_plan(planned.plan.id).status == "pending"  # nobody without the role changed it
    with pytest.raises(ConflictError, match="expired"):
        services.ops.confirm(Actor("U_OPS", "C1", f"/ops confirm {planned.plan.id}"), planned.plan.id)


def test_an_alerts_text_never_pings_anybody(store, clock):
    from bot.alerts import webhook
    from bot.views.blocks import to_blocks

    catalog = Catalog()
    service = AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)
    group = webhook.parse(b'{"title": "Disk full, ask @U0PAGED or <@U0BOSS>", "dedup_key": "disk", '
                          b'"description": "cc #C0GENERAL and @S0ONCALL"}', "uptime")
    assert service.accept([(group, "d1")]) == [True]
    assert [outcome.outcome for outcome in service.process_pending()] == ["opened"]
    timeline = Router(build_services(store, catalog, clock=clock)).handle(
        "/incident", "timeline INC-1", Context(user="U_OPS", channel="C1"))
    slack = str(to_blocks(timeline))
    assert "<@U0PAGED>" not in slack and "<@U0BOSS>" not in slack and "<#C0GENERAL>" not in slack
    assert "subteam" not in slack and "U0PAGED" in slack and "U0BOSS" in slack
    assert "Disk full, ask @\u2060U0PAGED" in to_text(timeline)


def test_secrets_in_an_alerts_labels_and_annotations_never_reach_the_store(store, clock, tmp_path):
    """Through the generic webhook and the Alertmanager payload: every nested value is redacted before it is
    stored, so neither the database nor an export holds the secret."""
    import json as jsonlib

    from bot.alerts import alertmanager, webhook
    from bot.core.export import export_documents

    catalog = Catalog()
    service = AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)
    generic = webhook.parse(jsonlib.dumps({
        "title": "Login failures", "dedup_key": "login", "description": "bindpw=LdapS3cretPw seen in config",
        "labels": {"db_password": "Hunter2Secret!", "team": "identity"}}).encode(), "uptime")
    grouped = alertmanager.parse(jsonlib.dumps({
        "version": "4", "groupKey": "g1", "status": "firing", "receiver": "opsbot",
        "commonLabels": {"alertname": "DBDown"},
        "alerts": [{"status": "firing", "fingerprint": "f1", "startsAt": "2026-11-20T08:00:00Z",
                    "labels": {"alertname": "DBDown", "dsn": "postgres://app:PgPassw0rd@db/shop"},
                    "annotations": {"summary": "connect with password 'Tr0ub4dor&3' failed"}}]}).encode(), "alertmanager")
    assert service.accept([(generic, "d1"), (grouped, "d2")]) == [True, True]
    assert [outcome.outcome for outcome in service.process_pending()] == ["opened", "opened"]
    stored = jsonlib.dumps([e.model_dump(mode="json") for n in (1, 2) for e in store.timeline(n)])
    exported = jsonlib.dumps(export_documents(store, store.list_incidents(include_closed=True)))
    for secret in ("LdapS3cretPw", "Hunter2Secret!", "PgPassw0rd", "Tr0ub4dor&3"):
        assert secret not in stored and secret not in exported, secret
    assert "identity" in stored  # what is not secret is kept


def test_a_parameter_named_as_a_secret_is_masked_in_the_audit_log_and_the_timeline(store, clock):
    catalog = Catalog.model_validate({"environments": {"dev": {"runbook": {"set-pass": {
        "argv": [PY, "-c", "print('set')", "{password}"], "params": {"password": {"required": True}}}}}}})
    services = build_services(store, catalog, clock=clock)
    router = Router(services)
    assert router.handle("/incident", "open p2 Rotate the DB password", Context(user="U_OPS", channel="C_INC")).ok
    assert router.handle("/ops", "run set-pass dev password=hunter2xyz", Context(user="U_OPS", channel="C_INC")).ok
    import json as jsonlib

    stored = jsonlib.dumps([r.model_dump(mode="json") for r in store.audit_records()]) + jsonlib.dumps(
        [e.model_dump(mode="json") for e in store.timeline(1)])
    assert "hunter2xyz" not in stored and '"password": "***"' in stored


def test_nested_fields_named_as_secrets_are_masked_whatever_their_type():
    from bot.core.redact import redact_nested

    assert redact_nested({"token": 12345678, "password": ["hunter2"], "api_key": {"v": "abcdefgh"}, "token_ttl": 3600,
                          "replicas": 3, "on": True}) == {"token": "***", "password": "***", "api_key": "***",
                                                          "token_ttl": 3600, "replicas": 3, "on": True}
