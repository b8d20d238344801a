"""Hosts over SSH: services run by pm2 or systemd on each of an environment's hosts.

Commands reach the hosts as argv through bot/platforms/ssh_hosts.py (quoted literally, host keys always checked,
the key never shown). An action runs on every host of the service at once; each host reports its own outcome
("web-1: restarted api; web-2: host key mismatch"). An action that fails on any host fails as a whole (audited as failed, with every
host's outcome), so a half-done restart is never reported as done.

pm2: status from `pm2 jlist`; restart (or `pm2 reload` with `reload: true`), stop, start; logs with `--nostream
--lines`; scale with `pm2 scale` (instances per host). systemd: `systemctl is-active|restart|stop|start`,
`journalctl -u … --since … --no-pager -o short-iso`; no scale. Neither has a previous version to roll back to
nor a maintenance flag: both are refused with the reason.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bot.config.environments import Environment, SecretSpec, Service
from bot.core.grep import LineFilter
from bot.core.ports import HostResult, PlatformMemory, ServiceState, WorkloadHealth
from bot.errors import BackendError, NotFound, UsageError
from bot.platforms import settings_of
from bot.platforms.settings import SshSettings
from bot.platforms.ssh_hosts import SshHosts

STREAM_LINES = 100_000  # evidence: at most this many lines per host and service, streamed


class SshPlatform:
    def __init__(self, env_name: str, env: Environment, memory: PlatformMemory | None = None):
        # `memory` is unused: pm2 and systemd keep their own state on the hosts
        self.env_name = env_name
        self.env = env
        self.shell = SshHosts(env_name, settings_of(env_name, env, SshSettings))
        self.hosts = self.shell.hosts

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list[HostResult]:
        """`argv` on each host at once (the host checks' `HostShell`), each host with its own outcome."""
        return self.shell.on_hosts(argv, hosts)

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
        return self.shell.streams(argv, self._hosts_of(service))

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

    def describe(self, service: str) -> str:
        """What the hosts' process manager says of the service, host by host."""
        states = [state for state in self.status() if state.name == service]
        return "\n".join(f"{s.name}: {s.running}/{s.desired} running" + (f" · {s.detail}" if s.detail else "")
                         for s in states) or f"{service} is not known to {self.env_name}."

    def exec_in(self, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
        raise UsageError(f"{self.env_name} runs services on hosts, not in containers: give the runbook action "
                         "`hosts:` instead of `exec:`.")

    def config_values(self, service: str, keys: list[str]) -> dict[str, str | None]:
        raise UsageError(f"{self.env_name} runs services on hosts: change their configuration with a runbook "
                         "action (e.g. one that edits the .env file and restarts), not /ops config.")

    def set_config(self, service: str, changes: dict[str, str | None], restart: bool) -> str:
        return str(self.config_values(service, list(changes)))

    def secret_place(self, secret: SecretSpec) -> str:
        raise UsageError(f"{self.env_name} runs services on hosts: rotate their secrets with a runbook action.")

    def set_secret(self, secret: SecretSpec, value: str) -> str:
        return self.secret_place(secret)

    def resources_plan(self, service: str, memory: str | None, cpu: str | None) -> str:
        raise UsageError(f"{self.env_name} runs services on hosts: their memory and CPU are the hosts'.")

    def set_resources(self, service: str, memory: str | None, cpu: str | None) -> str:
        return self.resources_plan(service, memory, cpu)

    def delete_pod_plan(self, pod: str) -> str:
        raise UsageError(f"{self.env_name} runs services on hosts, not pods: restart the service instead.")

    def delete_pod(self, pod: str) -> str:
        return self.delete_pod_plan(pod)

    def deploy_plan(self, service: str, image: str) -> str:
        raise UsageError(f"{service} in {self.env_name} runs on hosts over SSH: it is deployed by its "
                         "`deploy_runbook` (a runbook action taking {version}), not an image.")

    def deploy(self, service: str, image: str, timeout_s: float, report=None) -> str:
        return self.deploy_plan(service, image)

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

    def reconcile(self, service: str) -> str | None:
        """Each action is one command per host that pm2 or systemd carries out whole: nothing is left half done."""
        return None


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
