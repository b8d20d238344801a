"""`opsbot` at a person's terminal: a backend that cannot be reached is one line on stderr, never a traceback; a
port out of range is a clean configuration error; `opsbot serve` says it started at the default log level; at the
console prompt Ctrl-C drops the line being typed and Ctrl-D leaves."""
from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.conftest import free_port
from tests.poll import wait_until

ROOT = Path(__file__).resolve().parents[2]
OPSBOT = [sys.executable, "-m", "bot.cli"]
CATALOG = """
environments:
  dock: {platform: {kind: docker, project: shop}, services: {api: {}}}
  kube: {platform: {kind: kubernetes, namespace: shop}, services: {api: {}}}
"""


def environment(sqlite_url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SLACK_", "OPSBOT_", "DOCKER_", "KUBECONFIG"))}
    return env | {"OPSBOT_DATABASE_URL": sqlite_url, "PYTHONPATH": str(ROOT)} | extra


def test_an_unreachable_docker_or_kubernetes_is_one_line_without_a_traceback(sqlite_url, tmp_path):
    (tmp_path / "opsbot.yml").write_text(CATALOG)
    result = subprocess.run(
        [*OPSBOT, "--config", str(tmp_path / "opsbot.yml"), "console"], check=False, input="/ops status dock\n/ops status kube\n",
        env=environment(sqlite_url, DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock",
                        KUBECONFIG=str(tmp_path / "no-kubeconfig")),
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0
    assert f"⚠️ Cannot reach the Docker engine of dock at unix://{tmp_path}/no-docker.sock" in result.stdout
    assert "⚠️ No Kubernetes credentials for kube" in result.stdout
    assert "Usage:" not in result.stdout  # the command was right: its syntax would only distract
    assert "Traceback" not in result.stderr + result.stdout
    problems = [line for line in result.stderr.splitlines() if "backend error" in line]
    assert len(problems) == 2 and "(FileNotFoundError: " in problems[0]
    assert all(line.startswith(("opsbot: created", "20")) for line in result.stderr.splitlines())


def test_a_port_out_of_range_is_a_clean_configuration_error(sqlite_url, tmp_path):
    result = subprocess.run([*OPSBOT, "serve"], check=False, env=environment(sqlite_url, PORT="99999"), capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "config error: PORT: Input should be less than or equal to 65535"


def test_serve_prints_its_one_start_line_at_the_default_level(sqlite_url, tmp_path):
    port = free_port()
    process = subprocess.Popen([*OPSBOT, "serve", "--host", "127.0.0.1"], env=environment(sqlite_url, PORT=str(port)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_until(lambda: _answers(port), timeout=20, what="opsbot serve answering /healthz")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    lines = [line for line in err.splitlines() if "created a new empty database" not in line]
    assert len(lines) == 1, err
    assert "INFO opsbot.start: opsbot " in lines[0] and f"serving: slack=off port={port}" in lines[0]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Terminal:
    """`opsbot console` on a pseudo-terminal of its own, as a person runs it (Ctrl-C is a real SIGINT)."""

    def __init__(self, sqlite_url: str, home: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the console, with the terminal as its controlling tty
            os.chdir(ROOT)
            os.execvpe(sys.executable, [*OPSBOT, "console", "--user", "U_ME"],
                       environment(sqlite_url, HOME=str(home), TERM="dumb"))
        self.seen = b""
        self.code: int | None = None

    def read(self) -> str:
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the child has gone and the terminal is closed
                break
            if not chunk:
                break
            self.seen += chunk
        return self.seen.decode(errors="replace")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def prompts(self) -> int:
        return self.read().count("opsbot> ")

    def exited(self) -> bool:
        """Whether the console has exited (reaped once; its exit code is then `code`)."""
        self.read()
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is not None

    def close(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_ctrl_c_at_the_prompt_drops_the_line_and_ctrl_d_leaves(sqlite_url, tmp_path):
    term = Terminal(sqlite_url, tmp_path)
    try:
        wait_until(lambda: term.prompts() == 1, timeout=30, what="the first prompt")
        term.type("/incident open p2 never sent")
        wait_until(lambda: "never sent" in term.read(), what="the typed line echoed")
        term.type("\x03")  # Ctrl-C
        wait_until(lambda: term.prompts() == 2, what="a fresh prompt after Ctrl-C")
        assert not term.exited()
        term.type("/incident list\n")
        wait_until(lambda: "No open incidents" in term.read(), what="the next command answered")
        wait_until(lambda: term.prompts() == 3, what="the prompt after the command")
        term.type("\x04")  # Ctrl-D
        wait_until(term.exited, timeout=15, what="the console to exit on Ctrl-D")
    finally:
        term.close()
    assert term.code == 0
    assert "Traceback" not in term.seen.decode(errors="replace") and "INC-1" not in term.seen.decode(errors="replace")
