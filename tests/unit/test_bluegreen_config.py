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
