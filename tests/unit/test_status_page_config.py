"""`status_page:` in opsbot.yml: components name services and checks of the catalog's environments, and
`opsbot check-config` reports every reference that does not resolve, every problem in one run."""
from __future__ import annotations

import pytest

from bot.config import load_catalog
from bot.errors import ConfigError

ENVIRONMENTS = """
environments:
  prod:
    services: {api: {}, web: {}}
    checks:
      - {name: api-health, kind: http, url: "https://api.example.com/healthz"}
  staging: {services: {api: {}}}
"""


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "opsbot.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_catalog(path)
    return [problem.replace(f"{path}: ", "") for problem in refused.value.problems]


def test_a_status_page_with_grouped_components_loads(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text(ENVIRONMENTS + """
status_page:
  title: Example Status
  url: https://status.example.com/
  time_zone: Europe/Paris
  publish: {dir: /var/www/status}
  components:
    - {name: API, group: Platform, description: The public API, services: [prod/api], checks: [prod/api-health]}
    - {name: Website, services: [prod/web]}
""")
    page = load_catalog(path).status_page
    assert (page.title, page.url, page.time_zone, str(page.publish.dir)) == (
        "Example Status", "https://status.example.com", "Europe/Paris", "/var/www/status")
    assert [(c.name, c.group, c.services, c.checks) for c in page.components] == [
        ("API", "Platform", ["prod/api"], ["prod/api-health"]), ("Website", None, ["prod/web"], [])]
    assert page.component("api").name == "API" and page.component("nothing") is None


def test_every_unresolved_reference_is_reported_in_one_run(tmp_path):
    found = problems_of(tmp_path, ENVIRONMENTS + """
status_page:
  components:
    - {name: API, services: [prod/api, prod/queue, qa/api], checks: [prod/api-health, staging/db]}
""")
    assert found == [
        "status_page.components.0 (API).services: 'prod/queue': prod has no service 'queue'; services: api, web",
        "status_page.components.0 (API).services: 'qa/api' names unknown environment 'qa'; environments: prod, staging",
        "status_page.components.0 (API).checks: 'staging/db': staging has no check 'db'; checks: none",
    ]


@pytest.mark.parametrize("section, message", [
    ("time_zone: Mars/Olympus", "status_page.time_zone: 'Mars/Olympus' is not a time zone"),
    ("url: status.example.com", "status_page.url: the page's address starts with https://"),
    ("publish_role: boss", "status_page.publish_role: 'boss' is not a role"),
    ("components: [{name: API}, {name: api}]", "component names must be unique (case aside); repeated: API, api"),
    ("components: [{name: 'A,B'}]", "status_page.components.0.name: 'A,B': a component name holds no ','"),
    ("components: [{name: API, services: [api]}]", "status_page.components.0.services: write each as env/name"),
    ("components: [{name: API, colour: red}]", "status_page.components.0.colour: Extra inputs are not permitted"),
])
def test_malformed_sections_are_refused_with_their_path(tmp_path, section, message):
    found = problems_of(tmp_path, ENVIRONMENTS + "status_page:\n  " + section + "\n")
    assert any(message in problem for problem in found), found


def test_a_broken_environment_does_not_also_fail_the_components_naming_it(tmp_path):
    found = problems_of(tmp_path, """
environments:
  prod: {services: {api: {replicas: lots}}}
status_page:
  components: [{name: API, services: [prod/api]}]
""")
    assert len(found) == 1 and found[0].startswith("environments.prod.services.api.replicas"), found
