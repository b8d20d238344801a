"""`/ops` through the router: bad input is refused before any backend call, with a clear message."""
from __future__ import annotations

import pytest

from bot.config import Catalog
from bot.core.effects import PlanAwaitingConfirmation
from bot.views.text import to_text
from commands.base import Context

CATALOG = {
    "environments": {
        "prod": {
            "protected": True,
            "platform": {"kind": "docker", "project": "shop", "host": "unix:///nonexistent/docker.sock"},
            "services": {"api": {"docker_service": "api", "max_replicas": 10}},
            "runbook": {"backup": {"argv": ["/bin/echo", "backup", "{kind}"],
                                   "params": {"kind": {"type": "choice", "choices": ["full", "wal"]}}},
                        "say": {"argv": ["/bin/echo", "said:", "{msg}"], "read_only": True,
                                "params": {"msg": {"required": True}}}},
        },
    },
    "roles": {"prod": {"operator": ["U_OPS"], "viewer": ["U_VIEW"]}},
}


@pytest.fixture
def ops_router(make_router):
    return make_router(Catalog.model_validate(CATALOG))


OPS = Context(user="U_OPS", channel="C1", source="console")

BAD = [
    ("health moon", "Unknown environment 'moon'. Environments: prod"),
    ("restart web prod", "Unknown service 'web' in prod. Services: api"),
    ("scale api prod 11", "from 0 to 10"),
    ("scale api prod -1", "from 0 to 10"),
    ("scale api prod many", "from 0 to 10"),
    ("logs api prod --since soon", "'soon' is not a duration"),
    ("logs api prod --tail 99999", "--tail must be a number"),
    ("run backup prod kind=full; rm -rf /", "Shell metacharacters"),
    ("run backup prod kind=$(reboot)", "Shell metacharacters"),
    ("run backup prod kind=`id`", "Shell metacharacters"),
    ("run backup prod kind=diff", "kind must be one of full, wal"),
    ("run backup prod size=1", "Unknown parameter 'size'"),
    ('run say prod msg="hello world', "No closing quotation"),
    ('run say prod msg="a; rm -rf /"', "Shell metacharacters"),
    ("run say prod hello world", "'hello' is not key=value"),
    ("run restore prod", "Unknown runbook action 'restore' in prod. Actions: backup"),
    ("maintenance maybe prod", "'maybe' is not on or off"),
    ("confirm p-000000", "There is no plan p-000000"),
    ("frobnicate", "Unknown sub-command 'frobnicate'"),
    ("restart api", "Expected 2 arguments, got 1"),
    ("restart api prod; rm -rf /", "Shell metacharacters"),
    ("logs api prod; rm -rf / --grep x", "Shell metacharacters"),  # only the --grep/--grep-v values are exempt
    ("logs api prod --grep x|y --tail $(id)", "Shell metacharacters"),
    ("logs api prod --grep (a", "--grep '(a' is not a regular expression RE2 accepts: missing )"),
    ("logs api prod --grep-v a\\1", "RE2 has no backreferences"),
    ("logs api,web prod", "Unknown service 'web' in prod. Services: api"),
    ("switch api prod green", "api in prod has no blue/green slots. Services with slots: none"),
    ("switch api prod", "or --back"),
    ("switch api prod green --back", "or --back (not both)"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_ops_input_is_refused_with_usage_and_changes_nothing(ops_router, store, text, message):
    reply = ops_router.handle("/ops", text, OPS)
    rendered = to_text(reply)
    assert not reply.ok and message in rendered, rendered
    assert "Usage:" in rendered
    # Text that cannot be read is not a request; a request the catalog does not allow is audited as refused.
    assert [r.phase for r in store.audit_records()] in ([], ["refused"])


def test_unknown_user_is_refused_in_prod_and_the_denial_is_audited(ops_router, store):
    reply = ops_router.handle("/ops", "run backup prod kind=full", Context(user="U_EVE", channel="C1"))
    assert not reply.ok and "operator role in prod" in reply.text
    assert [r.phase for r in store.audit_records()] == ["denied"]


def test_unreachable_docker_engine_is_a_clear_error_audited_as_failed(ops_router, store):
    reply = ops_router.handle("/ops", "restart api prod", OPS)
    assert not reply.ok and "Docker" in reply.text and "prod" in reply.text
    assert "Traceback" not in to_text(reply)
    assert [r.phase for r in store.audit_records()] == ["failed"]


def test_runbook_action_plan_confirm_and_audit_listing(ops_router, store):
    planned = ops_router.handle("/ops", "run backup prod kind=wal", OPS)
    (effect,) = planned.effects
    assert planned.ok and isinstance(effect, PlanAwaitingConfirmation)
    assert "run backup in prod: `/bin/echo backup wal`" in planned.text
    done = ops_router.handle("/ops", f"confirm {effect.plan_id}", OPS)
    assert done.ok and "backup wal" in to_text(done)
    listing = to_text(ops_router.handle("/ops", "audit --since 1h --env prod", OPS))
    assert "@U_OPS run backup prod — succeeded" in listing


@pytest.mark.parametrize("text", ['run say prod msg="hello world"', "run say prod msg='hello world'",
                                  "run say prod “msg=hello world”"])
def test_a_quoted_parameter_value_keeps_its_spaces_as_one_argument(ops_router, store, text):
    reply = ops_router.handle("/ops", text, Context(user="U_VIEW", channel="C1", source="console"))
    assert reply.ok and "said: hello world" in to_text(reply)  # read-only: no plan, a viewer may; one argv item
    assert [r.args for r in store.audit_records()][-1] == {"msg": "hello world"}


def test_a_grep_regex_may_hold_shell_metacharacters_it_only_reaches_re2(ops_router, store):
    reply = ops_router.handle("/ops", 'logs api prod --grep "error|time(out)?$" --grep-v \\bhealth\\b', OPS)
    rendered = to_text(reply)
    assert "Shell metacharacters" not in rendered and "Docker" in rendered  # refused only by the missing engine
    assert [(r.action, r.args["grep"], r.args["grep_v"]) for r in store.audit_records()] == [
        ("logs", "error|time(out)?$", "\\bhealth\\b")]


def test_previous_logs_on_docker_are_refused_with_the_reason(ops_router):
    reply = ops_router.handle("/ops", "logs api prod --previous", OPS)
    assert not reply.ok and "Docker keeps a restarted container's earlier output in its own log" in reply.text


def test_help_lists_every_ops_sub_command(ops_router):
    text = to_text(ops_router.handle("/ops", "help", OPS))
    for name in ("health", "status", "logs", "restart", "scale", "rollback", "switch", "maintenance", "run", "confirm",
                 "approve", "audit"):
        assert f"/ops {name}" in text


def test_health_of_an_environment_without_checks_is_not_healthy(make_router, sqlite_url, tmp_path):
    import os
    import subprocess
    import sys

    reply = make_router(Catalog.model_validate({"environments": {"dev": {}}})).handle("/ops", "health dev", OPS)
    assert reply.ok and "no checks configured" in reply.text and "healthy" not in reply.text
    config = tmp_path / "opsbot.yml"
    config.write_text("environments:\n  dev: {}\n")
    env = {**os.environ, "OPSBOT_DATABASE_URL": sqlite_url, "OPSBOT_CONFIG": str(config)}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "health", "dev"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 1 and "nothing was checked" in result.stdout


def test_a_plan_shows_the_exact_argv_as_code_untouched_by_markup_or_redaction(make_router):
    """`*.log` is not read as bold, a port is not masked as a password, a URL without a password is kept, and a
    parameter named as a secret is shown masked — in Slack's blocks and the console's text alike."""
    from bot.config import Catalog
    from bot.views.blocks import to_blocks
    from bot.views.text import to_text

    catalog = Catalog.model_validate({"roles": {"prod": {"operator": ["U_OPS"]}}, "environments": {"prod": {
        "protected": True, "runbook": {"sweep": {"argv": ["find", "/var/log", "-name", "*.log", "-mtime", "+{days}"],
                              "params": {"days": {"type": "int"}}},
                    "ping": {"argv": ["redis-cli", "-u", "redis://cache:6379/0", "-p", "6379", "-a", "{password}"],
                             "params": {"password": {}}}}}}})
    router = make_router(catalog)
    sweep = router.handle("/ops", "run sweep prod days=7", Context(user="U_OPS", channel="C1"))
    blocks = str(to_blocks(sweep))
    assert "`find /var/log -name '*.log' -mtime +7`" in blocks and "*run sweep in prod:*" in blocks
    ping = router.handle("/ops", "run ping prod password=S3cretPw", Context(user="U_OPS", channel="C1"))
    text = to_text(ping)
    assert "run ping in prod: `redis-cli -u redis://cache:6379/0 -p 6379 -a ***`" in text and "S3cretPw" not in text + str(to_blocks(ping))


def test_dashboards_are_linked_in_health_status_and_the_incident_summary(make_router):
    """The runbooks' Grafana links, from the catalog: in `/ops health` and `/ops status` replies (console text,
    Slack blocks) and in the incident's summary card; a URL that is not http(s) is a configuration error."""
    from bot.config import Catalog
    from bot.views.blocks import to_blocks
    from bot.views.channel import summary_blocks
    from bot.views.text import to_text

    catalog = Catalog.model_validate({"environments": {"dev": {
        "dashboards": {"Overview": "https://grafana.example.com/d/ov"},
        "services": {"api": {"dashboards": {"API latency": "https://grafana.example.com/d/api"}}}}}})
    router = make_router(catalog)
    ctx = Context(user="U_OPS", channel="C1", source="console")
    health = router.handle("/ops", "health dev", ctx)
    assert "<https://grafana.example.com/d/ov|Overview>" in str(to_blocks(health))
    assert "Overview" in to_text(health) and "https://grafana.example.com/d/ov" in to_text(health)
    assert router.handle("/incident", "open p2 Slow api --service api --env dev", ctx).ok
    card = str(summary_blocks(router.services.incidents.get(1), catalog))
    assert "<https://grafana.example.com/d/ov|Overview>" in card and "<https://grafana.example.com/d/api|API latency>" in card
    with pytest.raises(ValueError, match="is not an http"):
        Catalog.model_validate({"environments": {"dev": {"dashboards": {"x": "javascript:alert(1)"}}}})


def test_status_links_each_service_to_its_dashboards():
    from bot.core.ports import ServiceState
    from bot.views import ops as views
    from bot.views.blocks import to_blocks

    shown = str(to_blocks(views.status("dev", [ServiceState("api", 2, 2, "shop/api:2")],
                                       {"": [("Overview", "https://g/d/ov")], "api": [("API", "https://g/d/api")]})))
    assert "*api* — 2/2 running · shop/api:2 · <https://g/d/api|API>" in shown and "<https://g/d/ov|Overview>" in shown
