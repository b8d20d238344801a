"""Host checks over SSH, on every host of an ssh platform (or the check's `hosts`): the runbooks' `df -h`,
`free -m`, `top` (load) and `pm2 list`, read as argv through the platform (HostShell), never a shell string.

One result per check: the worst host decides the level; the value lists each host ("web-1 42% free, web-2
unreachable"). A host that cannot be read is crit.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TypeVar

from bot.checks.settings import DiskCheck, FreePctCheck, HostCheck, LoadCheck, MemoryCheck, Pm2Check
from bot.core.ports import LEVEL_ORDER, CheckResult, HostResult, HostShell, Level

C = TypeVar("C", bound=HostCheck)


async def _on_hosts(check: C, context: dict, argv: list[str], read: Callable[[C, str], tuple[Level, str]],
                    threshold: str, hosts: list[str] | None = None) -> CheckResult:
    """`read` gives (the host's level, what it shows) from one host's output."""
    platform = context["platform"]()
    if not hasattr(platform, "on_hosts"):
        raise RuntimeError(f"a {check.kind_name()} check needs an ssh platform")
    shell: HostShell = platform
    results: list[HostResult] = await asyncio.to_thread(shell.on_hosts, argv, check.hosts or hosts)
    levels: list[Level] = []
    shown: list[str] = []
    for result in results:
        if result.error is not None or result.status != 0:
            level: Level = "crit"
            text = result.error or f"{argv[0]} exited {result.status}: {result.output.strip()[-200:]}"
        else:
            try:
                level, text = read(check, result.output)
            except (ValueError, IndexError, KeyError, TypeError):
                level, text = "crit", f"unreadable {argv[0]} output"
        levels.append(level)
        shown.append(f"{result.host} {text}")
    worst: Level = max(levels, key=LEVEL_ORDER.__getitem__) if levels else "ok"
    return CheckResult(check.name, check.kind_name(), worst, ", ".join(shown), threshold)


def _below(value: float, warn: float, crit: float) -> Level:
    return "crit" if value < crit else "warn" if value < warn else "ok"


def _free_pct(check: FreePctCheck) -> tuple[float, float]:
    return (check.warn_pct if check.warn_pct is not None else 20.0,
            check.crit_pct if check.crit_pct is not None else 10.0)


async def disk(check: DiskCheck, context: dict) -> CheckResult:
    warn, crit = _free_pct(check)

    def read(check: DiskCheck, output: str) -> tuple[Level, str]:
        # POSIX format: Filesystem 1024-blocks Used Available Capacity Mounted-on
        fields = output.strip().splitlines()[-1].split()
        used, available = int(fields[2]), int(fields[3])
        free = 100.0 * available / max(used + available, 1)
        return _below(free, warn, crit), f"{free:.0f}% free ({available // 1024} MiB)"

    return await _on_hosts(check, context, ["df", "-P", "-k", check.path], read,
                           f"free on {check.path}: warn < {warn:g}% / crit < {crit:g}%")


async def memory(check: MemoryCheck, context: dict) -> CheckResult:
    warn, crit = _free_pct(check)

    def read(check: MemoryCheck, output: str) -> tuple[Level, str]:
        # `free -m`: "Mem: total used free shared buff/cache available"
        fields = next(line for line in output.splitlines() if line.startswith("Mem:")).split()
        total, available = int(fields[1]), int(fields[6])
        free = 100.0 * available / max(total, 1)
        return _below(free, warn, crit), f"{free:.0f}% available ({available} of {total} MiB)"

    return await _on_hosts(check, context, ["free", "-m"], read,
                           f"available: warn < {warn:g}% / crit < {crit:g}%")


async def load(check: LoadCheck, context: dict) -> CheckResult:
    warn = check.warn if check.warn is not None else 1.0
    crit = check.crit if check.crit is not None else 2.0

    def read(check: LoadCheck, output: str) -> tuple[Level, str]:
        # /proc/loadavg ("0.52 0.40 0.33 1/123 4567") and the online CPUs ("0-3,6")
        loadavg, online = output.strip().splitlines()[:2]
        cpus = _cpus(online)
        per_cpu = float(loadavg.split()[0]) / max(cpus, 1)
        level: Level = "crit" if per_cpu >= crit else "warn" if per_cpu >= warn else "ok"
        return level, f"load {loadavg.split()[0]} on {cpus} CPU(s) ({per_cpu:.2f} per CPU)"

    return await _on_hosts(check, context, ["cat", "/proc/loadavg", "/sys/devices/system/cpu/online"], read,
                           f"1-min load per CPU: warn {warn:g} / crit {crit:g}")


def _cpus(online: str) -> int:
    count = 0
    for part in online.strip().split(","):
        first, _, last = part.partition("-")
        count += int(last) - int(first) + 1 if last else 1
    return count


async def pm2(check: Pm2Check, context: dict) -> CheckResult:
    env = context["env"]
    name, hosts = None, None
    if check.service is not None:  # one service's process, on its hosts; else every pm2 process
        spec = env.services[check.service]
        name, hosts = spec.process or check.service, spec.hosts

    def read(check: Pm2Check, output: str) -> tuple[Level, str]:
        processes = json.loads(output.strip().splitlines()[-1])
        mine = [p for p in processes if name is None or p.get("name") == name]
        if not mine:
            return "crit", f"no pm2 process{' ' + name if name else ''}"
        level: Level = "ok"
        notes = []
        online = [p for p in mine if p["pm2_env"].get("status") == "online"]
        if not online:
            level = "crit"
        elif len(online) < len(mine):
            level = "warn"
        for p in mine:
            restarts, mb = p["pm2_env"].get("restart_time", 0), p.get("monit", {}).get("memory", 0) / 2**20
            if p["pm2_env"].get("status") != "online":
                notes.append(f"{p['name']}#{p.get('pm_id')} {p['pm2_env'].get('status')}")
            if check.max_restarts is not None and restarts > check.max_restarts:
                notes.append(f"{p['name']}#{p.get('pm_id')} restarted {restarts}×")
                level = "crit" if level == "crit" else "warn"
            if check.max_memory_mb is not None and mb > check.max_memory_mb:
                notes.append(f"{p['name']}#{p.get('pm_id')} uses {mb:.0f} MB")
                level = "crit" if level == "crit" else "warn"
        return level, f"{len(online)}/{len(mine)} online" + (f" ({'; '.join(notes)})" if notes else "")

    limits = [f"restarts ≤ {check.max_restarts}" if check.max_restarts is not None else "",
              f"memory ≤ {check.max_memory_mb:g} MB" if check.max_memory_mb is not None else ""]
    return await _on_hosts(check, context, ["pm2", "jlist"], read,
                           ", ".join(["all online", *[limit for limit in limits if limit]]), hosts)
