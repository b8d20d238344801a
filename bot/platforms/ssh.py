"""Hosts over SSH (AsyncSSH): services run by pm2 or systemd on each of an environment's hosts.

Every remote command is built as argv and quoted for the remote shell with `shlex.join`, so a parameter (a
process name, a unit, a path) reaches the command literally: nothing is expanded remotely. Host keys are checked
against the configured known_hosts file, never accepted on first sight. The private key is read from the
environment variable `key_env` and never appears in a message.

An action runs on every host of the service at once; each host reports its own outcome ("web-1: restarted api;
web-2: host key mismatch"). An action that fails on any host fails as a whole (audited as failed, with every
host's outcome), so a half-done restart is never reported as done.

pm2: status from `pm2 jlist`; restart (or `pm2 reload` with `reload: true`), stop, start; logs with `--nostream
--lines`; scale with `pm2 scale` (instances per host). systemd: `systemctl is-active|restart|stop|start`,
`journalctl -u … --since … --no-pager -o short-iso`; no scale. Neither has a previous version to roll back to
nor a maintenance flag: both are refused with the reason.
"""
from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncssh

from bot.config.environments import Environment, Service, ssh_address
from bot.core.grep import LineFilter
from bot.core.ports import HostResult, ServiceState, WorkloadHealth
from bot.errors import BackendError, NotFound, UsageError
from bot.platforms import platform_config

T = TypeVar("T")
LOG_BLOCK = 1 << 16
STREAM_LINES = 100_000  # evidence: at most this many lines per host and service, streamed


def blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run asyncio work from a blocking Platform call (the callers are worker threads; inside a running loop,
    which cannot be re-entered, it runs in a thread of its own)."""
    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class SshPlatform:
    def __init__(self, env_name: str, env: Environment):
        self.env_name = env_name
        self.env = env
        self.config = platform_config(env_name, env)
        self.hosts = list(self.config.hosts)
        self.timeout = self.config.timeout_s

    # --- plumbing ---------------------------------------------------------------------------
    def _key(self) -> asyncssh.SSHKey:
        name = self.config.key_env or ""
        text = os.environ.get(name)
        if not text:
            raise BackendError(f"The SSH key for {self.env_name} is missing: set the environment variable {name}.")
        try:
            return asyncssh.import_private_key(text)
        except (asyncssh.KeyImportError, ValueError) as error:  # the message could quote the key: not shown
            raise BackendError(f"The environment variable {name} does not hold an unencrypted SSH private key.") \
                from error

    def _known_hosts(self) -> str:
        path = self.config.known_hosts or ""
        if not os.path.isfile(path):
            raise BackendError(f"The known_hosts file {path} of {self.env_name} does not exist; host keys are "
                               "always verified.")
        return path

    def _connect(self, host: str, key: asyncssh.SSHKey, known_hosts: str):
        address, port = ssh_address(host, self.config.port)
        # config=None, agent_path=None: only what opsbot.yml says, never ~/.ssh/config or an agent's keys
        return asyncssh.connect(address, port, username=self.config.user, client_keys=[key], known_hosts=known_hosts,
                                config=None, agent_path=None, preferred_auth="publickey",
                                connect_timeout=self.timeout, login_timeout=self.timeout)

    async def _one(self, host: str, command: str, key: asyncssh.SSHKey, known_hosts: str) -> HostResult:
        try:
            async with self._connect(host, key, known_hosts) as conn:
                done = await conn.run(command, check=False, timeout=self.timeout)
        except Exception as error:  # noqa: BLE001 — each host's failure is that host's result, never the others'
            return HostResult(host, error=self._reason(host, error, known_hosts))
        output = _text(done.stdout) + _text(done.stderr)
        return HostResult(host, done.exit_status if done.exit_status is not None else -1, output)

    def _reason(self, host: str, error: Exception, known_hosts: str) -> str:
        """One clear phrase per failure, without the key or a traceback."""
        if isinstance(error, asyncssh.HostKeyNotVerifiable):
            address, port = ssh_address(host, self.config.port)
            try:
                listed = any(asyncssh.read_known_hosts(known_hosts).match(address, "", port)[0:2])
            except (OSError, ValueError):
                listed = False
            return ("host key mismatch: the server's key is not the one known_hosts lists (possible impostor)"
                    if listed else f"host key unknown: no entry for {host} in {known_hosts}")
        if isinstance(error, asyncssh.PermissionDenied):
            return f"authentication failed for user {self.config.user} (key not accepted)"
        if isinstance(error, asyncssh.TimeoutError | TimeoutError):
            return f"timed out after {self.timeout:g} s"
        if isinstance(error, asyncssh.Error):
            return f"SSH error: {error.reason}"
        if isinstance(error, OSError):
            # asyncio's "Connect call failed (…)" hides the errno's own words ("Connection refused")
            words = os.strerror(error.errno) if error.errno and error.errno > 0 else error.strerror
            return f"unreachable ({words or type(error).__name__})"
        return f"failed ({type(error).__name__})"

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list[HostResult]:
        """`argv` on each host at once, in the hosts' order; each with its own outcome."""
        command = shlex.join(argv)  # the remote shell sees each item as one literal word
        key, known_hosts = self._key(), self._known_hosts()

        async def gather() -> list[HostResult]:
            return list(await asyncio.gather(*(self._one(h, command, key, known_hosts) for h in hosts or self.hosts)))

        return blocking(gather)

    def _spec(self, service: str) -> Service:
        spec = self.env.services.get(service)
        if spec is None:
            raise NotFound(f"Unknown service '{service}' in {self.env_name}. Services: "
                           f"{', '.join(self.env.services) or 'none'}.")
        return spec

    def _hosts_of(self, service: str) -> list[str]:
        return self._spec(service).hosts or self.hosts

    def _manager(self, service: str) -> tuple[str, str]:
        spec = self._spec(service)
        if spec.manager == "pm2":
            return "pm2", spec.process or service
        return "systemd", spec.unit or service

    def _systemctl(self, service: str, *args: str) -> list[str]:
        return (["sudo", "-n"] if self._spec(service).sudo else []) + ["systemctl", *args]

    def _journalctl(self, service: str, *args: str) -> list[str]:
        return (["sudo", "-n"] if self._spec(service).sudo else []) + ["journalctl", *args]

    # --- pm2 ---------------------------------------------------------------------------------
    def _pm2_list(self, hosts: list[str]) -> dict[str, list[dict] | str]:
        """Each host's `pm2 jlist` (the processes), or why it could not be read."""
        found: dict[str, list[dict] | str] = {}
        for result in self.on_hosts(["pm2", "jlist"], hosts):
            if result.error is not None:
                found[result.host] = result.error
                continue
            try:
                # pm2 may print a notice before the JSON (a daemon just spawned, an update): the list is the last line
                processes = json.loads(result.output.strip().splitlines()[-1] if result.output.strip() else "[]")
            except (json.JSONDecodeError, IndexError):
                processes = None
            if result.status != 0 or not isinstance(processes, list):
                found[result.host] = f"pm2 jlist failed (exit {result.status}): {_last_line(result.output)}"
            else:
                found[result.host] = processes
        return found

    @staticmethod
    def _named(processes: list[dict], name: str) -> list[dict]:
        return [p for p in processes if p.get("name") == name]

    # --- reads ---------------------------------------------------------------------------------
    def status(self) -> list[ServiceState]:
        states = []
        for service in self.env.services:
            counts = self._counts(service)
            running = sum(c[0] for c in counts.values() if isinstance(c, tuple))
            desired = sum(c[1] for c in counts.values() if isinstance(c, tuple))
            detail = "; ".join(f"{host}: {c[2]}" if isinstance(c, tuple) else f"{host}: {c}"
                               for host, c in counts.items())
            manager, name = self._manager(service)
            states.append(ServiceState(service, running, desired, f"{manager} {name}", detail))
        return states

    def _counts(self, service: str) -> dict[str, tuple[int, int, str] | str]:
        """Per host: (running, desired, what it is), or why the host could not tell."""
        manager, name = self._manager(service)
        hosts = self._hosts_of(service)
        counts: dict[str, tuple[int, int, str] | str] = {}
        if manager == "pm2":
            for host, processes in self._pm2_list(hosts).items():
                if isinstance(processes, str):
                    counts[host] = processes
                    continue
                mine = self._named(processes, name)
                online = [p for p in mine if p.get("pm2_env", {}).get("status") == "online"]
                states = ", ".join(sorted({p.get("pm2_env", {}).get("status", "?") for p in mine})) or "no process"
                counts[host] = (len(online), len(mine), f"{len(online)}/{len(mine)} {states}")
            return counts
        for result in self.on_hosts(self._systemctl(service, "is-active", name), hosts):
            if result.error is not None:
                counts[result.host] = result.error
            else:
                state = _last_line(result.output) or f"exit {result.status}"
                counts[result.host] = (1 if state == "active" else 0, 1, state)
        return counts

    def replicas(self, service: str) -> int:
        """Running instances per host (the most any reachable host runs): `scale` sets this on every host."""
        counts = self._counts(service)
        return max((c[0] for c in counts.values() if isinstance(c, tuple)), default=0)

    def workload_health(self, target: str) -> WorkloadHealth:
        counts = self._counts(target)
        problems = [f"{host}: {c}" for host, c in counts.items() if isinstance(c, str)]
        problems += [f"{host}: {c[2]}" for host, c in counts.items() if isinstance(c, tuple) and c[0] < c[1]]
        running = sum(c[0] for c in counts.values() if isinstance(c, tuple))
        desired = sum(c[1] for c in counts.values() if isinstance(c, tuple))
        return WorkloadHealth(running, desired, problems)

    def logs(self, service: str, since: timedelta | None, tail: int, grep: LineFilter | None,
             previous: bool = False, slot: str | None = None) -> str:  # slots: Kubernetes only (core checks)
        if previous:  # --previous is the log of a crashed Kubernetes container, which a pod replaces
            raise UsageError(f"{self.env_name}: pm2 and journald keep one log across restarts; "
                             "run /ops logs without --previous.")

        """Each host's last `tail` lines, prefixed with the host. pm2 keeps no time with each line (unless the app
        logs one), so --since applies to systemd units only."""
        manager, name = self._manager(service)
        hosts = self._hosts_of(service)
        lines: list[str] = []
        failed: list[str] = []
        if manager == "pm2":
            known = self._pm2_list(hosts)
            readable = [h for h, p in known.items() if not isinstance(p, str) and self._named(p, name)]
            for host, processes in known.items():
                if isinstance(processes, str):
                    failed.append(f"{host}: {processes}")
                elif host not in readable:
                    names = ", ".join(sorted({str(p.get("name")) for p in processes})) or "none"
                    failed.append(f"{host}: unknown process '{name}' (pm2 runs: {names})")
            results = self.on_hosts(["pm2", "logs", name, "--nostream", "--lines", str(tail), "--no-color"],
                                    readable) if readable else []
        else:
            argv = self._journalctl(service, "-u", name, "--no-pager", "-o", "short-iso", "-n", str(tail))
            if since is not None:
                argv += ["--since", (datetime.now(UTC) - since).strftime("%Y-%m-%d %H:%M:%S UTC")]
            results = self.on_hosts(argv, hosts)
        for result in results:
            if result.error is not None or result.status != 0:
                failed.append(f"{result.host}: {result.error or _last_line(result.output)}")
                continue
            for line in _log_lines(result.output, manager):
                if not grep or grep(line):
                    lines.append(f"{result.host} | {line}")
        if failed and not lines and len(failed) == len(hosts):
            raise BackendError(f"Cannot read the logs of {service} in {self.env_name}: {'; '.join(failed)}")
        text = "\n".join(lines) if lines else f"(no log lines for {service}{' matching ' + str(grep) if grep else ''})"
        return text + "".join(f"\n(not read) {problem}" for problem in failed)

    def log_streams(self, service: str, since: datetime) -> list[tuple[str, Iterator[bytes]]]:
        manager, name = self._manager(service)
        if manager == "pm2":
            argv = ["pm2", "logs", name, "--nostream", "--lines", str(STREAM_LINES), "--no-color"]
        else:
            argv = self._journalctl(service, "-u", name, "--no-pager", "-o", "short-iso", "-n", str(STREAM_LINES),
                                    "--since", since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
        key, known_hosts = self._key(), self._known_hosts()
        return [(host, self._stream(host, shlex.join(argv), key, known_hosts)) for host in self._hosts_of(service)]

    def _stream(self, host: str, command: str, key: asyncssh.SSHKey, known_hosts: str) -> Iterator[bytes]:
        """A command's output in blocks, read on demand (never held whole), on an event loop of its own."""
        loop = asyncio.new_event_loop()
        try:
            try:
                conn = loop.run_until_complete(self._connect(host, key, known_hosts))
            except Exception as error:  # any failure to connect: mapped to one clear reason
                raise BackendError(f"{host}: {self._reason(host, error, known_hosts)}") from error
            try:
                process = loop.run_until_complete(conn.create_process(command, encoding=None,
                                                                      stderr=asyncssh.STDOUT))
                while block := loop.run_until_complete(process.stdout.read(LOG_BLOCK)):
                    yield block
            finally:
                conn.close()
                loop.run_until_complete(conn.wait_closed())
        finally:
            loop.close()

    def history(self, since: datetime) -> list[str]:
        """What the managers know now: each host's state of each service (pm2: restarts and since when up)."""
        lines = []
        for service in self.env.services:
            manager, name = self._manager(service)
            if manager == "pm2":
                for host, processes in self._pm2_list(self._hosts_of(service)).items():
                    if isinstance(processes, str):
                        lines.append(f"{host}\t{service}\t{processes}")
                        continue
                    for p in self._named(processes, name):
                        env = p.get("pm2_env", {})
                        up = datetime.fromtimestamp(env.get("pm_uptime", 0) / 1000, UTC).isoformat()
                        lines.append(f"{host}\t{service}\tpm2 {name}#{p.get('pm_id')}\t{env.get('status')}\t"
                                     f"{env.get('restart_time', 0)} restarts\tup since {up}")
            else:
                for host, count in self._counts(service).items():
                    lines.append(f"{host}\t{service}\tsystemd {name}\t{count if isinstance(count, str) else count[2]}")
        return lines

    # --- changes ---------------------------------------------------------------------------------
    def _act(self, service: str, verb: str, argv: list[str], done: str) -> str:
        """Run on each of the service's hosts; any host failing fails the action, naming every host's outcome."""
        manager, name = self._manager(service)
        results = self.on_hosts(argv, self._hosts_of(service))
        outcomes, failed = [], False
        for result in results:
            if result.error is not None:
                outcomes.append(f"{result.host}: {result.error}")
            elif result.status != 0:
                outcomes.append(f"{result.host}: {_failure(manager, name, result.output, result.status)}")
            else:
                outcomes.append(f"{result.host}: {done}")
                continue
            failed = True
        text = "; ".join(outcomes)
        if failed:
            raise BackendError(f"{verb} {service} in {self.env_name} failed on a host: {text}")
        return text

    def restart(self, service: str) -> str:
        manager, name = self._manager(service)
        if manager == "pm2":
            verb = "reload" if self._spec(service).reload else "restart"
            return self._act(service, "restart", ["pm2", verb, name], f"{verb}ed {name}")
        return self._act(service, "restart", self._systemctl(service, "restart", name), f"restarted {name}")

    def stop(self, service: str) -> str:
        manager, name = self._manager(service)
        argv = ["pm2", "stop", name] if manager == "pm2" else self._systemctl(service, "stop", name)
        return self._act(service, "stop", argv, f"stopped {name}")

    def start(self, service: str) -> str:
        manager, name = self._manager(service)
        # `pm2 start NAME` restarts a stopped process of that name (pm2 keeps its definition)
        argv = ["pm2", "start", name] if manager == "pm2" else self._systemctl(service, "start", name)
        return self._act(service, "start", argv, f"started {name}")

    def _scalable(self, service: str, replicas: int) -> str:
        """The pm2 process name; refused for a systemd unit or 0 instances, before anything is planned."""
        manager, name = self._manager(service)
        if manager != "pm2":
            raise UsageError(f"{service} in {self.env_name} is a systemd unit: it has no replicas to scale.")
        if replicas == 0:
            raise UsageError("pm2 cannot scale to 0; use /ops stop to stop the process.")
        return name

    def scale_plan(self, service: str, replicas: int) -> str:
        self._scalable(service, replicas)
        return f"{self.replicas(service)} → {replicas} replicas on each host"

    def scale(self, service: str, replicas: int) -> str:
        name = self._scalable(service, replicas)
        return self._act(service, "scale", ["pm2", "scale", name, str(replicas)], f"{name} at {replicas} instance(s)")

    def _plan(self, service: str, verb: str) -> str:
        manager, name = self._manager(service)
        counts = self._counts(service)
        hosts = ", ".join(f"{h} ({c[2] if isinstance(c, tuple) else c})" for h, c in counts.items())
        return f"{manager} {verb} {name} on {hosts}"

    def stop_plan(self, service: str) -> str:
        return self._plan(service, "stop")

    def start_plan(self, service: str) -> str:
        return self._plan(service, "start")

    def rollback_plan(self, service: str) -> str:
        manager, _ = self._manager(service)
        raise UsageError(f"{service} in {self.env_name} runs under {manager} on hosts over SSH, which keeps no "
                         "previous version to go back to; deploy the previous release (e.g. with a runbook action).")

    def rollback(self, service: str) -> str:
        return self.rollback_plan(service)

    def switch_plan(self, service: str, slot: str | None) -> str:
        raise UsageError(f"{self.env_name}: blue/green slots are for Kubernetes environments.")

    def switch(self, service: str, slot: str | None) -> str:
        return self.switch_plan(service, slot)

    def maintenance_state(self) -> bool | None:
        raise UsageError(f"{self.env_name} runs on hosts over SSH, which have no maintenance flag opsbot can set; "
                         "use a runbook action for your maintenance page.")

    def set_maintenance(self, on: bool) -> str:
        self.maintenance_state()
        return ""


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _failure(manager: str, name: str, output: str, status: int | None) -> str:
    if manager == "pm2" and "not found" in output:
        return f"unknown process '{name}'"
    return f"exit {status}: {_last_line(output)}"


def _log_lines(output: str, manager: str) -> list[str]:
    """The log lines themselves: without pm2's headers ("[TAILING] …", "<file> last N lines:") and blanks."""
    lines = [line for line in output.splitlines() if line.strip()]
    if manager == "pm2":
        lines = [line for line in lines if not line.startswith("[TAILING]") and not line.rstrip().endswith("lines:")]
    return [line for line in lines if not line.startswith("-- No entries --")]
