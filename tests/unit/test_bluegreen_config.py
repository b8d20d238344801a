"""Blue/green slots, read-only and scheduled runbook actions in opsbot.yml: what `opsbot check-config` says."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import load_catalog
from bot.errors import ConfigError

K8S = {"kind": "kubernetes", "namespace": "shop"}
SLOTS = {"blue": {"deployment": "api-blue"}, "green": {"deployment": "api-green"}, "selector_key": "slot",
         "service": "api"}


def problems_of(tmp_path: Path, doc: dict) -> list[str]:
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return caught.value.problems


@pytest.mark.parametrize(("env", "message"), [
    ({"platform": {"kind": "docker", "project": "p"}, "services": {"api": {"slots": SLOTS}}},
     "service api: slots (blue/green) are for kubernetes platforms"),
    ({"platform": K8S, "services": {"api": {"slots": {**SLOTS, "red": {"deployment": "api-red"}}}}},
     "Extra inputs are not permitted"),
    ({"platform": K8S, "services": {"api": {"slots": {"blue": {"deployment": "api-blue"}, "service": "api"}}}},
     "green"),
    ({"runbook": {"x": {"argv": ["/bin/true"], "read_only": True, "min_role": "boss"}}}, "'boss' is not a role"),
])
def test_check_config_names_what_is_wrong_with_slots_and_actions(tmp_path, env, message):
    problems = problems_of(tmp_path, {"environments": {"prod": env}})
    assert any(p.startswith("environments.prod") and message in p for p in problems), problems


RUNBOOK = {"verify": {"argv": ["/bin/true"], "read_only": True}, "deploy": {"argv": ["/bin/true"]},
           "copy": {"argv": ["/bin/cp", "{src}"], "scheduled": True, "params": {"src": {"required": True}}}}


@pytest.mark.parametrize(("run", "message"), [
    ({"action": "deploy", "env": "prod"}, "deploy is neither read_only nor scheduled: true"),
    ({"action": "verfy", "env": "prod"}, "unknown runbook action 'verfy' in prod; actions: copy, deploy, verify"),  # yaml.safe_dump sorts keys
    ({"action": "verify", "env": "moon"}, "unknown environment 'moon'; environments: prod"),
    ({"action": "copy", "env": "prod"}, "copy needs src, and a schedule gives no parameters"),
])
def test_check_config_allows_only_read_only_or_scheduled_actions_on_a_schedule(tmp_path, run, message):
    doc = {"environments": {"prod": {"runbook": RUNBOOK}},
           "scheduler": {"reminders": {"nightly": {"cron": "0 3 * * *", "title": "Nightly", "run": run}}}}
    problems = problems_of(tmp_path, doc)
    assert any(f"scheduler.reminders.nightly.run: {message}" in p for p in problems), problems
