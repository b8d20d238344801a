"""opsbot.yml validation: precise paths for every problem; the shipped example is valid."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Catalog, ConfigError, load_catalog
from bot.timeparse import parse_duration

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_runbooks():
    catalog = Catalog()
    assert [catalog.severities[k].response for k in ("P0", "P1", "P2", "P3")] == [
        "15m", "1h", "4h", "next-business-day"]
    assert catalog.severities["P1"].postmortem_due == timedelta(hours=24)
    assert catalog.severities["P2"].postmortem_due == timedelta(hours=48)
    assert catalog.severities["P0"].escalation == [
        "on-call engineer", "team lead", "engineering manager", "CTO"]
    assert catalog.severities["P0"].update_every == timedelta(minutes=30)


def test_example_config_is_valid():
    catalog = load_catalog(ROOT / "opsbot.example.yml")
    assert set(catalog.severities) == {"P0", "P1", "P2", "P3"}
    assert catalog.environments["prod"].protected and catalog.environments["prod"].platform.kind == "kubernetes"
    assert catalog.environments["staging"].platform.kind == "docker"


def test_ops_config_errors_name_their_path(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text(
        "environments:\n"
        "  prod:\n"
        "    platform: {kind: docker}\n"
        "    checks:\n"
        "      - {name: api, kind: http}\n"
        "      - {name: db, kind: mysql}\n"
        "roles:\n"
        "  moon: {operator: [U1]}\n")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    problems = "\n".join(caught.value.problems)
    assert "environments.prod.platform: a docker platform needs `project`" in problems
    assert "environments.prod.checks.0: a http check needs url" in problems
    assert "environments.prod.checks.1.kind" in problems


def test_every_problem_is_reported_with_its_path(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text(
        "severities:\n  P1: {name: High, response: soon}\n  P7: {name: X, response: 1h}\n"
        "announce_chanel: incidents\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    problems = "\n".join(caught.value.problems)
    assert "severities.P1.response: 'soon' is not a duration" in problems
    assert "announce_chanel: Extra inputs are not permitted" in problems


def test_unreadable_and_invalid_yaml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("severities: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(bad)


@pytest.mark.parametrize("text,minutes", [("15m", 15), ("1h", 60), ("2d", 2880), ("30 min", 30)])
def test_durations(text, minutes):
    assert parse_duration(text) == timedelta(minutes=minutes)


def test_bad_duration_says_how_to_write_one():
    with pytest.raises(ValueError, match="like 15m, 4h, 2d or 2h30m"):
        parse_duration("soonish")


NINE_PROBLEMS = """\
limits: {title_max: 0, text_max: -5}
severities:
  P1: {name: High, response: 1h, update_every: 30}
scheduler: {tick: 0s, postmortem_repeat: 12}
environments:
  prod:
    services: {api: {deployment: api}}
    maintenance: {restart: [api, worker]}
    checks:
      - {name: web, kind: http, url: "http://x", warn_ms: 2000, crit_ms: 500}
      - {name: db, kind: postgres, dsn_env: DB, warn_pct: 90, crit_pct: 70}
      - {name: cache, kind: redis, url_env: R, warn_pct: 95, crit_pct: 80}
      - {name: cert, kind: tls, host: x, warn_days: 7, crit_days: 30}
roles:
  moon: {operator: [U1]}
"""


def test_check_config_reports_every_problem_in_one_run_with_its_path(tmp_path):
    """Field errors, each check's own checks and the environment's and catalog's cross-references (which pydantic
    runs only once the fields are valid) come out together."""
    path = tmp_path / "opsbot.yml"
    path.write_text(NINE_PROBLEMS)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", "--config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "OK" not in result.stdout
    lines = result.stderr.splitlines()
    expected = [
        "limits.title_max: Input should be greater than 0",
        "limits.text_max: Input should be greater than 0",
        "severities.P1.update_every: '30' has no unit; write it with one, like 30s, 30m or 30h",
        "scheduler.tick: must be longer than zero",
        "scheduler.postmortem_repeat: '12' has no unit",
        "environments.prod.checks.0: a http check's warn_ms (2000) must be lower than its crit_ms (500)",
        "environments.prod.checks.1: a postgres check's warn_pct (90) must be lower than its crit_pct (70)",
        "environments.prod.checks.2: a redis check's warn_pct (95) must be lower than its crit_pct (80)",
        "environments.prod.checks.3: a tls check's warn_days (7) must be higher than its crit_days (30)",
        "environments.prod: maintenance.restart names unknown services: worker (services: api)",
        "roles name unknown environments: moon",
    ]
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, lines)
    warnings = [line for line in lines if line.startswith("config warning: ")]
    assert warnings == [
        "config warning: environments.prod.checks.1.dsn_env: $DB is not set here; what reads it fails until it is",
        "config warning: environments.prod.checks.2.url_env: $R is not set here; what reads it fails until it is"]
    assert all(line.startswith("config error: ") for line in lines if line not in warnings)


@pytest.mark.parametrize("yaml_text, message", [
    ("severities: {P0: {name: C, response: 15m, update_every: 30}}", "severities.P0.update_every: '30' has no unit"),
    ("severities: {P0: {name: C, response: 0m}}", "severities.P0.response: a response target must be longer"),
    ("scheduler: {grace: 600}", "scheduler.grace: '600' has no unit"),
    ("scheduler: {tick: 0s}", "scheduler.tick: must be longer than zero"),
    ("scheduler: {lead_times: [48h, 0m]}", "scheduler.lead_times.1: must be longer than zero"),
    ("limits: {title_max: 0}", "limits.title_max: Input should be greater than 0"),
    ("environments: {e: {checks: [{name: c, kind: http, url: 'http://x', timeout_s: 0}]}}",
     "environments.e.checks.0.timeout_s: Input should be greater than 0"),
    ("environments: {e: {checks: [{name: c, kind: http, url: 'http://x', warn_ms: -1}]}}",
     "environments.e.checks.0.warn_ms: Input should be greater than 0"),
    ("environments: {e: {runbook: {x: {argv: [true], timeout_s: 0}}}}",
     "environments.e.runbook.x.timeout_s: Input should be greater than 0"),
    (("environments: {e: {platform: {kind: ssh, hosts: [h], user: u, key_env: K, known_hosts: /k},\n"
      "  checks: [{name: d, kind: disk, warn_pct: 5, crit_pct: 10}, {name: m, kind: memory, warn_pct: 1, crit_pct: 2}]}}"),
     "environments.e.checks.1: a memory check's warn_pct (1) must be higher than its crit_pct (2)"),
    ("environments: {e: {checks: [{name: p, kind: prometheus, url_env: P, query: up, warn: 2, crit: 1}]}}",
     "environments.e.checks.0: warn (2) is above crit (1)"),
    ("environments: {e: {services: {api: {}}, maintenance: {restart: [web]}}}",
     "environments.e: maintenance.restart names unknown services: web (services: api)"),
])
def test_check_config_refuses_what_would_break_the_bot(tmp_path, yaml_text, message):
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    assert any(problem.startswith(message) for problem in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("yaml_text, message", [
    ("environments: {e: {checks: [{name: c, kind: http, url: 'http://x', warn_pct: 5}]}}",
     "environments.e.checks.0: a http check has no warn_pct; its keys: kind, name, timeout_s, url, expect_status"),
    ("environments: {e: {checks: [{name: c, kind: tcp, host: h}]}}", "environments.e.checks.0: a tcp check needs port"),
    ("environments: {e: {checks: [{name: c, kind: mysql}]}}",
     "environments.e.checks.0.kind: 'mysql' is not a kind here; use one of 'http', 'postgres'"),
    ("environments: {e: {checks: [{name: c, url: 'http://x'}]}}", "environments.e.checks.0.kind: Field required"),
    ("environments: {e: {platform: {kind: kubernetes, nmespace: shop}}}",
     "environments.e.platform: a kubernetes platform has no nmespace; its keys: kind, namespace, context, api_url"),
    ("environments: {e: {platform: {kind: docker, project: p, port: 0}}}",
     "environments.e.platform: a docker platform has no port"),
    ("environments: {e: {platform: {kind: ssh, hosts: [h], user: u, key_env: K, known_hosts: /k, port: 0}}}",
     "environments.e.platform.port: Input should be greater than 0"),
])
def test_a_platform_or_check_is_checked_against_its_own_kind(tmp_path, yaml_text, message):
    """Each kind has its own keys: one another kind has, a typo or a missing one is named with the kind."""
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    assert any(problem.startswith(message) for problem in caught.value.problems), caught.value.problems


def test_durations_with_units_and_a_zero_grace_are_accepted(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text("scheduler: {tick: 200ms, grace: 0s, postmortem_repeat: 1.5s}\nseverities:\n" + "".join(
        f"  P{n}: {{name: S, response: 15m, update_every: 45m}}\n" for n in range(4)))
    catalog = load_catalog(path)
    assert catalog.scheduler.tick == timedelta(milliseconds=200) and catalog.scheduler.grace == timedelta(0)
    assert catalog.scheduler.postmortem_repeat == timedelta(seconds=1.5)
    assert catalog.severities["P0"].update_every == timedelta(minutes=45)


def test_the_configuration_reference_is_current_and_lists_every_key():
    from bot.config import reference

    text = reference.render()
    assert (ROOT / "docs" / "configuration.md").read_text() == text, "run: python -m bot.config.reference"
    for row in ("| `limits.title_max` | int, > 0 | `150` |", "| `scheduler.tick` | duration (15m, 4h, 2d) | 5s |",
                "| `environments.<name>.checks[].warn_ms` |", "| `severities.<name>.name` | str | **required** |",
                "| `OPSBOT_DATABASE_URL` |", "| `alerts.rules[].on_resolved` | note \\| resolve | `note` |"):
        assert row in text, row
