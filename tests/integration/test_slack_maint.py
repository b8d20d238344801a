"""Reminders in Slack: the posted message (checkboxes, maintenance-mode button) and what clicking them does."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.app import slack_thread_client
from bot.config import SlackSettings
from bot.core.reminders import Checklist, Reminder
from bot.metrics import Metrics
from bot.slack.notifier import SlackNotifier
from bot.views.maint import reminder_blocks
from tests.integration.test_slack_http import assert_valid_blocks

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def start_notice(env: str | None = "prod") -> Reminder:
    return Reminder(key="window:1:start", kind="window_start", due_at=NOW, channel="ops",
                    text="🛠️ Maintenance starts now — *prod*: db upgrade", title="Pre-maintenance checklist",
                    checklist=["Backups verified and tested", "Rollback plan prepared and tested"], env=env)


def checklist(store) -> Checklist:
    return store.create_checklist(Checklist(title="Pre-maintenance checklist", channel="ops", reminder="window:1:start",
                                            items=["Backups verified and tested", "Rollback plan prepared"],
                                            created_at=NOW))


def test_notifier_posts_valid_blocks_and_joins_the_channel_when_needed(fake_slack):
    metrics = Metrics()
    notifier = SlackNotifier(slack_thread_client(SlackSettings(slack_bot_token="xoxb-test",
                                                               opsbot_slack_api_url=fake_slack.api_url), metrics))
    fake_slack.fail_next("chat.postMessage", "not_in_channel")
    listed = Checklist(id=7, title="Pre-maintenance checklist", channel="ops", reminder="window:1:start",
                       items=start_notice().checklist, created_at=NOW)
    notifier.post(start_notice(), listed)
    assert fake_slack.calls_to("conversations.join")[0].params["channel"] == "ops"
    # The threads' client is metered too: the refused post, the join and the post again, counted by method.
    exposition = metrics.exposition().decode()
    assert 'opsbot_slack_api_calls_total{method="chat.postMessage"} 2.0' in exposition
    assert 'opsbot_slack_api_errors_total{error="not_in_channel",method="chat.postMessage"} 1.0' in exposition
    assert 'opsbot_slack_api_calls_total{method="conversations.join"} 1.0' in exposition
    post = fake_slack.calls_to("chat.postMessage")[-1].params
    assert post["channel"] == "ops" and "Maintenance starts now" in post["text"]
    assert_valid_blocks(post["blocks"])
    blocks = reminder_blocks(start_notice(), listed)
    assert blocks[1]["block_id"] == "checklist:7" and len(blocks[1]["elements"][0]["options"]) == 2
    assert blocks[-1]["elements"][0]["action_id"] == "maint_mode_on"
    assert all(b.get("block_id") != "maintenance:None" for b in reminder_blocks(start_notice(env=None), None))


def test_ticking_checkboxes_records_who_ticked_what(slack):
    listed = checklist(slack.opsbot.store)

    def click(user: str, selected: list[str]):
        response = slack.interaction({
            "type": "block_actions", "user": {"id": user}, "channel": {"id": "C_OPS"},
            "container": {"type": "message"}, "response_url": f"{slack.fake.base_url}/response/check",
            "actions": [{"action_id": "maint_check", "block_id": f"checklist:{listed.id}", "type": "checkboxes",
                         "selected_options": [{"value": v} for v in selected]}]})
        assert response.status_code == 200

    click("U_ALICE", ["2"])
    deadline = time.monotonic() + 10
    while not slack.opsbot.store.get_checklist(listed.id).ticks and time.monotonic() < deadline:
        time.sleep(0.02)
    click("U_BOB", ["1", "2"])
    while len(slack.opsbot.store.get_checklist(listed.id).ticks) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    ticked = slack.opsbot.store.get_checklist(listed.id).checked()
    assert {item: tick.actor for item, tick in ticked.items()} == {1: "U_BOB", 2: "U_ALICE"}
    reply = slack.command(f"checklist CL-{listed.id}", command="/maint")
    assert reply.status_code == 200
    text = slack.fake.wait_for_response(1)[-1]["text"]
    assert "2/2 done" in text


def test_maintenance_mode_button_goes_through_the_ops_command_and_its_checks(slack):
    response = slack.interaction({
        "type": "block_actions", "user": {"id": "U_ALICE"}, "channel": {"id": "C_OPS"},
        "container": {"type": "message"}, "response_url": f"{slack.fake.base_url}/response/mode",
        "actions": [{"action_id": "maint_mode_on", "block_id": "maintenance:prod", "value": "prod",
                     "type": "button"}]})
    assert response.status_code == 200
    answer = slack.fake.wait_for_response(1)[-1]
    # The default catalog has no environments: the same answer as `/ops maintenance on prod`, nothing run.
    assert "Unknown environment 'prod'" in answer["text"]
    assert answer["response_type"] == "ephemeral"


def test_roles_granted_to_a_user_group_follow_its_slack_membership(fake_slack, tmp_path):
    from bot.app import build
    from bot.config import Settings
    from commands.base import Context

    config = tmp_path / "opsbot.yml"
    config.write_text("environments:\n  prod: {protected: true}\nroles:\n  prod: {viewer: [S0PAGERS]}\n")
    opsbot = build(config, Settings(database_url=f"sqlite:///{tmp_path}/opsbot.db"),
                   slack=SlackSettings(slack_bot_token="xoxb-test", slack_signing_secret="s",
                                       opsbot_slack_api_url=fake_slack.api_url))
    try:
        fake_slack.usergroups["S0PAGERS"] = ["U_PAGER"]
        allowed = opsbot.router.handle("/ops", "health prod", Context(user="U_PAGER", source="slack"))
        assert allowed.ok and "No checks are configured for prod" in str(allowed.blocks)
        denied = opsbot.router.handle("/ops", "health prod", Context(user="U_OTHER", source="slack"))
        assert not denied.ok and "You need the viewer role in prod" in denied.text
        assert fake_slack.calls_to("usergroups.users.list")[0].params["usergroup"] == "S0PAGERS"
        assert len(fake_slack.calls_to("usergroups.users.list")) == 1  # cached
    finally:
        opsbot.close()


def test_a_user_group_slack_cannot_list_grants_nothing(fake_slack):
    from slack_sdk import WebClient

    from bot.slack.usergroups import SlackGroupDirectory

    fake_slack.fail_next("usergroups.users.list", "missing_scope", needed="usergroups:read")
    directory = SlackGroupDirectory(WebClient(token="xoxb-test", base_url=fake_slack.api_url), {"S0PAGERS"})
    fake_slack.usergroups["S0PAGERS"] = ["U_PAGER"]
    assert directory("U_PAGER") == []  # an error never grants a role
    assert directory("U_PAGER") == ["S0PAGERS"]  # not cached: asked again, and now Slack answers


def test_audit_checkpoints_are_posted_to_the_audit_channel(fake_slack):
    from bot.core.audit import Head
    from bot.core.audit_signing import Checkpoint, SigningKey
    from bot.slack.notifier import SlackWitness

    witness = SlackWitness(slack_thread_client(SlackSettings(slack_bot_token="xoxb-test",
                                                             opsbot_slack_api_url=fake_slack.api_url), Metrics()),
                           "audit")
    witness(Checkpoint.make(Head(42, "a" * 64), datetime(2026, 12, 4, 9, tzinfo=UTC), None))
    post = fake_slack.wait_for("chat.postMessage")[-1]
    assert post.params["channel"] == "audit" and f"--head 42:{'a' * 64}`" in post.params["text"]
    signer = SigningKey.generate()  # a signed checkpoint is posted whole, so the auditor can check its signature
    witness(signed := Checkpoint.make(Head(43, "b" * 64), datetime(2026, 12, 4, 9, tzinfo=UTC), signer))
    post = fake_slack.wait_for("chat.postMessage", count=2)[-1]
    given = post.params["text"].split("--head '")[1].split("'")[0]
    assert Checkpoint.parse(given) == signed and Checkpoint.parse(given).signed_by(signer.public())


def test_the_scheduler_says_a_line_to_a_channel_joining_it_when_needed(fake_slack):
    """What a reconciliation found and did, told to the audit and incident channels as plain text."""
    notifier = SlackNotifier(slack_thread_client(SlackSettings(slack_bot_token="xoxb-test",
                                                               opsbot_slack_api_url=fake_slack.api_url), Metrics()))
    fake_slack.fail_next("chat.postMessage", "not_in_channel")
    notifier.say("audit", "⚠️ rollback api in prod (attempt a-1) was interrupted: opsbot stopped mid-way; …")
    assert fake_slack.calls_to("conversations.join")[0].params["channel"] == "audit"
    post = fake_slack.calls_to("chat.postMessage")[-1].params
    assert post["channel"] == "audit" and post["text"].startswith("⚠️ rollback api in prod") and "blocks" not in post
