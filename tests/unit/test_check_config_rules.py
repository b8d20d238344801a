"""`opsbot check-config` refuses what would silently misbehave at run time — a key written twice, a runbook
placeholder no parameter fills, an alert rule's environment or commander that cannot be — warns about secrets
whose variables are not set, and reports every problem in one run without problems that only follow from another."""
from __future__ import annotations

import pytest

from bot.config import load_catalog
from bot.config.yamlfile import unset_secrets
from bot.errors import ConfigError


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "opsbot.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_catalog(path)
    return [problem.replace(f"{path}: ", "") for problem in refused.value.problems]


def loads(tmp_path, text: str):
    path = tmp_path / "opsbot.yml"
    path.write_text(text)
    return load_catalog(path)


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path):
    found = problems_of(tmp_path, "environments:\n  prod: {}\n  staging: {}\n  prod: {protected: true}\n"
                                  "announce_channel: a\nannounce_channel: b\n")
    assert found == [
        "line 4: duplicate key 'prod' (first at line 2); YAML would silently keep only the last one",
        "line 6: duplicate key 'announce_channel' (first at line 5); YAML would silently keep only the last one"]


def test_a_merge_key_overridden_is_not_a_duplicate(tmp_path):
    catalog = loads(tmp_path, "environments:\n  base: &base {protected: true, approvals: 1}\n"
                              "  prod: {<<: *base, approvals: 2}\n")
    assert catalog.environments["prod"].approvals == 2


@pytest.mark.parametrize("argv, params, problem", [
    ('[echo, "{who}"]', "{}", "argv item '{who}': {who} is not a declared parameter; params: none"),
    ('[pg_dump, "--table={table}", "{db}"]', "{table: {}}",
     "argv item '{db}': {db} is not a declared parameter; params: table"),
    ('[echo, "{"]', "{}", "argv item '{': Single '{' encountered in format string"),
    ('[echo, "{0}"]', "{}", "argv item '{0}': {0} is not a declared parameter"),
])
def test_a_runbook_placeholder_no_parameter_fills_is_refused(tmp_path, argv, params, problem):
    found = problems_of(tmp_path, f"environments:\n  prod:\n    runbook:\n      act: {{argv: {argv}, params: {params}}}\n")
    assert len(found) == 1 and found[0].startswith(f"environments.prod.runbook.act: {problem}"), found


def test_declared_placeholders_and_literal_braces_are_accepted(tmp_path):
    catalog = loads(tmp_path, 'environments:\n  prod:\n    runbook:\n      act: {argv: [jq, "{{.a}}", "{file}"], '
                              "params: {file: {type: path}}}\n")
    assert catalog.environments["prod"].runbook["act"].argv == ["jq", "{{.a}}", "{file}"]


def test_an_alert_rules_literal_env_must_be_the_catalogs(tmp_path):
    found = problems_of(tmp_path, "environments: {prod: {}, staging: {}}\nalerts:\n  rules:\n"
                                  "    - {match: ['a=\"b\"'], env: prdo}\n    - {match: ['a=\"c\"'], env: '{env}'}\n"
                                  "    - {match: ['a=\"d\"'], env: staging}\n  default: {env: qa}\n")
    assert found == ["alerts.rules.0.env: 'prdo' is not an environment; environments: prod, staging",
                     "alerts.default.env: 'qa' is not an environment; environments: prod, staging"]


@pytest.mark.parametrize("commander", ["bob", "@U012ABCDEF", "u012abcdef", "S012ABCDEF"])
def test_an_alert_rules_commander_must_be_a_slack_user_id(tmp_path, commander):
    found = problems_of(tmp_path, f"alerts:\n  rules:\n    - {{match: ['a=\"b\"'], commander: '{commander}'}}\n")
    assert found == [(f"alerts.rules.0.commander: '{commander}' is not a Slack user ID; write the member ID (U… or W…, "
                     "e.g. U012ABCDEF), shown in the person's Slack profile under ⋮ → Copy member ID")]


def test_slack_user_ids_are_accepted_as_commanders(tmp_path):
    catalog = loads(tmp_path, "alerts:\n  rules:\n    - {match: ['a=\"b\"'], commander: U012ABCDEF}\n"
                              "    - {match: ['a=\"c\"'], commander: W0ENTERPRISE1}\n")
    assert [rule.commander for rule in catalog.alerts.rules] == ["U012ABCDEF", "W0ENTERPRISE1"]


def test_unset_secret_variables_are_warnings_one_per_variable():
    data = {"environments": {"prod": {"checks": [
        {"name": "db", "kind": "postgres", "dsn_env": "PG_DSN"},
        {"name": "p1", "kind": "prometheus", "url_env": "PROM_URL"},
        {"name": "p2", "kind": "prometheus", "url_env": "PROM_URL"},
        {"name": "cache", "kind": "redis", "url_env": "REDIS_URL"}]}}}
    assert unset_secrets(data, {"REDIS_URL": "redis://x"}) == [
        "environments.prod.checks.0.dsn_env: $PG_DSN is not set here; what reads it fails until it is",
        ("environments.prod.checks.1.url_env: $PROM_URL is not set here (also named at 1 more place); what reads it "
        "fails until it is")]


def test_a_section_set_aside_for_its_own_problem_causes_no_more_problems(tmp_path):
    """The environment's own problem is reported; the reminder that runs one of its actions, and the roles that
    name it, are not called wrong for it ("actions: none")."""
    found = problems_of(tmp_path, """\
environments:
  prod:
    evidence: {runbook: [nosuch]}
    runbook:
      verify: {argv: [echo, hi], read_only: true}
  staging:
    evidence: {runbook: [gone, missing]}
    runbook:
      gone: {read_only: true}
scheduler:
  reminders:
    backup: {cron: "0 9 * * mon", title: "Backup check", run: {action: verify, env: prod}}
roles: {prod: {operator: [U1]}}
""")
    assert sorted(found) == ["environments.prod: evidence.runbook names unknown runbook actions: nosuch",
                             "environments.staging.runbook.gone.argv: Field required",
                             "environments.staging: evidence.runbook names unknown runbook actions: missing"]


def test_every_new_problem_comes_out_in_one_run(tmp_path):
    found = problems_of(tmp_path, """\
environments:
  prod:
    runbook:
      act: {argv: [echo, "{who}"]}
  prod: {}
alerts:
  rules:
    - {match: ['a="b"'], env: nowhere}
  default: {commander: alice}
""")
    assert len(found) == 3, found
    assert found[0].startswith("line 5: duplicate key 'prod'")
    assert any(p.startswith("alerts.default.commander: 'alice' is not a Slack user ID") for p in found)
    assert "alerts.rules.0.env: 'nowhere' is not an environment; environments: prod" in found
