"""The ops service validates every request against the catalog itself, whoever sends it (no command text here):
a surface that builds an ActionRequest by hand — a web form, a button, a schedule — gets the same refusals as
`/ops`, each audited as refused, and nothing reaches the platform."""
from __future__ import annotations

import sys

import pytest

from bot.config import Catalog
from bot.core.ops import Action, ActionRequest, Actor, OpsService
from bot.errors import ConflictError, NotFound, UsageError
from bot.store.sqlite import SqliteStore

PY = sys.executable


class NoPlatform:
    """The platform port of an environment whose requests must all be refused before any platform call."""

    def __call__(self, env_name, env):
        raise AssertionError(f"the platform of {env_name} was reached by a request the catalog refuses")


class NoScripts:
    def run(self, spec, args):
        raise AssertionError("a runbook action ran although its parameters were refused")


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path}/opsbot.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def ops(store, clock):
    catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"},
        "services": {"api": {"deployment": "api", "max_replicas": 3},
                     "web": {"slots": {"blue": {"deployment": "web-blue"}, "green": {"deployment": "web-green"},
                                       "service": "web"}}},
        "runbook": {"backup": {"argv": [PY, "-c", "print(1)", "{kind}"],
                               "params": {"kind": {"type": "choice", "choices": ["full", "wal"], "default": "full"}}}},
    }}})
    return OpsService(store, catalog, NoPlatform(), checks=None, scripts=NoScripts(), clock=clock)


WEB_FORM = Actor(user="U_DEV", channel=None, command="POST /ui/ops", surface="web")

REFUSED = [
    (ActionRequest(Action.SCALE, "dev", "api", {"replicas": 999}), UsageError, "from 0 to 3 for api in dev"),
    (ActionRequest(Action.SCALE, "dev", "api", {"replicas": -1}), UsageError, "from 0 to 3"),
    (ActionRequest(Action.SCALE, "dev", "api", {"replicas": True}), UsageError, "whole number"),
    (ActionRequest(Action.SCALE, "dev", "api", {}), UsageError, "whole number"),
    (ActionRequest(Action.RESTART, "dev", "payments"), NotFound, "Unknown service 'payments' in dev"),
    (ActionRequest(Action.ROLLBACK, "dev", None), NotFound, "Unknown service ''"),
    (ActionRequest(Action.SWITCH, "dev", "api", {"slot": "green"}), UsageError, "api in dev has no blue/green slots"),
    (ActionRequest(Action.SWITCH, "dev", "web", {"slot": "purple"}), UsageError, "Unknown slot 'purple'"),
    (ActionRequest(Action.RUN, "dev", "backup", {"size": "1"}), UsageError, "Unknown parameter 'size' for backup"),
    (ActionRequest(Action.RUN, "dev", "backup", {"kind": "diff"}), UsageError, "kind must be one of full, wal"),
    (ActionRequest(Action.RUN, "dev", "backup", {"kind": "full; reboot"}), UsageError, "Shell metacharacters"),
    (ActionRequest(Action.RUN, "dev", "restore"), NotFound, "Unknown runbook action 'restore'"),
    (ActionRequest(Action.MAINTENANCE, "dev", None, {"on": "yes"}), UsageError, "on or off"),
    (ActionRequest("reboot", "dev", "api"), UsageError, "Unknown action reboot"),
]


@pytest.mark.parametrize("request_,error,message", REFUSED)
def test_a_request_the_catalog_does_not_allow_is_refused_and_audited_as_refused(ops, store, request_, error,
                                                                               message):
    with pytest.raises(error, match=message):
        ops.submit(WEB_FORM, request_)
    [record] = store.audit_records()
    assert (record.phase, record.user, record.env, record.action) == ("refused", "U_DEV", "dev", str(request_.action))
    assert message.split(" for ")[0] in (record.excerpt or "")


def test_an_unknown_environment_is_refused_and_audited_without_its_name_as_an_environment(ops, store):
    with pytest.raises(NotFound, match="Unknown environment 'moon'. Environments: dev"):
        ops.submit(WEB_FORM, ActionRequest(Action.RESTART, "moon", "api"))
    [record] = store.audit_records()
    assert record.phase == "refused" and record.env is None and "moon" in (record.excerpt or "")


def test_the_positional_request_api_validates_the_same_way(ops, store):
    with pytest.raises(UsageError, match="from 0 to 3"):
        ops.request(WEB_FORM, "dev", "scale", "api", {"replicas": 999})
    with pytest.raises(NotFound, match="Unknown service 'nope'"):
        ops.request(WEB_FORM, "dev", "restart", "nope", {})
    assert [r.phase for r in store.audit_records()] == ["refused", "refused"]


def test_log_reads_of_a_service_the_environment_does_not_have_are_refused_and_audited(ops, store):
    with pytest.raises(NotFound, match="Unknown service 'payments' in dev"):
        ops.logs(WEB_FORM, "dev", ["api", "payments"], None, 10)
    [record] = store.audit_records()
    assert (record.phase, record.action, record.target) == ("refused", "logs", "api,payments")


def test_within_the_catalog_the_same_request_is_planned_and_runs_on_the_platform(store, clock):
    from tests.fakes.platform import FakePlatform

    platform = FakePlatform("dev")
    catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"}, "services": {"api": {"max_replicas": 3}}}}})
    ops = OpsService(store, catalog, lambda env_name, env: platform, checks=None, scripts=NoScripts(), clock=clock)
    done = ops.submit(WEB_FORM, ActionRequest(Action.SCALE, "dev", "api", {"replicas": 3}))
    assert (done.kind, done.summary, platform.replicas("api")) == ("done", "scale api in dev: 2 → 3 replicas", 3)
    assert [r.phase for r in store.audit_records()] == ["requested", "started", "succeeded"]


def test_a_scale_that_changes_nothing_is_refused_at_plan_time(store, clock):
    from tests.fakes.platform import FakePlatform

    platform = FakePlatform("dev")
    catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"}, "services": {"api": {"max_replicas": 3}}}}})
    ops = OpsService(store, catalog, lambda env_name, env: platform, checks=None, scripts=NoScripts(), clock=clock)
    with pytest.raises(ConflictError, match="api in dev already runs 2 replicas; nothing to change"):
        ops.submit(WEB_FORM, ActionRequest(Action.SCALE, "dev", "api", {"replicas": 2}))
    assert platform.events == [] and [r.phase for r in store.audit_records()] == ["failed"]
