"""Small edges of issue 22: an action item due in the past is refused; compound durations (2h30m) are read
wherever durations are; one check is "1 check"; the configuration reference shows lead times as the YAML does."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_catalog
from bot.config.reference import render
from bot.core.ports import CheckResult, HealthReport
from bot.timeparse import parse_duration, parse_moment
from bot.views.ops import health
from bot.views.text import to_text
from commands.base import Context

ALICE = Context(user="U_ALICE")


def test_an_action_item_due_in_the_past_is_refused_and_nothing_is_added(router, clock):
    assert router.handle("/incident", "open p2 Slow search", ALICE).ok
    refused = router.handle("/incident", "action INC-1 add reindex due 2026-11-19", ALICE)
    assert not refused.ok
    assert "The due date 2026-11-19 is in the past; give today (2026-11-20, UTC) or a later date." in refused.text
    assert router.services.incidents.get(1).action_items == []
    assert router.handle("/incident", "action INC-1 add reindex due 2026-11-20", ALICE).ok  # today is fine


@pytest.mark.parametrize("text, expected", [
    ("2h30m", timedelta(hours=2, minutes=30)), ("1h 30m", timedelta(hours=1, minutes=30)),
    ("1d12h", timedelta(days=1, hours=12)), ("90min", timedelta(minutes=90)), ("15m", timedelta(minutes=15)),
])
def test_compound_durations_are_read(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2h30", "h30m", "30 minutes", "2h-30m"])
def test_a_compound_duration_with_a_missing_unit_is_refused(text):
    with pytest.raises(ValueError, match="is not a duration; use a number and a unit, like 15m, 4h, 2d or 2h30m"):
        parse_duration(text)


def test_compound_durations_work_in_commands_and_the_catalog(router, clock, tmp_path):
    assert parse_moment("-1h30m", clock()) == clock() - timedelta(minutes=90)
    assert router.handle("/incident", "open p2 Slow search", ALICE).ok
    assert router.handle("/incident", "impact-start INC-1 -1h30m", ALICE).ok
    assert router.services.incidents.get(1).impact_started_at == clock() - timedelta(minutes=90)
    path = tmp_path / "opsbot.yml"
    path.write_text("severities:\n  P1: {name: High, response: 1h, update_every: 1h30m}\n")
    assert load_catalog(path).severities["P1"].update_every == timedelta(minutes=90)


@pytest.mark.parametrize("count, said", [(1, "1 check in"), (2, "2 checks in")])
def test_the_health_footer_counts_checks_in_good_english(count, said):
    results = [CheckResult(name=f"c{n}", kind="tcp", level="ok", value="up") for n in range(count)]
    shown = to_text(health(HealthReport("prod", results, 12.0), datetime(2026, 11, 20, tzinfo=UTC)))
    assert said in shown and "1 checks" not in shown


def test_the_reference_shows_lead_times_as_durations_not_python():
    row = next(line for line in render().splitlines() if line.startswith("| `scheduler.lead_times` |"))
    assert "`[2d, 1d]`" in row and "datetime" not in row


@pytest.mark.parametrize("command", [["console"], ["check-config"], ["postmortem"], ["serve"], ["manifest"],
                                     ["health"], ["incident", "export"], ["incident", "import"],
                                     ["evidence", "verify"], ["audit", "verify"], ["audit", "head"],
                                     ["audit", "export"], ["audit", "pubkey"]])
def test_every_command_takes_and_shows_config_where_it_is_typed(command, capsys):
    from bot.cli import main

    with pytest.raises(SystemExit) as shown:
        main([*command, "--help"])
    assert shown.value.code == 0 and "--config PATH" in capsys.readouterr().out


def test_audit_verify_reads_the_config_given_after_it(tmp_path, monkeypatch, capsys):
    from bot.cli import main
    from bot.store import open_store

    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite:///{tmp_path}/opsbot.db")
    open_store(f"sqlite:///{tmp_path}/opsbot.db").close()
    broken = tmp_path / "broken.yml"
    broken.write_text("severities: [not, a, mapping]\n")
    assert main(["audit", "verify", "--config", str(broken)]) == 2  # it read this file: a config error, not a usage one
    assert "config error" in capsys.readouterr().err


def test_check_config_shows_each_runbook_argv_as_it_will_run(tmp_path, capsys):
    from bot.cli import main

    config = tmp_path / "opsbot.yml"
    config.write_text("environments:\n  prod:\n    runbook:\n      count:\n"
                      "        argv: [awk, '{{print $1}}', '/var/log/{file}']\n        params: {file: {type: path}}\n")
    assert main(["check-config", "--config", str(config)]) == 0
    assert "  runbook prod/count: awk '{print $1}' '/var/log/<file>'" in capsys.readouterr().out
