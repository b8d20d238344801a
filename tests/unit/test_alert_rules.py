"""The `alerts:` rules of opsbot.yml: matchers as in Alertmanager, templates over labels and annotations, and
`opsbot check-config` naming what is wrong."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Catalog, ConfigError, load_catalog
from bot.config.alerts import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_matching_rule_decides_and_unmatched_groups_use_the_default():
    catalog = Catalog.model_validate({"alerts": {"rules": [
        {"match": ['alertname="Watchdog"'], "ignore": True},
        {"match": ['env=~"prod|live"', 'team!="test"'], "severity": "sev1"},
        {"match": ['env!~"prod.*"'], "severity": "p3"}], "default": {"severity": "P1"}}})
    rules = catalog.alerts
    assert rules.rule_for({"alertname": "Watchdog", "env": "prod"}).ignore
    assert rules.rule_for({"alertname": "X", "env": "live"}).severity == "P0"  # aliases become the catalog's keys
    assert rules.rule_for({"alertname": "X", "env": "prod", "team": "test"}).severity == "P1"  # falls to default
    assert rules.rule_for({"alertname": "X"}).severity == "P3"  # a missing label is "" (as in Alertmanager)


def test_templates_take_labels_then_annotations_and_drop_what_is_missing():
    assert render("{alertname} in {env}: {summary}", {"alertname": "HighLatency", "env": "prod"},
                  {"summary": "p95 2 s"}) == "HighLatency in prod: p95 2 s"
    assert render("{alertname}: {summary}", {"alertname": "DiskFull"}, {}) == "DiskFull"
    assert render("{nothing}", {}, {}) == ""


@pytest.mark.parametrize("rules, message", [
    ("[{match: ['env~prod']}]", "alerts.rules.0.match: 'env~prod' is not a matcher"),
    ("[{match: ['env=~\"(prod\"']}]", "the regex does not compile"),
    ("[{severity: P7}]", "alerts.rules.0.severity: 'P7' is not a severity"),
    ("[{on_resolved: close}]", "alerts.rules.0.on_resolved"),
    ("[{sevrity: P1}]", "alerts.rules.0.sevrity: Extra inputs are not permitted"),
])
def test_bad_rules_are_config_errors_with_their_path(tmp_path, rules, message):
    path = tmp_path / "opsbot.yml"
    path.write_text(f"alerts:\n  rules: {rules}\n")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_check_config_reports_a_bad_rule_and_accepts_the_example(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text("alerts:\n  rules: [{match: ['severity=critical'], severity: urgent}]\n")
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", "--config", str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "alerts.rules.0.severity: 'urgent' is not a severity" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr
    example = load_catalog(ROOT / "opsbot.example.yml")
    assert example.alerts.rule_for({"alertname": "Watchdog"}).ignore
    assert example.alerts.rule_for({"env": "prod", "severity": "critical"}).severity == "P1"


def test_a_rules_commander_may_be_whoever_is_on_call(store, clock):
    """`commander: schedule:primary`: the incident an alert opens is commanded by the person on call then."""
    import json

    from bot.alerts import webhook
    from bot.core.alerts import AlertService
    from bot.core.flows import IncidentFlows
    from bot.core.incidents import IncidentService

    catalog = Catalog.model_validate({
        "oncall": {"schedules": {"primary": {"layers": [
            {"name": "w", "users": ["U01AAAA", "U01BBBB"], "rotation": "weekly", "start": "2026-11-16T00:00"}]}}},
        "alerts": {"default": {"severity": "P2", "commander": "schedule:primary"}}})
    service = AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)
    group = webhook.parse(json.dumps({"title": "Disk full", "dedup_key": "disk"}).encode(), "uptime")
    assert service.accept([(group, "d1")]) == [True]
    assert [o.outcome for o in service.process_pending()] == ["opened"]
    assert store.get_incident(1).commander == "U01AAAA"
    with pytest.raises(ValueError, match="commander names schedule 'nope'"):
        Catalog.model_validate({"alerts": {"default": {"commander": "schedule:nope"}}})
