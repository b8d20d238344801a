"""Permissions, plans, confirmation/approval and the audit log, with real runbook scripts."""
from __future__ import annotations

import sys
import time

import pytest

from bot.checks.runner import CheckRunner
from bot.config import Catalog
from bot.core.audit import outcome, verify
from bot.core.ops import Actor, OpsService
from bot.errors import BackendError, ConflictError, PermissionDenied
from bot.platforms import Platforms
from bot.platforms.script import ScriptRunner

PY = sys.executable


def catalog(tmp_path, approvals=0) -> Catalog:
    marker = str(tmp_path / "ran.txt")
    write = [PY, "-c", "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10)); print('DB_PASSWORD=hunter2 done')",
             marker, "{target}"]
    runbook = {
        "backup": {"argv": write, "params": {"target": {"type": "choice", "choices": ["db", "files"], "default": "db"}}},
        "slow": {"argv": [PY, "-c", "import time; time.sleep(5)"], "timeout_s": 0.5},
        "broken": {"argv": [PY, "-c", "import sys; print('boom'); sys.exit(3)"]},
        "activity": {"argv": [PY, "-c", "print('3 active connections')"], "read_only": True},
        "vacuum": {"argv": [PY, "-c", "print('vacuumed')"], "read_only": True, "min_role": "operator"},
    }
    return Catalog.model_validate({
        "environments": {
            "prod": {"protected": True, "approvals": approvals, "runbook": runbook},
            "staging": {"runbook": runbook},
        },
        "roles": {"prod": {"operator": ["U_OPS", "U_OPS2"], "viewer": ["U_VIEW"]}, "*": {"admin": ["U_ADMIN"]}},
    })


@pytest.fixture
def make_ops(store, clock, tmp_path):
    def make(approvals=0):
        return OpsService(store, catalog(tmp_path, approvals), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                          clock=clock)
    return make


def actor(user, command="/ops run backup prod"):
    return Actor(user=user, channel="C1", command=command)


def ran(tmp_path) -> list[str]:
    path = tmp_path / "ran.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_unknown_user_is_denied_in_a_protected_environment_and_it_is_audited(make_ops, store, tmp_path):
    ops = make_ops()
    with pytest.raises(PermissionDenied, match="operator role in prod.*you have no role"):
        ops.request(actor("U_STRANGER"), "prod", "run", "backup", {})
    with pytest.raises(PermissionDenied, match="you have the viewer role"):
        ops.request(actor("U_VIEW"), "prod", "run", "backup", {})
    assert [r.phase for r in store.audit_records()] == ["denied", "denied"]
    assert ran(tmp_path) == []


def test_a_read_only_action_runs_at_once_for_a_viewer_even_under_approvals_and_is_audited(make_ops, store):
    ops = make_ops(approvals=2)
    result = ops.request(actor("U_VIEW", "/ops run activity prod"), "prod", "run", "activity", {})
    assert result.kind == "done" and "3 active connections" in result.output
    records = store.audit_records()
    assert [r.phase for r in records] == ["requested", "started", "succeeded"]
    assert {r.user for r in records} == {"U_VIEW"}
    with pytest.raises(PermissionDenied, match="viewer role in prod.*you have no role"):
        ops.request(actor("U_STRANGER"), "prod", "run", "activity", {})
    with pytest.raises(PermissionDenied, match="operator role in prod"):  # its own min_role still applies
        ops.request(actor("U_VIEW"), "prod", "run", "vacuum", {})


def test_unprotected_environment_runs_at_once_for_anyone(make_ops, store, tmp_path):
    result = make_ops().request(actor("U_ANYONE", "/ops run backup staging"), "staging", "run", "backup",
                                {"target": "files"})
    assert result.kind == "done" and ran(tmp_path) == ["files"]
    assert [r.phase for r in store.audit_records()] == ["requested", "started", "succeeded"]


def test_protected_action_waits_for_confirmation_then_runs_once(make_ops, store, tmp_path):
    ops = make_ops()
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {"target": "db"})
    assert planned.kind == "planned" and ran(tmp_path) == []
    assert planned.summary.startswith("run backup in prod:")
    done = ops.confirm(actor("U_OPS"), planned.plan.id)
    assert done.kind == "done" and ran(tmp_path) == ["db"]
    with pytest.raises(ConflictError, match="executed"):
        ops.confirm(actor("U_OPS"), planned.plan.id)
    phases = [r.phase for r in store.audit_records()]
    assert phases == ["requested", "confirmed", "started", "succeeded"]


def test_output_in_the_audit_log_is_redacted_and_hashed(make_ops, store):
    ops = make_ops()
    ops.request(actor("U_OPS"), "prod", "run", "backup", {}, confirmed=True)
    final = store.audit_records()[-1]
    assert "hunter2" not in final.excerpt and "DB_PASSWORD=***" in final.excerpt
    assert len(final.output_sha256) == 64 and final.duration_ms is not None


def test_one_approval_needs_a_second_different_authorised_person(make_ops, store, tmp_path):
    ops = make_ops(approvals=1)
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {}, confirmed=True)
    assert planned.kind == "awaiting_approval" and ran(tmp_path) == []
    with pytest.raises(ConflictError, match="already confirmed"):
        ops.confirm(actor("U_OPS"), planned.plan.id)
    with pytest.raises(PermissionDenied):
        ops.confirm(actor("U_VIEW"), planned.plan.id)
    done = ops.confirm(actor("U_OPS2"), planned.plan.id)
    assert done.kind == "done" and ran(tmp_path) == ["db"]
    phases = [r.phase for r in store.audit_records()]
    assert phases == ["requested", "confirmed", "denied", "approved", "started", "succeeded"]


def test_an_expired_plan_cannot_be_confirmed(make_ops, store, clock, tmp_path):
    ops = make_ops()
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {})
    clock.advance(minutes=6)
    with pytest.raises(ConflictError, match="expired"):
        ops.confirm(actor("U_OPS"), planned.plan.id)
    assert ran(tmp_path) == [] and store.get_plan(planned.plan.id).status == "expired"
    assert store.audit_records()[-1].phase == "expired"


def test_pending_plans_survive_a_restart(make_ops, store_url, tmp_path, clock):
    from bot.store import open_store

    planned = make_ops().request(actor("U_OPS"), "prod", "run", "backup", {})
    reopened = open_store(store_url)
    try:
        ops = OpsService(reopened, catalog(tmp_path), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                         clock=clock)
        assert ops.confirm(actor("U_OPS"), planned.plan.id).kind == "done"
    finally:
        reopened.close()
    assert ran(tmp_path) == ["db"]


def test_dry_run_shows_the_plan_and_touches_nothing(make_ops, store, tmp_path):
    result = make_ops().request(actor("U_OPS"), "prod", "run", "backup", {}, dry_run=True)
    assert result.kind == "dry_run" and ran(tmp_path) == []
    assert [r.phase for r in store.audit_records()] == ["requested", "dry_run"]


def test_failures_and_timeouts_are_audited_as_failed(make_ops, store):
    ops = make_ops()
    with pytest.raises(BackendError, match="exited with status 3"):
        ops.request(actor("U_ANY", "/ops run broken staging"), "staging", "run", "broken", {})
    with pytest.raises(BackendError, match="timed out after 0.5 s"):
        ops.request(actor("U_ANY", "/ops run slow staging"), "staging", "run", "slow", {})
    records = store.audit_records()
    assert [r.phase for r in records if r.phase in ("succeeded", "failed")] == ["failed", "failed"]


def test_a_crash_after_start_reads_outcome_unknown(make_ops, store):
    from bot.core.audit import AuditRecord

    store.append_audit(AuditRecord(at=make_ops().clock(), attempt="a-crash", phase="started", user="U_OPS",
                                   action="restart", target="api", env="prod"))
    assert outcome(store.audit_records()) == "outcome unknown"


def test_verify_names_the_first_edited_deleted_or_reordered_record(make_ops, store):
    ops = make_ops()
    for _ in range(3):
        ops.request(actor("U_ANY", "/ops run backup staging"), "staging", "run", "backup", {})
    records = store.audit_records()
    assert verify(records) is None
    edited = [r.model_copy(update={"user": "U_MALLORY"}) if r.seq == 4 else r for r in records]
    assert verify(edited) == "record 4 was edited after it was written"
    deleted = [r for r in records if r.seq != 5]
    assert "record 5 is missing" in verify(deleted)
    swapped = records[:2] + [records[3], records[2]] + records[4:]
    assert "missing" in verify(swapped) or "does not follow" in verify(swapped)


def test_admin_role_granted_globally_applies_everywhere(make_ops):
    ops = make_ops()
    assert ops.role_of("U_ADMIN", "prod").name == "ADMIN"
    assert ops.role_of("U_VIEW", "prod").name == "VIEWER"
    assert ops.role_of("U_NOBODY", "prod").name == "NONE"
    assert ops.role_of("U_NOBODY", "staging").name == "OPERATOR"


def test_each_dangerous_action_checkpoints_the_audit_head_to_the_witnesses(store, clock, tmp_path):
    from bot.store.witness import FileWitness

    seen: list = []
    witness = FileWitness(tmp_path / "witness")
    ops = OpsService(store, catalog(tmp_path), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock, witnesses=[seen.append, witness])
    ops.request(actor("U_OPS", "/ops run backup staging"), "staging", "run", "backup", {})
    with pytest.raises(BackendError):
        ops.request(actor("U_OPS", "/ops run broken staging"), "staging", "run", "broken", {})
    assert [c.head for c in seen] == witness.heads() and len(seen) == 2  # after the success and after the failure
    assert seen[-1].head == store.audit_head()


def test_a_failing_witness_never_fails_the_action(store, clock, tmp_path):
    def broken(head):
        raise OSError("disk full")

    ops = OpsService(store, catalog(tmp_path), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock, witnesses=[broken])
    assert ops.request(actor("U_OPS", "/ops run backup staging"), "staging", "run", "backup", {}).kind == "done"


def test_only_the_requester_confirms_a_plan(make_ops, store, tmp_path):
    ops = make_ops()
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {})
    with pytest.raises(PermissionDenied, match="only who asked for it"):
        ops.confirm(actor("U_OPS2"), planned.plan.id)  # an operator too, but not shown this plan
    assert ran(tmp_path) == []
    assert ops.confirm(actor("U_OPS"), planned.plan.id).kind == "done"


def test_approvals_before_the_requester_confirms_do_not_run_the_plan(make_ops, store, tmp_path):
    ops = make_ops(approvals=1)
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {})
    assert ops.confirm(actor("U_OPS2"), planned.plan.id).kind == "awaiting_confirmation" and ran(tmp_path) == []
    with pytest.raises(ConflictError, match="already approved"):
        ops.confirm(actor("U_OPS2"), planned.plan.id)
    assert ops.confirm(actor("U_OPS"), planned.plan.id).kind == "done" and ran(tmp_path) == ["db"]


@pytest.mark.parametrize("params,message", [
    ({"name": "--delete-all"}, "must not start with '-'"),
    ({"file": "../../etc/passwd"}, "relative path without '..'"),
    ({"file": "/etc/passwd"}, "relative path without '..'"),
])
def test_runbook_parameters_cannot_smuggle_options_or_escape_their_directory(store, clock, tmp_path, params, message):
    from bot.errors import UsageError

    cat = Catalog.model_validate({"environments": {"dev": {"runbook": {"copy": {
        "argv": [PY, "-c", "print(1)", "{name}", "{file}"],
        "params": {"name": {"default": "x"}, "file": {"type": "path", "default": "a.txt"}}}}}}})
    ops = OpsService(store, cat, (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(), clock=clock)
    with pytest.raises(UsageError, match=message):
        ops.request(actor("U_OPS", "/ops run copy dev"), "dev", "run", "copy", params)
    [refused] = store.audit_records()  # nothing ran: the refusal alone is on record
    assert refused.phase == "refused" and message.split("'")[0] in (refused.excerpt or "")


def test_two_dangerous_actions_on_one_target_never_run_at_once(store, clock, tmp_path):
    """Serialised by a lease in the store (so across replicas): the second is refused, naming who holds it."""
    import threading

    gate = tmp_path / "gate"
    cat = Catalog.model_validate({"environments": {"dev": {"runbook": {"deploy": {
        "argv": [PY, "-c", f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)"],
        "timeout_s": 30}}}}})
    ops = OpsService(store, cat, (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(), clock=clock)
    results: list = []
    first = threading.Thread(target=lambda: results.append(
        ops.request(actor("U_OPS", "/ops run deploy dev"), "dev", "run", "deploy", {})))
    first.start()
    deadline = time.monotonic() + 10
    while not any(r.phase == "started" for r in store.audit_records()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(ConflictError, match="being changed right now by @U_OPS"):
        ops.request(actor("U_OPS2", "/ops run deploy dev"), "dev", "run", "deploy", {})
    gate.write_text("go")
    first.join(10)
    assert results[0].kind == "done"
    assert ops.request(actor("U_OPS2", "/ops run deploy dev"), "dev", "run", "deploy", {}).kind == "done"


def test_a_lease_left_by_a_crashed_holder_lapses(store, clock):
    from datetime import timedelta

    assert store.acquire_lease("dev/api", "@U_A", "a-1", clock() + timedelta(minutes=15), clock()) is None
    assert store.acquire_lease("dev/api", "@U_B", "a-2", clock() + timedelta(minutes=15), clock()) == "@U_A"
    clock.advance(minutes=16)
    assert store.acquire_lease("dev/api", "@U_B", "a-2", clock() + timedelta(minutes=15), clock()) is None


def test_maintenance_mode_holds_the_leases_of_the_services_it_restarts(store, clock):
    from datetime import timedelta

    cat = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "docker", "project": "shop", "host": "unix:///nonexistent/docker.sock"},
        "services": {"api": {"docker_service": "api"}}, "maintenance": {"restart": ["api"]}}}})
    ops = OpsService(store, cat, (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(), clock=clock)
    assert store.acquire_lease("dev/api", "@U_A (restart)", "a-1", clock() + timedelta(minutes=5), clock()) is None
    with pytest.raises(ConflictError, match="api in dev is being changed right now by @U_A"):
        ops._execute(actor("U_OPS", "/ops maintenance on dev"), "a-2", "dev", "maintenance", None, {"on": True},
                     "maintenance mode in dev: off → on, then restart api")
    assert store.acquire_lease("dev/maintenance", "@U_B", "a-3", clock() + timedelta(minutes=5), clock()) is None


class ReadBeforeTheOtherWrote:
    """The store as a confirmation sees it when another runs at the same moment: it read the plan before the other
    confirmation's write landed."""

    def __init__(self, store, stale_plan):
        self.store, self.stale_plan = store, stale_plan

    def __getattr__(self, name):
        return getattr(self.store, name)

    def get_plan(self, plan_id):
        return self.stale_plan


def test_a_confirmation_and_an_approval_at_once_lose_neither(store, clock, tmp_path):
    ops = OpsService(store, catalog(tmp_path, 1), (platforms := Platforms()), CheckRunner(platforms), ScriptRunner(),
                     clock=clock)
    planned = ops.request(actor("U_OPS"), "prod", "run", "backup", {})
    as_read = store.get_plan(planned.plan.id)
    assert ops.confirm(actor("U_OPS"), planned.plan.id).kind == "awaiting_approval"
    racing = OpsService(ReadBeforeTheOtherWrote(store, as_read), catalog(tmp_path, 1), platforms, CheckRunner(platforms),
                        ScriptRunner(), clock=clock)
    # Written over the requester's confirmation, the approval would leave the plan waiting for a confirmation again.
    with pytest.raises(ConflictError, match="changed while confirming; try again"):
        racing.confirm(actor("U_OPS2"), planned.plan.id)
    assert store.get_plan(planned.plan.id).confirmed and ran(tmp_path) == []
    assert ops.confirm(actor("U_OPS2"), planned.plan.id).kind == "done" and ran(tmp_path) == ["db"]
