"""The ssh platform in opsbot.yml: what `opsbot check-config` says about hosts, managers and host checks."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import load_catalog
from bot.config.environments import ssh_address
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = {"kind": "ssh", "hosts": ["web-1", "web-2:2222"], "user": "deploy", "key_env": "SSH_KEY",
            "known_hosts": "/etc/opsbot/known_hosts"}
SERVICES = {"api": {"manager": "pm2", "process": "api"}, "nginx": {"manager": "systemd", "unit": "nginx"}}


def problems_of(tmp_path: Path, env: dict) -> list[str]:
    path = tmp_path / "opsbot.yml"
    path.write_text(yaml.safe_dump({"environments": {"prod": env}}))
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return caught.value.problems


@pytest.mark.parametrize(("env", "message"), [
    ({"platform": {**PLATFORM, "known_hosts": None}}, "an ssh platform needs known_hosts (known_hosts is required"),
    ({"platform": {**PLATFORM, "hosts": [], "key_env": None}}, "an ssh platform needs hosts, key_env"),
    ({"platform": {**PLATFORM, "hosts": ["web-1:http"]}}, "'web-1:http' is not a host: write address or address:port"),
    ({"platform": {**PLATFORM, "hosts": ["web-1", "web-1"]}}, "ssh hosts must be unique"),
    ({"platform": PLATFORM, "services": {"api": {"process": "api"}}},
     "service api: an ssh platform needs `manager` (pm2 or systemd)"),
    ({"platform": PLATFORM, "services": {"api": {"manager": "supervisord"}}}, "Input should be 'pm2' or 'systemd'"),
    ({"platform": PLATFORM, "services": {"api": {"manager": "pm2", "hosts": ["web-3"]}}},
     "service api: unknown host web-3; the platform's hosts: web-1, web-2:2222"),
    ({"platform": PLATFORM, "services": SERVICES, "checks": [{"name": "d", "kind": "disk", "hosts": ["web-9"]}]},
     "check d: unknown host web-9; the platform's hosts: web-1, web-2:2222"),
    ({"platform": PLATFORM, "services": SERVICES, "checks": [{"name": "p", "kind": "pm2", "service": "nginx"}]},
     "check p: 'nginx' is not a pm2 service here; pm2 services: api"),
    ({"platform": PLATFORM, "checks": [{"name": "d", "kind": "disk", "warn_pct": 5, "crit_pct": 10}]},
     "a disk check's warn_pct (5) must be higher than its crit_pct (10)"),
    ({"platform": PLATFORM, "checks": [{"name": "l", "kind": "load", "warn": 3, "crit": 2}]},
     "a load check's warn (3) must be lower than its crit (2)"),
    ({"platform": {"kind": "docker", "project": "p"}, "checks": [{"name": "m", "kind": "memory"}]},
     "check m: a memory check runs over SSH and needs an ssh platform"),
    ({"platform": {"kind": "docker", "project": "p"}, "services": {"api": {"manager": "pm2"}}},
     "service api: manager and hosts are for ssh platforms"),
])
def test_check_config_names_what_is_wrong_with_an_ssh_environment(tmp_path, env, message):
    problems = problems_of(tmp_path, env)
    assert any(p.startswith("environments.prod") and message in p for p in problems), problems


@pytest.mark.parametrize(("host", "expected"), [
    ("web-1", ("web-1", 22)), ("web-1:2222", ("web-1", 2222)), ("[::1]:2200", ("::1", 2200)), ("::1", ("::1", 22)),
])
def test_hosts_are_address_or_address_and_port(host, expected):
    assert ssh_address(host) == expected


def test_the_example_has_an_ssh_environment_from_the_pm2_runbook():
    env = load_catalog(ROOT / "opsbot.example.yml").environments["droplets"]
    assert env.platform is not None and env.platform.kind == "ssh" and env.platform.known_hosts
    assert {name: s.manager for name, s in env.services.items()} == {"backend": "pm2", "nginx": "systemd"}
    assert {c.kind for c in env.checks} == {"disk", "memory", "load", "pm2"}
