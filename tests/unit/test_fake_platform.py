"""The fake platform passes the Platform contract that Docker, Kubernetes and SSH pass, and refuses like them."""
from __future__ import annotations

import pytest

from bot.errors import ConflictError, NotFound, UsageError
from tests.fakes.platform import FakePlatform, FakeService
from tests.platform_contract import CASES, case_id


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_platform_contract(platform, case):
    case(platform, "api")


def test_what_the_real_adapters_refuse_it_refuses(platform):
    with pytest.raises(NotFound):
        platform.restart("payments")
    platform.services["worker"] = FakeService(1, "shop/worker:1")
    with pytest.raises(ConflictError, match="No previous image"):
        platform.rollback_plan("worker")
    with pytest.raises(ConflictError, match="not stopped by opsbot"):
        platform.start_plan("api")
    with pytest.raises(UsageError, match="no maintenance flag"):
        FakePlatform(maintenance=None).set_maintenance(True)
    assert platform.rollback("api") == "api: image shop/api:2 → shop/api:1"
    assert platform.rollback_plan("api") == "image shop/api:1 → shop/api:2"  # and the way back
