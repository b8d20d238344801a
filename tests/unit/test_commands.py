"""The router end to end on both stores: replies for good input, clear errors and no writes for bad."""
from __future__ import annotations

import pytest

from bot.views.text import to_text
from commands.base import Context
from commands.parsing import normalise


def run(router, text: str, ctx: Context):
    return router.handle("/incident", text, ctx)


def snapshot(service):
    incidents = service.list_incidents(include_closed=True)
    return [(i.model_dump(), len(service.timeline(i.number))) for i in incidents]


def test_open_with_options_and_slack_typography(router, service, alice):
    reply = run(router, "open p1 Payment API returns 502 \u2014impact \u201ccheckout fails for 30%\u201d —service api",
                alice)
    assert reply.ok and not reply.ephemeral
    incident = service.get(1)
    assert (incident.title, incident.impact, incident.service) == (
        "Payment API returns 502", "checkout fails for 30%", "api")


def test_apostrophes_in_free_text_need_no_quoting(router, service, alice):
    run(router, "open p2 Search doesn't return results", alice)
    run(router, "note INC-1 it's the index; don't restart", alice)
    assert service.get(1).title == "Search doesn't return results"
    assert service.timeline(1)[-1].text == "it's the index; don't restart"


def test_control_characters_typed_or_pasted_are_dropped_before_anything_is_kept(router, service, alice):
    """A NUL (PostgreSQL's text cannot hold one) or a terminal's ^K in a command is dropped, on every surface: the
    console's lines and Slack's command text both reach the router (the console's own test: test_search.py)."""
    assert run(router, "open p2 Checkout\x00 down\x0b --service api", alice).ok
    assert run(router, "note INC-1 pool\x01 at 100/100\r\nsecond line", alice).ok
    assert service.get(1).title == "Checkout down"
    assert service.timeline(1)[-1].text == "pool at 100/100\nsecond line"
    line = router.handle_line("incident note INC-1 from the console\x00 too", alice)
    assert line.ok and service.timeline(1)[-1].text == "from the console too"


def test_incident_id_is_case_insensitive_and_optional_when_one_is_open(router, service, alice):
    run(router, "open p1 Outage", alice)
    assert run(router, "ack inc-1", alice).ok
    assert run(router, "update error rate falling", alice).ok
    assert service.timeline(1)[-1].text == "Status update: error rate falling"


def test_action_item_with_owner_and_due_date(router, service, alice):
    run(router, "open p1 Outage", alice)
    reply = run(router, 'action INC-1 add "alert on connection pool > 80%" <@U_BOB|bob> due 2026-12-01', alice)
    assert reply.ok, to_text(reply)
    item = service.get(1).action_items[0]
    assert (item.text, item.owner, str(item.due)) == ("alert on connection pool > 80%", "U_BOB", "2026-12-01")


BAD_INPUT = [
    ("frob", "Unknown sub-command 'frob'"),
    ("open p1", "Missing title"),
    ("open", "Missing severity"),
    ("open p9 Outage", "'p9' is not a severity"),
    ("open p1 " + "x" * 151, "the limit is 150"),
    ("open p1 Outage --colour red", "Unknown option --colour"),
    ("note INC-1", "the note is empty"),
    ("note INC-99 hello", "There is no incident INC-99"),
    ("action INC-1 add fix it due 2026-13-45", "'2026-13-45' is not a date"),
    ("action INC-1 add fix it due tomorrow", "'tomorrow' is not a date"),
    ("role INC-1 scribe bob", "'bob' is not a Slack user"),
    ("role INC-1 chef @U_BOB", "'chef' is not a role"),
    ("status INC-1 sleeping", "'sleeping' is not a status"),
    ("close INC-1", "cannot become closed"),
    ("sev INC-1 p7", "'p7' is not a severity"),
]


@pytest.mark.parametrize("text,message", BAD_INPUT)
def test_bad_input_gets_a_clear_message_with_usage_and_changes_nothing(router, service, alice, text, message):
    run(router, "open p1 Outage", alice)
    before = snapshot(service)
    reply = run(router, text, alice)
    rendered = to_text(reply)
    assert not reply.ok
    assert message in rendered
    assert "Usage: `/incident" in rendered
    assert "Traceback" not in rendered
    assert snapshot(service) == before


def test_several_open_incidents_need_an_id(router, alice):
    run(router, "open p1 One", alice)
    run(router, "open p2 Two", alice)
    reply = run(router, "ack", alice)
    assert not reply.ok and "Several incidents are open" in reply.text


def test_unknown_command_and_unexpected_errors_never_show_a_traceback(router, alice, monkeypatch):
    assert "Unknown command '/frob'" in router.handle("/frob", "", alice).text

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(router.services.incidents, "list_incidents", explode)
    reply = run(router, "list", alice)
    assert not reply.ok and "Something went wrong" in reply.text and "secret" not in to_text(reply)


def test_help_lists_every_sub_command(router, alice):
    text = to_text(run(router, "help", alice))
    for name in ("open", "ack", "sev", "status", "update", "role", "note", "impact", "action", "resolve",
                 "reopen", "close", "list", "show", "timeline", "postmortem", "help"):
        assert f"/incident {name}" in text


def test_list_and_timeline_render_as_plain_text(router, alice):
    run(router, "open p1 Outage", alice)
    run(router, "note INC-1 looking at <@U_BOB|bob>'s dashboard", alice)
    listing = to_text(run(router, "list", alice))
    assert "INC-1 P1 declared — Outage" in listing and "@U_ALICE" in listing
    timeline = to_text(run(router, "timeline INC-1", alice))
    assert "2026-11-20 09:00 UTC @U_ALICE" in timeline.replace("`", "")
    assert "{" not in timeline  # no raw JSON


def test_postmortem_reply_attaches_the_markdown_draft(router, alice):
    run(router, "open p1 Outage", alice)
    reply = run(router, "postmortem", alice)
    assert reply.file.filename == "2026-11-20-inc-1-outage.md"
    assert reply.file.content.startswith("# Post-mortem: INC-1 — Outage")


def test_normalise_undoes_slack_typography():
    assert normalise("open p1 x \u2014impact \u201cbad\u201d \u2018q\u2019") == "open p1 x --impact \"bad\" 'q'"


def mrkdwn_texts(blocks) -> str:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def test_text_users_type_is_stored_neutral_and_escaped_in_slack_views(router, service, alice):
    run(router, "open p2 Checkout <b>down</b> & <!here|here> <https://evil.example|click> <@U_BOB|bob>", alice)
    incident = service.get(1)
    assert incident.title == "Checkout <b>down</b> & @here click (https://evil.example) @U_BOB"  # neutral
    card = run(router, "show INC-1", alice)
    mrkdwn = mrkdwn_texts(card.blocks)  # plain_text (the header) is never parsed by Slack
    assert "<!here" not in mrkdwn and "<https://evil" not in mrkdwn and "<b>" not in mrkdwn
    list_line = mrkdwn_texts(run(router, "list", alice).blocks)
    assert "Checkout &lt;b&gt;down&lt;/b&gt; &amp; @here click (https://evil.example) <@U_BOB>" in list_line
    run(router, "role INC-1 scribe <@U_BOB|bob>", alice)
    role = service.timeline(1)[-1]
    assert role.text == "@U_BOB is scribe" and role.data["user"] == "U_BOB"
    assert "<@U_BOB> is scribe" in str(run(router, "timeline INC-1", alice).blocks)  # the view mentions


def test_an_error_with_a_cause_is_logged_once_with_its_traceback(caplog):
    import logging

    from bot.errors import BackendError
    from commands.router import error_reply

    try:
        try:
            raise ConnectionRefusedError("docker.sock refused")
        except ConnectionRefusedError as exc:
            raise BackendError("Docker restart failed in prod (connection refused)") from exc
    except BackendError as error:
        with caplog.at_level(logging.INFO, logger="opsbot.commands"):
            reply = error_reply(error)
    assert not reply.ok and reply.text == "Docker restart failed in prod (connection refused)"
    (record,) = caplog.records
    assert record.exc_info and "docker.sock refused" in caplog.text  # the cause, in the log only
    assert "docker.sock" not in str(reply.blocks)


def test_what_slack_sends_is_decoded_before_parsing_and_shown_back_as_it_was_meant(router, service, alice):
    """Slack escapes & < > and wraps mentions, channels and links in its own markup: decoded to neutral text."""
    run(router, "open p2 DB &amp; cache &lt;down&gt;", alice)
    assert service.get(1).title == "DB & cache <down>"
    reply = run(router, "update INC-1 ask <@U_BOB|bob> in <#C0123|ops>, see <https://status.example.com|status> "
                        "<!channel>", alice)
    shown = mrkdwn_texts(reply.blocks)
    assert "<@U_BOB>" in shown and "<#C0123>" in shown and "status (https://status.example.com)" in shown
    assert "<!channel>" not in shown and "@channel" in shown  # shown as text: it pings nobody
    assert service.timeline(1)[-1].text.endswith("ask @U_BOB in #C0123, see status (https://status.example.com) "
                                                 "@channel")


@pytest.mark.parametrize("text,message", [
    ("show INC-99999999999999999999", "There is no incident INC-99999999999999999999"),
    ("resolve INC-1 \"\"", "Missing resolution summary"),
    ("action INC-1 done ٣", "Give the number of the action item"),
    ("note INC-1 ''", "Missing note text"),
])
def test_overflowing_ids_empty_quotes_and_foreign_digits_are_refused_clearly(router, service, alice, text, message):
    run(router, "open p2 Checkout slow", alice)
    before = snapshot(service)
    reply = run(router, text, alice)
    assert not reply.ok and message in reply.text
    assert snapshot(service) == before


def test_overflowing_durations_are_refused_clearly(make_router, alice):
    from bot.config import Catalog

    router = make_router(Catalog.model_validate({"environments": {"prod": {}}}))
    for command, text in (("/ops", "audit --since 99999999d"), ("/ops", "logs api prod --since 9999999999w"),
                          ("/maint", 'schedule prod in 99999999d 2h "x"'), ("/maint", "extend MW-1 9999999999d")):
        reply = router.handle(command, text, alice)
        assert not reply.ok and ("longer than ten years" in reply.text or "is not a duration" in reply.text), reply.text


def test_raising_an_open_incident_to_a_private_severity_says_it_stays_public(make_router, alice):
    from bot.config import Catalog

    router = make_router(Catalog.model_validate({"severities": {
        "P0": {"name": "Critical", "response": "15m", "private": True}, "P1": {"name": "High", "response": "1h"},
        "P2": {"name": "Medium", "response": "4h"}, "P3": {"name": "Low", "response": "1d"}}}))
    assert run(router, "open p1 Odd logins on the admin panel", alice).ok
    raised = run(router, "sev INC-1 p0", alice)
    assert raised.ok and "P0 incidents are private by the catalog, but INC-1 was opened public" in to_text(raised)
    assert router.services.incidents.get(1).private is False  # nothing hidden behind anyone's back
    assert "private by the catalog" not in to_text(run(router, "sev INC-1 p2", alice))
    assert run(router, "open p0 Leaked key", alice).ok
    assert "private by the catalog" not in to_text(run(router, "sev INC-2 p0", alice))  # private already
