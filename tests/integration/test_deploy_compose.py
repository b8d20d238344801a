"""deploy/compose.yml, checked by the real docker-compose 1.29 (scripts/start-docker.sh installs it) with the
placeholder env file the README tells people to copy."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


def compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: run scripts/start-docker.sh (it installs Debian's docker-compose)"
    return subprocess.run([binary, "-f", str(COMPOSE), "--env-file", str(env_file), *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, "COMPOSE_PROJECT_NAME": "opsbot"})


def test_compose_file_is_valid_with_the_example_env_file():
    done = compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_wires_the_database_url_catalog_and_healthcheck_from_the_env_file():
    done = compose("config")
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    opsbot, db = config["services"]["opsbot"], config["services"]["db"]
    env = opsbot["environment"]
    assert env["OPSBOT_DATABASE_URL"] == "postgresql://opsbot:change-me@db:5432/opsbot"
    assert (db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_DB"]) == ("opsbot", "opsbot")
    assert env["OPSBOT_CONFIG"] == "/etc/opsbot/opsbot.yml"
    assert env["OPSBOT_WEB_URL"] == "https://opsbot.example.com"  # sign-in links must not point at localhost
    catalog = next(v for v in opsbot["volumes"] if v.endswith("/etc/opsbot/opsbot.yml:ro"))
    assert catalog.startswith(str(ROOT / "opsbot.example.yml"))  # resolved against deploy/
    assert "/healthz" in " ".join(opsbot["healthcheck"]["test"])
    assert opsbot["depends_on"]["db"]["condition"] == "service_healthy"
    assert any(v.startswith("pgdata:/var/lib/postgresql/data") for v in db["volumes"]) and "pgdata" in config["volumes"]


def test_the_example_env_file_holds_placeholders_only():
    values = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if line.strip() and not line.startswith("#"))
    for name in ("POSTGRES_PASSWORD", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPSBOT_AUDIT_KEY"):
        assert "change-me" in values[name] or "replace-me" in values[name], name


def test_a_missing_secret_stops_compose_with_its_name(tmp_path):
    partial = tmp_path / ".env"
    partial.write_text("\n".join(line for line in ENV_EXAMPLE.read_text().splitlines()
                                 if not line.startswith("SLACK_SIGNING_SECRET=")))
    done = compose("config", "-q", env_file=partial)
    assert done.returncode != 0 and "SLACK_SIGNING_SECRET" in done.stderr
