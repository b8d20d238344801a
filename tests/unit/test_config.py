"""opsbot.yml validation: precise paths for every problem; the shipped example is valid."""
from __future__ import annotations

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
    with pytest.raises(ValueError, match="like 15m, 4h or 2d"):
        parse_duration("soonish")
