"""The ssh platform against a real OpenSSH server and a real pm2 (tests/integration/ssh_server.py); systemd units
through stand-ins answering like systemctl/journalctl. Two hosts of an environment are two names of that server."""
from __future__ import annotations

import os
import socket
from datetime import timedelta

import asyncssh
import pytest

from bot.app import build_services
from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.grep import LineFilter
from bot.core.ops import Actor, OpsService
from bot.errors import BackendError, UsageError
from bot.platforms import Platforms
from bot.platforms.script import ScriptRunner
from bot.platforms.ssh import SshPlatform
from bot.store.sqlite import SqliteStore
from commands.base import Context
from commands.router import Router
from tests.integration.ssh_server import start_ssh_server
from tests.platform_contract import CASES, case_id

OPS = Actor(user="U_OPS", channel=None, command="/ops test")


@pytest.fixture(scope="module")
def sshd():
    yield from start_ssh_server()


def environment(sshd, platform: dict | None = None, **extra) -> dict:
    return {"platform": platform or sshd.platform(),
            "services": {"api": {"manager": "pm2", "process": "api", "max_replicas": 3},
                         "nginx": {"manager": "systemd", "unit": "nginx"}}, **extra}


def make_platform(sshd, **changes) -> SshPlatform:
    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd, sshd.platform(**changes))}})
    return SshPlatform("prod", catalog.environments["prod"])


@pytest.fixture
def store(tmp_path):
    backend = SqliteStore(f"sqlite:///{tmp_path}/opsbot.db")
    backend.migrate()
    yield backend
    backend.close()


def ops_for(store, catalog: Catalog) -> OpsService:
    platforms = Platforms()
    return OpsService(store, catalog, platforms, CheckRunner(platforms), ScriptRunner())


def api_processes(sshd, host: int = 0) -> list[dict]:
    import json

    return [p for p in json.loads(sshd.pm2("jlist", host=host).strip().splitlines()[-1]) if p["name"] == "api"]


def test_status_lists_pm2_and_systemd_services_per_host_through_ops(sshd, store, clock):
    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd)}})
    router = Router(build_services(store, catalog, clock=clock))
    reply = router.handle("/ops", "status prod", Context(user="U_OPS"))
    text = reply.text + str(reply.blocks)
    assert reply.ok and "api" in text and "nginx" in text
    states = {s.name: s for s in SshPlatform("prod", catalog.environments["prod"]).status()}
    assert (states["api"].running, states["api"].desired) == (2, 2)  # one process seen from each of two hosts
    assert states["api"].detail == f"{sshd.hosts[0]}: 1/1 online; {sshd.hosts[1]}: 1/1 online"
    assert states["nginx"].detail == f"{sshd.hosts[0]}: active; {sshd.hosts[1]}: active"


def test_restart_runs_on_every_host_and_is_audited(sshd, store, clock):
    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd)}})
    before = [api_processes(sshd, host)[0]["pm2_env"]["restart_time"] for host in (0, 1)]
    router = Router(build_services(store, catalog, clock=clock))
    reply = router.handle("/ops", "restart api prod", Context(user="U_OPS"))
    assert reply.ok, reply.text
    assert f"{sshd.hosts[0]}: restarted api; {sshd.hosts[1]}: restarted api" in reply.text + str(reply.blocks)
    assert [api_processes(sshd, host)[0]["pm2_env"]["restart_time"] for host in (0, 1)] == [n + 1 for n in before]
    phases = [r.phase for r in store.audit_records() if r.action == "restart"]
    assert phases == ["requested", "started", "succeeded"]


def test_pm2_stop_start_and_scale_change_the_real_processes(sshd, store):
    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd, platform=sshd.platform(
        hosts=sshd.hosts[:1]))}})
    ops = ops_for(store, catalog)
    assert "stop api" in ops.request(OPS, "prod", "stop", "api", {}, dry_run=True).summary
    ops.request(OPS, "prod", "stop", "api", {})
    assert {p["pm2_env"]["status"] for p in api_processes(sshd)} == {"stopped"}
    assert ops.status(OPS, "prod")[0].running == 0
    ops.request(OPS, "prod", "start", "api", {})
    assert {p["pm2_env"]["status"] for p in api_processes(sshd)} == {"online"}
    planned = ops.request(OPS, "prod", "scale", "api", {"replicas": 2}, dry_run=True)
    assert "1 → 2 replicas" in planned.summary
    done = ops.request(OPS, "prod", "scale", "api", {"replicas": 2})
    assert done.output == f"{sshd.hosts[0]}: api at 2 instance(s)"
    assert len(api_processes(sshd)) == 2
    ops.request(OPS, "prod", "scale", "api", {"replicas": 1})
    assert len(api_processes(sshd)) == 1


def test_logs_read_pm2_and_the_journal_on_each_host(sshd):
    platform = make_platform(sshd)
    text = platform.logs("api", timedelta(minutes=15), 20, LineFilter("pool"))
    assert f"{sshd.hosts[0]} | " in text and f"{sshd.hosts[1]} | " in text and "error: pool exhausted" in text
    assert "started" not in text and "[TAILING]" not in text  # grep applied, pm2's headers dropped
    platform.restart("nginx")
    journal = platform.logs("nginx", timedelta(minutes=5), 50, None)
    assert "Restarted nginx.service." in journal and f"{sshd.hosts[1]} | " in journal


def test_systemd_actions_and_an_unknown_unit(sshd):
    platform = make_platform(sshd, hosts=sshd.hosts[:1])
    assert platform.stop("nginx") == f"{sshd.hosts[0]}: stopped nginx"
    assert platform.status()[1].running == 0
    assert platform.start("nginx") == f"{sshd.hosts[0]}: started nginx"
    assert platform.replicas("nginx") == 1
    with pytest.raises(UsageError, match="systemd unit: it has no replicas"):
        platform.scale("nginx", 2)
    with pytest.raises(UsageError, match="systemd unit: it has no replicas"):  # at the plan, not after confirming
        platform.scale_plan("nginx", 2)
    catalog = Catalog.model_validate({"environments": {"prod": {
        "platform": sshd.platform(), "services": {"db": {"manager": "systemd", "unit": "postgresql"}}}}})
    with pytest.raises(BackendError, match="Unit postgresql.service not found"):
        SshPlatform("prod", catalog.environments["prod"]).restart("db")


def test_parameters_reach_the_remote_command_literally(sshd, tmp_path):
    """The original complaint: `path=/etc/host*` listed five files. Here a glob, `$(…)` and `; …` are words."""
    canary = sshd.workdir / "units-0" / "expanded"
    sshd.as_user("env", "APP_NAME=dollar", "pm2", "start", str(sshd.home / "opsbot-test-app.js"), "--name", "$(id)")
    try:
        catalog = Catalog.model_validate({"environments": {"prod": {"platform": sshd.platform(hosts=sshd.hosts[:1]),
            "services": {"glob": {"manager": "pm2", "process": "/etc/host*"},
                         "subst": {"manager": "pm2", "process": "$(id)"},
                         "touch": {"manager": "pm2", "process": f"$(touch {canary})"},
                         "semi": {"manager": "pm2", "process": f"; touch {canary} #"},
                         "unit": {"manager": "systemd", "unit": f"x; touch {canary}"}}}}})
        platform = SshPlatform("prod", catalog.environments["prod"])
        with pytest.raises(BackendError, match=r"unknown process '/etc/host\*' \(pm2 runs: \$\(id\), api\)"):
            platform.logs("glob", None, 10, None)
        assert "started dollar" in platform.logs("subst", None, 10, None)  # the process named `$(id)`, not uid=…
        assert "uid=" not in platform.logs("subst", None, 10, None)
        with pytest.raises(BackendError, match=r"unknown process '\$\(touch "):
            platform.restart("touch")
        with pytest.raises(BackendError, match="unknown process '; touch "):
            platform.stop("semi")
        with pytest.raises(BackendError, match="not found"):
            platform.restart("unit")
        assert not canary.exists()
    finally:
        sshd.pm2("delete", "$(id)")


def test_a_bad_host_fails_the_action_per_host_and_the_others_still_report(sshd, store):
    """localhost's known_hosts entry is another key (an impostor); a third host refuses connections."""
    wrong = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()[:2]
    known = sshd.workdir / "known_hosts_wrong"
    known.write_text(sshd.known(0) + sshd.known(1, " ".join(wrong)))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    platform = sshd.platform(known_hosts=str(known), hosts=[*sshd.hosts, dead])
    ops = ops_for(store, Catalog.model_validate({"environments": {"prod": environment(sshd, platform)}}))
    with pytest.raises(BackendError) as raised:
        ops.request(OPS, "prod", "restart", "nginx", {})
    message = str(raised.value)
    assert f"{sshd.hosts[0]}: restarted nginx" in message
    assert f"{sshd.hosts[1]}: host key mismatch" in message
    assert f"{dead}: unreachable (Connection refused)" in message
    failed = [r for r in store.audit_records() if r.phase == "failed"]
    assert len(failed) == 1 and "host key mismatch" in (failed[0].excerpt or "")
    status = {s.name: s for s in ops.status(OPS, "prod")}["api"]
    assert status.running == 1 and "host key mismatch" in status.detail
    reply = Router(build_services(store, ops.catalog)).handle("/ops", "stop api prod", Context(user="U_OPS"))
    shown = reply.text + str(reply.blocks)
    assert not reply.ok and f"{sshd.hosts[0]}: stopped api" in shown and "Traceback" not in shown
    sshd.pm2("start", "api")


def test_unknown_host_key_auth_failure_and_timeout_are_clear(sshd, monkeypatch):
    known = sshd.workdir / "known_hosts_partial"
    known.write_text(sshd.known(0))
    [unknown] = make_platform(sshd, known_hosts=str(known), hosts=sshd.hosts[1:]).on_hosts(["true"])
    assert unknown.error == f"host key unknown: no entry for {sshd.hosts[1]} in {known}"

    other_key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    monkeypatch.setenv("OTHER_KEY", other_key)
    [denied] = make_platform(sshd, key_env="OTHER_KEY", hosts=sshd.hosts[:1]).on_hosts(["true"])
    assert denied.error == f"authentication failed for user {sshd.user} (key not accepted)"

    silent = socket.socket()  # accepts TCP, never speaks SSH
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        [slow] = make_platform(sshd, hosts=[f"127.0.0.1:{silent.getsockname()[1]}"], timeout_s=0.5).on_hosts(["true"])
        assert slow.error == "timed out after 0.5 s"
    finally:
        silent.close()


def test_a_missing_or_bad_key_is_named_never_shown(sshd, monkeypatch):
    monkeypatch.setenv("BAD_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS10ZXh0\n")
    with pytest.raises(BackendError) as raised:
        make_platform(sshd, key_env="BAD_KEY").status()
    assert "BAD_KEY does not hold" in str(raised.value) and "c2VjcmV0" not in str(raised.value)
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(BackendError, match="set the environment variable NO_SUCH_KEY"):
        make_platform(sshd, key_env="NO_SUCH_KEY").status()
    with pytest.raises(BackendError, match="known_hosts file /nonexistent of prod does not exist"):
        make_platform(sshd, known_hosts="/nonexistent").status()


def test_rollback_and_maintenance_are_refused_with_the_reason(sshd, store):
    ops = ops_for(store, Catalog.model_validate({"environments": {"prod": environment(sshd)}}))
    with pytest.raises(UsageError, match="keeps no previous version"):
        ops.request(OPS, "prod", "rollback", "api", {})
    with pytest.raises(UsageError, match="no maintenance flag"):
        ops.request(OPS, "prod", "maintenance", None, {"on": True})
    assert [r.phase for r in store.audit_records()] == ["failed", "failed"]


def test_host_checks_read_disk_load_memory_and_pm2_on_each_host(sshd, store):
    env = environment(sshd, checks=[
        {"name": "root-disk", "kind": "disk", "path": "/"},
        {"name": "load", "kind": "load", "warn": 1000, "crit": 2000},
        {"name": "memory", "kind": "memory", "warn_pct": 0.01, "crit_pct": 0.001},
        {"name": "api-pm2", "kind": "pm2", "service": "api", "max_memory_mb": 0.001},
        {"name": "one-host", "kind": "disk", "hosts": [sshd.hosts[1]], "warn_pct": 101, "crit_pct": 100.5}])
    report = ops_for(store, Catalog.model_validate({"environments": {"prod": env}})).health(OPS, "prod")
    results = {r.name: r for r in report.results}
    assert "% free" in results["root-disk"].value and sshd.hosts[1] in results["root-disk"].value
    assert results["load"].level == "ok" and "per CPU" in results["load"].value
    assert results["memory"].level == "ok" and "% available" in results["memory"].value
    pm2 = results["api-pm2"]
    assert pm2.level == "warn" and "1/1 online" in pm2.value and "uses" in pm2.value, pm2
    assert results["one-host"].level == "crit" and results["one-host"].value.startswith(sshd.hosts[1])
    assert sshd.hosts[0] not in results["one-host"].value


def test_a_host_that_cannot_be_read_makes_its_check_crit(sshd, store):
    env = environment(sshd, platform=sshd.platform(known_hosts=str(sshd.workdir / "known_hosts_partial")),
                      checks=[{"name": "disk", "kind": "disk"}])
    (sshd.workdir / "known_hosts_partial").write_text(sshd.known(0))
    [result] = ops_for(store, Catalog.model_validate({"environments": {"prod": env}})).health(OPS, "prod").results
    assert result.level == "crit" and "host key unknown" in result.value and "% free" in result.value


def test_evidence_log_streams_come_from_each_host(sshd):
    from datetime import UTC, datetime

    streams = make_platform(sshd).log_streams("api", datetime.now(UTC) - timedelta(hours=1))
    assert [host for host, _ in streams] == sshd.hosts
    assert all(b"pool exhausted" in b"".join(chunks) for _, chunks in streams)
    assert os.environ.get("OPSBOT_TEST_SSH_KEY")  # still set for the module's other tests


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_platform_contract(sshd, case):
    case(make_platform(sshd, hosts=sshd.hosts[:1]), "api")


def test_a_runbook_action_with_hosts_runs_on_each_host_over_ssh(sshd, store, tmp_path):
    """`hosts: [all]`: the argv runs on each host (not on opsbot's machine), one section per host, its parameter a
    literal word (a glob stays a glob); `fail_on` fails the run on a host whose output matches, naming it; the plan says where."""
    from bot.core.requests import Action

    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd, runbook={
        "whoami": {"argv": ["sh", "-c", 'echo "on $(hostname -s) as $(id -un): $1"', "x", "{note}"],
                   "params": {"note": {}}, "hosts": ["all"], "read_only": True},
        "firewall": {"argv": ["echo", "ERROR: ufw is not installed"], "hosts": sshd.hosts[:1],
                     "fail_on": ["^ERROR:"]}})}})
    ops = ops_for(store, catalog)
    actor = Actor("U_OPS", "C1", "/ops run whoami prod")
    planned = ops.describe("prod", Action.RUN, "whoami", {"note": "/etc/host*"})
    assert planned.startswith("run whoami in prod on every host: `sh -c")
    done = ops.request(actor, "prod", "run", "whoami", {"note": "/etc/host*"})
    assert done.kind == "done" and done.output.count("== ") == len(sshd.hosts)
    assert done.output.count(": /etc/host*") == len(sshd.hosts)  # one literal word, never a glob
    with pytest.raises(BackendError, match=r"firewall failed on 1 of 1 hosts \(.*printed 'ERROR: ufw is not installed'"):
        ops.request(actor, "prod", "run", "firewall", {}, confirmed=True)


def test_the_ssh_deploy_runbook_runs_on_the_hosts_with_the_version(sshd, store):
    """SSH hosts deploy through the service's `deploy_runbook`: with `hosts: [all]`, the release command runs on
    every host over SSH with {version} as one literal word, and a version the pattern refuses never runs."""
    from bot.core.requests import Action, ActionRequest
    from bot.errors import UsageError

    catalog = Catalog.model_validate({"environments": {"prod": environment(sshd, runbook={
        "release": {"argv": ["sh", "-c", 'echo "released $1 on $(hostname -s)"', "x", "{version}"],
                    "params": {"version": {}}, "hosts": ["all"]}})}})
    env = catalog.environments["prod"]
    env.services["api"] = env.services["api"].model_copy(update={"deploy_runbook": "release",
                                                                 "versions": r"v[0-9]+\.[0-9]+"})
    ops = ops_for(store, catalog)
    actor = Actor("U_OPS", "C1", "/ops deploy api prod v2.3")
    done = ops.submit(actor, ActionRequest(Action.DEPLOY, "prod", "api", {"version": "v2.3"}, confirmed=True))
    assert done.kind == "done" and done.output.count("released v2.3 on ") == len(sshd.hosts)
    with pytest.raises(UsageError, match="is not a version api in prod allows"):
        ops.submit(actor, ActionRequest(Action.DEPLOY, "prod", "api", {"version": "latest"}, confirmed=True))
