"""The Platform contract (bot/core/ports.py): the same cases for every adapter — Docker, Kubernetes (kmock), SSH
(sshd + pm2) and the fake — each bound in its own test module with its own fixture:

    @pytest.mark.parametrize("case", CASES, ids=case_id)
    def test_platform_contract(platform, case):
        case(platform, "api")

Every platform has a service "api" with at least one replica whose log has a line with "pool exhausted". A case
leaves the service as it found it. What a platform cannot do, it refuses with the reason (UsageError or
ConflictError), never with anything else."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.grep import LineFilter
from bot.core.ports import Platform
from bot.errors import ConflictError, UsageError
from tests.poll import wait_until

Case = Callable[[Platform, str], None]
REFUSED = (UsageError, ConflictError)


def status_names_the_service_with_its_replicas(platform: Platform, service: str) -> None:
    [state] = [s for s in platform.status() if s.name == service]
    assert state.desired == platform.replicas(service) >= 1 and 0 <= state.running


def restart_keeps_the_replicas(platform: Platform, service: str) -> None:
    before = platform.replicas(service)
    assert platform.restart(service)
    assert platform.replicas(service) == before


def scale_is_planned_from_the_live_count_then_changes_it(platform: Platform, service: str) -> None:
    count = platform.replicas(service)
    assert f"{count} → {count + 1}" in platform.scale_plan(service, count + 1)
    assert platform.scale(service, count + 1)
    assert platform.replicas(service) == count + 1
    platform.scale(service, count)
    assert platform.replicas(service) == count


def stop_then_start_brings_the_service_back(platform: Platform, service: str) -> None:
    before = platform.replicas(service)
    assert platform.stop_plan(service) and platform.stop(service)
    assert platform.start_plan(service) and platform.start(service)
    assert platform.replicas(service) == before


def rollback_names_both_versions_or_is_refused_with_the_reason(platform: Platform, service: str) -> None:
    try:
        plan = platform.rollback_plan(service)
    except REFUSED as refused:
        assert str(refused)
        with pytest.raises(type(refused)):
            platform.rollback(service)
    else:
        assert "→" in plan


def logs_keep_only_the_lines_grep_keeps(platform: Platform, service: str) -> None:
    text = wait_until(lambda: platform.logs(service, None, 100, LineFilter("POOL EXHAUSTED")), what="the log lines")
    assert all("pool exhausted" in line.lower() for line in text.splitlines())


def a_crashed_containers_log_is_read_or_refused_with_the_reason(platform: Platform, service: str) -> None:
    try:
        assert isinstance(platform.logs(service, None, 10, None, previous=True), str)
    except UsageError as refused:
        assert "previous" in str(refused).lower()


def switching_a_service_without_slots_is_refused(platform: Platform, service: str) -> None:
    with pytest.raises(UsageError):
        platform.switch_plan(service, "green")


def maintenance_is_on_off_unknown_or_refused_with_the_reason(platform: Platform, service: str) -> None:
    try:
        assert platform.maintenance_state() in (True, False, None)
    except UsageError as refused:
        assert "maintenance" in str(refused)
        with pytest.raises(UsageError):
            platform.set_maintenance(True)


def reconciling_a_settled_service_changes_nothing(platform: Platform, service: str) -> None:
    """Nothing was left half done: reconcile says so (None) or where the platform is (Kubernetes: the rollout)."""
    before = [(s.name, s.desired, s.image) for s in platform.status()]
    said = platform.reconcile(service)
    assert said is None or (isinstance(said, str) and said)
    assert [(s.name, s.desired, s.image) for s in platform.status()] == before


CASES: list[Case] = [status_names_the_service_with_its_replicas, restart_keeps_the_replicas,
                     scale_is_planned_from_the_live_count_then_changes_it, stop_then_start_brings_the_service_back,
                     rollback_names_both_versions_or_is_refused_with_the_reason, logs_keep_only_the_lines_grep_keeps,
                     a_crashed_containers_log_is_read_or_refused_with_the_reason,
                     switching_a_service_without_slots_is_refused,
                     maintenance_is_on_off_unknown_or_refused_with_the_reason,
                     reconciling_a_settled_service_changes_nothing]


def case_id(case: Case) -> str:
    return case.__name__
