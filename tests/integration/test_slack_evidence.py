"""Evidence from Slack, over real HTTP against the local fake Slack: a collected bundle uploaded to the incident
channel, files shared or 📌-pinned there kept as items (downloaded with the bot token, redacted, hashed,
size-capped), `evidence add` of a Slack file link, and links elsewhere never fetched."""
from __future__ import annotations

import time

from bot.config import Catalog
from tests.integration.test_slack_http import open_incident, wait_until

LOG = b"10:02 pool exhausted\n10:03 retry with DB_PASSWORD=hunter2secret\n"


def bundles(slack) -> list:
    return slack.opsbot.services.evidence.bundles(1)


def test_a_collected_bundle_is_uploaded_to_the_incident_channel(slack):
    slack.opsbot.services.ops.catalog = Catalog.model_validate({
        "environments": {"prod": {"evidence": {"collectors": ["audit", "timeline"]}}},
        "roles": {"prod": {"responder": ["U_ALICE"]}}})
    incident = open_incident(slack, "open p1 Checkout down")  # the served catalog has no prod: named below
    slack.command("evidence collect --env prod", channel=incident.channel)
    complete = slack.fake.wait_for("files.completeUploadExternal")[0]
    assert incident.channel in str(complete.params)
    upload = slack.fake.wait_for("upload")[0]
    (bundle,) = bundles(slack)
    assert upload.params["bytes"] > 200 and bundle.archive.endswith("EB-1.tar.gz")
    summary = [c for c in slack.fake.calls_to("chat.postMessage") if "EB-1" in str(c.params)]
    assert summary or any("EB-1" in str(r) for r in slack.fake.responses)


def test_a_file_shared_in_the_incident_channel_is_kept_redacted_and_verifiable(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0LOGS001", "db.log", LOG)
    event = {"type": "file_shared", "file_id": "F0LOGS001", "user_id": "U_CAROL", "channel_id": incident.channel}
    assert slack.event(event, "EvF1").status_code == 200
    wait_until(lambda: bundles(slack))
    (bundle,) = bundles(slack)
    (item,) = bundle.items
    assert item.name == "file-F0LOGS001-db.log" and item.collector == "shared" and item.redacted == 1
    stored = (slack.opsbot.services.evidence.storage.root / "INC-1" / "EB-1" / item.name).read_bytes()
    assert b"pool exhausted" in stored and b"hunter2secret" not in stored
    assert slack.opsbot.services.evidence.verify(1) == (1, [])
    (download,) = slack.fake.calls_to("download")
    assert download.headers["Authorization"] == "Bearer xoxb-test"
    slack.fake.wait_for("chat.postEphemeral")
    assert "Kept file-F0LOGS001-db.log as evidence EB-1" in str(slack.fake.calls_to("chat.postEphemeral")[-1].params)


def test_the_bots_own_uploads_and_files_elsewhere_are_not_evidence(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0BUNDLE1", "EB-1.tar.gz", b"bundle")
    own = {"type": "file_shared", "file_id": "F0BUNDLE1", "user_id": "UBOT", "channel_id": incident.channel}
    assert slack.event(own, "EvF2").status_code == 200  # Slack names the bot's own user in `authorizations`
    elsewhere = {"type": "file_shared", "file_id": "F0BUNDLE1", "user_id": "U_CAROL", "channel_id": "C_RANDOM"}
    assert slack.event(elsewhere, "EvF3").status_code == 200
    time.sleep(0.5)
    assert bundles(slack) == [] and slack.fake.calls_to("files.info") == []


def test_a_file_over_the_cap_is_refused_with_the_cap_and_nothing_is_downloaded(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0HUGE001", "heap.hprof", b"x", size=150_000_000)
    slack.command("evidence add https://ops.slack.com/files/U_CAROL/F0HUGE001/heap.hprof", channel=incident.channel)
    wait_until(lambda: slack.fake.responses)
    text = str(slack.fake.responses[-1])
    assert "heap.hprof is 150,000,000 bytes" in text and "capped at 100,000,000 bytes" in text
    assert bundles(slack) == [] and slack.fake.calls_to("download") == []


def test_evidence_add_of_a_slack_file_link_downloads_it_and_other_links_stay_text(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0GRAPH01", "latency.csv", b"t,p95\n10:00,2.4\n")
    slack.command("evidence add https://ops.slack.com/files/U_CAROL/F0GRAPH01/latency.csv", channel=incident.channel)
    wait_until(lambda: bundles(slack))
    slack.command("evidence add https://grafana.example.com/d/abc?token=x", channel=incident.channel)
    wait_until(lambda: len(bundles(slack)) == 2)
    first, second = bundles(slack)
    assert first.items[0].name == "file-F0GRAPH01-latency.csv" and first.items[0].size == 16
    assert second.items[0].name == "added.txt" and len(slack.fake.calls_to("download")) == 1
    slack.command("evidence add F0NOSUCH1", channel=incident.channel)
    wait_until(lambda: len(slack.fake.responses) >= 4)  # the open's reply and the two adds' came before
    assert "There is no Slack file F0NOSUCH1" in str(slack.fake.responses[-1]) and len(bundles(slack)) == 2


def test_a_pinned_message_with_a_file_keeps_the_note_and_the_file(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0PIN0001", "trace.txt", b"stack trace\n")
    slack.fake.messages[(incident.channel, "1700000003.000300")] = {
        "ts": "1700000003.000300", "user": "U_CAROL", "text": "the trace", "files": [{"id": "F0PIN0001"}]}
    event = {"type": "reaction_added", "user": "U_BOB", "reaction": "pushpin",
             "item": {"type": "message", "channel": incident.channel, "ts": "1700000003.000300"}}
    assert slack.event(event, "EvP1").status_code == 200
    wait_until(lambda: bundles(slack))
    assert bundles(slack)[0].items[0].name == "file-F0PIN0001-trace.txt"
    assert any("the trace" in e.text for e in slack.opsbot.store.timeline(1))


def test_a_file_download_redirected_off_slack_is_refused_before_anything_is_sent_there(slack):
    from tests.fakes.slack_api import FakeSlack

    elsewhere = FakeSlack().start()  # a server on another port of the same host: not Slack
    try:
        incident = open_incident(slack)
        slack.fake.share_file("F0MOVED01", "dump.txt", b"x")
        elsewhere.share_file("F0MOVED01", "dump.txt", b"stolen?")
        slack.fake.redirects["F0MOVED01"] = f"{elsewhere.base_url}/files-pri/T0001-F0MOVED01/dump.txt"
        slack.command("evidence add F0MOVED01", channel=incident.channel)
        wait_until(lambda: len(slack.fake.responses) >= 2)
        assert "redirected to 127.0.0.1" in str(slack.fake.responses[-1]) and "which is not Slack" in \
            str(slack.fake.responses[-1])
        assert elsewhere.calls_to("download") == []  # the token never went there
        [item] = [item for bundle in bundles(slack) for item in bundle.items]  # the attempt is on record, failed
        assert not item.ok and item.size == 0 and "which is not Slack" in (item.error or "")
    finally:
        elsewhere.stop()


def test_a_download_longer_than_slack_said_is_stopped(slack):
    incident = open_incident(slack)
    slack.fake.share_file("F0LONGER1", "log.txt", b"0123456789" * 300_000, size=1000)  # 3 MB behind a 1 KB claim
    slack.command("evidence add F0LONGER1", channel=incident.channel)
    wait_until(lambda: len(slack.fake.responses) >= 2)
    assert "larger than the 1,000 bytes Slack said the file holds" in str(slack.fake.responses[-1])
    [item] = [item for bundle in bundles(slack) for item in bundle.items]
    assert not item.ok and item.size == 0 and "it was stopped" in (item.error or "")
