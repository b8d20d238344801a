"""The `prometheus` check kind in opsbot.yml: what check-config says about it, and the runbooks' thresholds."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import load_catalog
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def problems_of(tmp_path: Path, check: dict) -> list[str]:
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml.safe_dump({"environments": {"prod": {"checks": [check]}}}))
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return caught.value.problems


BASE = {"name": "error-rate", "kind": "prometheus", "url_env": "PROM_URL", "query": "sum(rate(x[5m]))"}


@pytest.mark.parametrize(("change", "message"), [
    ({"url_env": None}, "a prometheus check needs url_env (the environment variable holding the Prometheus base URL"),
    ({"query": ""}, "a prometheus check needs query"),
    ({}, "a prometheus check needs warn or crit"),
    ({"warn": 0.05, "crit": 0.01}, "warn (0.05) is above crit (0.01): with direction above"),
    ({"warn": 0.1, "crit": 0.2, "direction": "below"}, "warn (0.1) is below crit (0.2): with direction below"),
    ({"warn": 5, "crit": 10, "unit": "%"}, "with unit '%' the query returns a ratio"),
    ({"crit": 1, "direction": "sideways"}, "direction"),
])
def test_check_config_names_what_is_wrong_with_a_prometheus_check(tmp_path, change, message):
    check = {key: value for key, value in {**BASE, **change}.items() if value is not None}
    problems = problems_of(tmp_path, check)  # every problem of the check at once (no warn/crit in BASE either)
    assert any(problem.startswith("environments.prod.checks.0") and message in problem for problem in problems), \
        problems


def test_warn_and_crit_the_right_way_round_are_accepted_in_either_direction(tmp_path):
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml.safe_dump({"environments": {"prod": {"checks": [
        {**BASE, "warn": 0.01, "crit": 0.05, "unit": "%"},
        {**BASE, "name": "free", "warn": 0.2, "crit": 0.1, "unit": "%", "direction": "below"}]}}}))
    assert [check.name for check in load_catalog(path).environments["prod"].checks] == ["error-rate", "free"]


def test_the_example_catalog_has_a_prometheus_check_for_each_runbook_threshold():
    catalog = load_catalog(ROOT / "opsbot.example.yml")
    prod = {c.name: c for c in catalog.environments["prod"].checks if c.kind == "prometheus"}
    assert {name: (c.warn, c.crit, c.unit) for name, c in prod.items()} == {
        "error-rate": (0.01, 0.05, "%"), "client-error-rate": (0.01, None, "%"), "latency-p95": (0.5, 2, "s"),
        "cpu": (0.8, 0.9, "%"), "memory": (0.85, 0.95, "%"), "disk": (0.8, 0.9, "%"), "db-pool": (0.7, 0.9, "%"),
        "replication-lag": (1, None, "s")}
    assert all(c.url_env == "PROM_URL" for c in prod.values())
    staging = [c for c in catalog.environments["staging"].checks if c.kind == "prometheus"]
    assert len(staging) == 3 and all(c.url_env == "STAGING_PROM_URL" for c in staging)


def test_check_config_command_accepts_the_example_and_rejects_a_missing_url_env(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", "--config", "opsbot.example.yml"],
                        cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml.safe_dump({"environments": {"prod": {"checks": [{**BASE, "url_env": None, "crit": 1}]}}}))
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", "--config", str(path)],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "a prometheus check needs url_env" in bad.stderr and "Traceback" not in bad.stderr
