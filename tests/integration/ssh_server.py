"""A real OpenSSH server for the ssh platform tests: Debian's sshd on a loopback port with its own host key and
config, an unprivileged user (created if missing when the tests run as root), a generated client key, a real pm2
daemon of that user running a small node app, and stand-ins for `systemctl`/`journalctl` (no systemd runs in a
container) put first on the SSH sessions' PATH.

Missing sshd or pm2 fails the tests (scripts/test.sh installs them), never skips them.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

USER = "opsbot-ssh"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
KEY_ENV = "OPSBOT_TEST_SSH_KEY"

APP = """
console.log('started ' + process.env.APP_NAME);
console.error('error: pool exhausted');
require('http').createServer((q, r) => r.end('ok')).listen(0);
"""

# Answers like systemctl/journalctl for the units that have a state file in UNITS.
STAND_IN = r'''#!/usr/bin/env python3
import os, sys
from datetime import datetime, timezone
UNITS = os.environ["OPSBOT_TEST_UNITS"]  # set per sshd (SetEnv): each host its own units
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]


def path(unit, kind):
    return os.path.join(UNITS, unit.removesuffix(".service") + kind)


def log(unit, message):
    with open(path(unit, ".journal"), "a") as f:
        f.write(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000") + f" host systemd[1]: {message}\n")


if name == "systemctl":
    verb, unit = args[0], args[1]
    if not os.path.exists(path(unit, ".state")):
        if verb == "is-active":
            print("inactive"); sys.exit(3)
        print(f"Failed to {verb} {unit}.service: Unit {unit}.service not found.", file=sys.stderr); sys.exit(5)
    if verb == "is-active":
        state = open(path(unit, ".state")).read().strip()
        print(state); sys.exit(0 if state == "active" else 3)
    state = "inactive" if verb == "stop" else "active"
    open(path(unit, ".state"), "w").write(state)
    log(unit, {"restart": "Restarted", "stop": "Stopped", "start": "Started"}[verb] + f" {unit}.service.")
else:  # journalctl -u UNIT --no-pager -o short-iso -n N [--since "YYYY-MM-DD HH:MM:SS UTC"]
    unit = args[args.index("-u") + 1]
    lines = open(path(unit, ".journal")).read().splitlines() if os.path.exists(path(unit, ".journal")) else []
    if "--since" in args:
        since = datetime.strptime(args[args.index("--since") + 1], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=timezone.utc)
        lines = [l for l in lines if datetime.strptime(l[:24], "%Y-%m-%dT%H:%M:%S%z") >= since]
    if "-n" in args:
        lines = lines[-int(args[args.index("-n") + 1]):]
    print("\n".join(lines) if lines else "-- No entries --")
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SshServer:
    """Two sshd on two loopback ports: two hosts, each with its own pm2 daemon (PM2_HOME) and units."""

    ports: list[int]
    user: str
    home: Path
    workdir: Path
    key_text: str
    known_hosts: Path
    host_key_line: str  # the servers' public host key, as known_hosts lists it (without the host)

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def hosts(self) -> list[str]:
        return [f"127.0.0.1:{self.ports[0]}", f"localhost:{self.ports[1]}"]

    def known(self, host: int, key: str | None = None) -> str:
        """Host `host`'s known_hosts line (with another key: an impostor)."""
        return f"{'[127.0.0.1]' if host == 0 else '[localhost]'}:{self.ports[host]} {key or self.host_key_line}\n"

    def platform(self, **changes) -> dict:
        return {"kind": "ssh", "hosts": self.hosts, "user": self.user, "key_env": KEY_ENV,
                "known_hosts": str(self.known_hosts), "timeout_s": 10, **changes}

    def as_user(self, *argv: str, host: int = 0, check: bool = True) -> str:
        """A command as the unprivileged user on host 0 or 1, outside SSH (set-up and assertions)."""
        env = {"HOME": str(self.home), "PATH": f"{self.workdir}/bin:/usr/local/bin:/usr/bin:/bin",
               "PM2_HOME": str(self.home / f".pm2-opsbot-{host}")}
        prefix = ["runuser", "-u", self.user, "--"] if os.getuid() == 0 else []
        done = subprocess.run([*prefix, "env", *[f"{k}={v}" for k, v in env.items()], *argv], capture_output=True,
                              text=True, timeout=60, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def pm2(self, *args: str, host: int = 0) -> str:
        return self.as_user("pm2", *args, host=host)

    def set_unit(self, unit: str, state: str, host: int = 0) -> None:
        path = self.workdir / f"units-{host}" / f"{unit}.state"
        path.write_text(state)
        path.chmod(0o666)  # the stand-in, run by the user, changes it


def _user() -> tuple[str, Path]:
    if os.getuid() != 0:  # not root: the tests' own user is the unprivileged one
        entry = pwd.getpwuid(os.getuid())
        return entry.pw_name, Path(entry.pw_dir)
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True, capture_output=True)
        entry = pwd.getpwnam(USER)
    # no password, yet not locked: without PAM, sshd refuses a locked account even its keys
    subprocess.run(["usermod", "-p", "*", USER], check=True, capture_output=True)
    return USER, Path(entry.pw_dir)


def start_ssh_server():
    """Yields a running SshServer; stops sshd and the user's pm2 daemon afterwards."""
    if not os.path.exists(SSHD) or shutil.which("pm2") is None:
        pytest.fail("sshd (Debian's openssh-server) and pm2 (npm) are required: run scripts/test.sh")
    user, home = _user()
    uid = pwd.getpwnam(user).pw_uid
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-sshd-"))
    workdir.chmod(0o755)  # the user's sessions read the stand-ins and authorized keys here
    (workdir / "bin").mkdir()
    for host in (0, 1):
        (workdir / f"units-{host}").mkdir()
        if os.getuid() == 0:
            os.chown(workdir / f"units-{host}", uid, -1)
    stand_in = workdir / "bin" / "systemctl"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    (workdir / "bin" / "journalctl").symlink_to(stand_in)

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "host_key")], check=True)
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (workdir / "authorized_keys").write_text(client_key.export_public_key().decode())
    (workdir / "authorized_keys").chmod(0o644)
    host_key_line = " ".join((workdir / "host_key.pub").read_text().split()[:2])
    ports = [free_port(), free_port()]
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{ports[0]} {host_key_line}\n[localhost]:{ports[1]} {host_key_line}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    daemons = []
    server = SshServer(ports, user, home, workdir, client_key.export_private_key().decode(), known_hosts,
                       host_key_line)
    try:
        for host, port in enumerate(ports):
            config = workdir / f"sshd_config-{host}"
            config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {workdir}/host_key
PidFile {workdir}/sshd-{host}.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {workdir}/authorized_keys
StrictModes no
AllowUsers {user}
SetEnv PATH={workdir}/bin:/usr/local/bin:/usr/bin:/bin PM2_HOME={home}/.pm2-opsbot-{host} OPSBOT_TEST_UNITS={workdir}/units-{host}
""")
            with open(workdir / f"sshd-{host}.log", "w") as log:  # sshd keeps its own copy of the descriptor
                daemons.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                                stderr=log, start_new_session=True))
        for host, (port, sshd) in enumerate(zip(ports, daemons, strict=True)):
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if sshd.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"sshd did not start: {(workdir / f'sshd-{host}.log').read_text()[-1500:]}")
                    time.sleep(0.05)
        app = home / "opsbot-test-app.js"
        app.write_text(APP)
        for host in (0, 1):
            server.pm2("kill", host=host)  # a daemon left by an earlier run, and its logs
            shutil.rmtree(home / f".pm2-opsbot-{host}" / "logs", ignore_errors=True)
            server.as_user("env", "APP_NAME=api", "pm2", "start", str(app), "--name", "api", host=host)
            server.set_unit("nginx", "active", host=host)
        os.environ[KEY_ENV] = server.key_text
        yield server
    finally:
        os.environ.pop(KEY_ENV, None)
        for host in (0, 1):
            server.as_user("pm2", "kill", host=host, check=False)
        for sshd in daemons:
            sshd.terminate()
            sshd.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
        if sys.exc_info()[0] is None:
            (home / "opsbot-test-app.js").unlink(missing_ok=True)
