"""An incident names one of the catalog's environments or none: `--env nosuchenv` is refused by the core, listing
them, whichever surface sends it (the console, a Slack slash command, the Slack modal); nothing is stored. An alert
is never refused: an environment the catalog lacks is kept as the rule maps it and said on the timeline."""
from __future__ import annotations

import hashlib
import json

import pytest

from bot.alerts import alertmanager
from bot.config import Catalog
from bot.core.alerts import AlertService
from bot.core.models import EventKind
from bot.errors import UsageError
from commands.base import Context
from commands.incident import OpenRequest, open_incident

CATALOG = Catalog.model_validate({"environments": {"prod": {}, "staging": {}}})
REFUSAL = "Unknown environment 'nosuchenv'. Environments: prod, staging."


@pytest.fixture
def envs_router(make_router):
    return make_router(CATALOG)


@pytest.mark.parametrize("source", ["console", "slack"])
def test_open_with_an_unknown_env_is_refused_listing_the_catalogs(envs_router, store, source):
    reply = envs_router.handle("/incident", "open p2 Slow search --env nosuchenv", Context(user="U_A", source=source))
    assert not reply.ok and REFUSAL in reply.text
    assert store.list_incidents(include_closed=True) == []


def test_the_slack_modal_is_refused_the_same_by_the_core_next_to_its_env_field(envs_router, store):
    with pytest.raises(UsageError) as refused:  # the modal shows a UsageError next to its `field`
        open_incident(envs_router.services, Context(user="U_A", channel="C1", source="slack"),
                      OpenRequest("P2", "Slow search", None, None, "nosuchenv", None, None))
    assert (str(refused.value), refused.value.field) == (REFUSAL, "env")
    assert store.list_incidents(include_closed=True) == []


def test_open_with_a_known_env_is_accepted(envs_router, store):
    assert envs_router.handle("/incident", "open p2 Slow search --env staging", Context(user="U_A")).ok
    assert store.get_incident(1).env == "staging"


def deliver(router, env: str):
    body = json.dumps({
        "version": "4", "groupKey": f"{{}}:{{env=\"{env}\"}}", "receiver": "opsbot", "status": "firing",
        "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down", "env": env},
        "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": "Down"}, "annotations": {},
                    "startsAt": "2026-11-20T08:50:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": env}],
    }).encode()
    service = AlertService(router.services.incidents.store, CATALOG, router.services.flows,
                           clock=router.services.incidents.clock)
    service.accept([(alertmanager.parse(body, "alertmanager"), hashlib.sha256(body).hexdigest())])
    return service.process_pending()[-1]


def test_an_alert_for_an_unknown_env_opens_its_incident_and_says_so_on_the_timeline(envs_router, store):
    opened = deliver(envs_router, "qa")
    assert opened.outcome == "opened" and store.get_incident(opened.incident).env == "qa"
    said = [e.text for e in store.timeline(opened.incident) if e.kind is EventKind.NOTE]
    assert said == [("The alert names environment 'qa', which the catalog does not have: no health snapshot, "
                     "evidence or ops action can use it")]


def test_an_alert_for_a_known_env_adds_no_such_note(envs_router, store):
    opened = deliver(envs_router, "prod")
    assert [e for e in store.timeline(opened.incident) if e.kind is EventKind.NOTE] == []
