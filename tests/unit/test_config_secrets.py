"""/ops config, /ops secret rotate and /ops resources through the core (the console's router, the fake platform):
only the keys the catalog allows, never a secret from chat, the plan old → new, limits within the maxima, and a
rotated secret that no reply, audit record, timeline event, log line or database row ever holds."""
from __future__ import annotations

import json
import logging

import pytest

from bot.app import build_services
from bot.config import Catalog
from commands.base import Context
from commands.router import Router
from tests.fakes.platform import FakePlatform

OPS = Context(user="U_OPS", channel="C_INC", source="console")


def setup(store, clock):
    platform = FakePlatform("dev")
    catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"},
        "services": {"api": {"config": {"configmap": "api-config", "keys": ["LOG_LEVEL", "FEATURE_X"]},
                             "max_memory": "4Gi", "max_cpu": "2"}},
        "secrets": {"jwt": {"kubernetes_secret": "app", "key": "JWT_SECRET", "length": 48, "restart": ["api"]}}}}})
    return Router(build_services(store, catalog, clock=clock, platform_for=lambda name, env: platform)), platform


def test_config_shows_plans_and_changes_only_the_allowed_keys(store, clock):
    router, platform = setup(store, clock)
    shown = router.handle("/ops", "config api dev show", OPS)
    assert shown.ok and "LOG_LEVEL" in shown.text + str(shown.parts) and "info" in str(shown.parts)
    done = router.handle("/ops", "config api dev set LOG_LEVEL=debug FEATURE_X=on --restart", OPS)
    assert done.ok and "config api in dev: LOG_LEVEL info → debug, FEATURE_X (unset) → on, then restart it" in done.text
    assert platform.config["api"] == {"LOG_LEVEL": "debug", "FEATURE_X": "on"}
    assert router.handle("/ops", "config api dev unset FEATURE_X", OPS).ok and "FEATURE_X" not in platform.config["api"]
    same = router.handle("/ops", "config api dev set LOG_LEVEL=debug", OPS)
    assert not same.ok and "already has LOG_LEVEL as asked; nothing to change" in same.text
    other = router.handle("/ops", "config api dev set DEBUG_SQL=1", OPS)
    assert not other.ok and "DEBUG_SQL is not a key api in dev allows; keys: LOG_LEVEL, FEATURE_X" in other.text
    secret = router.handle("/ops", "config api dev set DB_PASSWORD=hunter2", OPS)
    assert not secret.ok and "names a secret, and a secret value is never typed in chat" in secret.text
    assert "hunter2" not in json.dumps([r.model_dump(mode="json") for r in store.audit_records()])


def test_a_rotated_secret_is_written_once_and_held_nowhere_else(store, clock, tmp_path, caplog):
    router, platform = setup(store, clock)
    assert router.handle("/incident", "open p2 Token leaked", OPS).ok
    caplog.set_level(logging.DEBUG)
    done = router.handle("/ops", "secret rotate jwt dev --incident INC-1", OPS)
    assert done.ok and "rotate secret jwt in dev: a new 48-character value for the fake's JWT_SECRET, then restart api" \
        in done.text
    value = platform.secrets["JWT_SECRET"]
    assert len(value) == 48
    import hashlib
    assert f"sha256:{hashlib.sha256(value.encode()).hexdigest()[:12]}" in done.text + str(done.parts)
    stored = json.dumps([r.model_dump(mode="json") for r in store.audit_records()]) + json.dumps(
        [e.model_dump(mode="json") for e in store.timeline(1)])
    assert value not in stored and value not in done.text + str(done.parts) and value not in caplog.text
    assert "sha256:" in stored  # the fingerprint is what the record keeps
    assert not router.handle("/ops", "secret show jwt dev", OPS).ok
    unknown = router.handle("/ops", "secret rotate nope dev", OPS)
    assert not unknown.ok and "Unknown secret 'nope' in dev. Its secrets are jwt" in unknown.text


@pytest.mark.parametrize("options,refusal", [
    ("--memory 8Gi", "8Gi is more memory than api in dev may have (max_memory 4Gi)"),
    ("--cpu 2500m", "2500m is more CPU than api in dev may have (max_cpu 2)"),
    ("--memory lots", "'lots' is not a memory size"),
    ("--cpu 0", "A CPU limit of zero would stop the service"),
    ("", "Give --memory (e.g. 2Gi) and/or --cpu (e.g. 500m)"),
])
def test_resources_within_the_catalogs_maxima(store, clock, options, refusal):
    router, platform = setup(store, clock)
    refused = router.handle("/ops", f"resources api dev {options}", OPS)
    assert not refused.ok and refusal in refused.text and platform.events == []
    assert router.handle("/ops", "resources api dev --memory 2Gi --cpu 500m", OPS).ok
    assert platform.events[-1][1] == "api: memory 2Gi, cpu 500m"
