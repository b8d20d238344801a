"""The Dockerfile, built and run on the private test engine. Registries' images cannot be pulled here, so the
base is Debian bookworm made from Debian's packages (scripts/base-image.sh, cached by tag) passed as BASE_IMAGE;
production keeps python:3.11-slim. The build reaches PyPI through the engine's host network."""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port
from tests.integration.test_docker_platform import docker_host  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def docker(host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "DOCKER_HOST": host})


@pytest.fixture(scope="module")
def base_image(docker_host) -> str:  # noqa: F811
    """Built once per machine; a failure fails the test (never a skip)."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "base-image.sh")], capture_output=True, text=True,
                          timeout=1200, check=False, env={**os.environ, "DOCKER_HOST": docker_host})
    if done.returncode != 0:
        pytest.fail(f"scripts/base-image.sh could not build the base image: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def image(docker_host, base_image):  # noqa: F811
    tag = f"opsbot-test:{uuid.uuid4().hex[:8]}"
    done = docker(docker_host, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image}", "-t", tag,
                  str(ROOT), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield tag
    docker(docker_host, "rmi", "-f", tag)


@pytest.fixture
def running(docker_host, image, fake_slack):  # noqa: F811
    """`opsbot serve` in HTTP mode on a free host port; Slack's Web API is the local fake (auth.test at start)."""
    port, name = free_port(), f"opsbot-image-{uuid.uuid4().hex[:8]}"
    done = docker(docker_host, "run", "-d", "--name", name, "--network", "host", "-e", f"PORT={port}",
                  "-e", "OPSBOT_DATABASE_URL=sqlite:////data/opsbot.db", "-e", "SLACK_BOT_TOKEN=xoxb-test",
                  "-e", "SLACK_SIGNING_SECRET=test-secret", "-e", f"OPSBOT_SLACK_API_URL={fake_slack.api_url}", image)
    try:
        assert done.returncode == 0, done.stderr  # a failed start may still leave a created container
        yield name, f"http://127.0.0.1:{port}"
    finally:
        docker(docker_host, "rm", "-f", name)


def wait_healthy(host: str, name: str, url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(f"{url}/healthz", timeout=2)
        except httpx.TransportError:
            state = json.loads(docker(host, "inspect", name).stdout)[0]["State"]
            assert state["Running"], f"the container exited: {docker(host, 'logs', name).stderr[-2000:]}"
            time.sleep(0.3)
    pytest.fail(f"/healthz did not answer in {timeout} s: {docker(host, 'logs', name).stderr[-2000:]}")


def test_the_image_serves_healthz_as_a_non_root_user(docker_host, running, fake_slack):  # noqa: F811
    name, url = running
    response = wait_healthy(docker_host, name, url)
    assert response.status_code == 200 and response.json()["ok"] is True
    uid = docker(docker_host, "exec", name, "id", "-u")
    assert uid.returncode == 0 and uid.stdout.strip() not in ("", "0")
    assert any(call.method == "auth.test" for call in fake_slack.calls)  # the container is the one that answered


def test_the_image_reports_the_installed_version(docker_host, image):  # noqa: F811
    done = docker(docker_host, "run", "--rm", "--network", "none", image, "opsbot", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"opsbot {version('opsbot')}"
    config = json.loads(docker(docker_host, "image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001" and config["Cmd"] == ["opsbot", "serve"]
