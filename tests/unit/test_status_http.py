"""GET /status/… of `opsbot serve` (the composition root's own app, Slack off): the page as HTML with hostile text
shown as text and a Content-Security-Policy, the incident pages, the Statuspage v2 JSON validated against its schema
(tests/statuspage_v2.schema.json), and a change made by another process served within 5 s."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from starlette.testclient import TestClient

from bot.app import build, served
from bot.config import Settings
from bot.http.server import as_served
from commands.base import Context
from tests.poll import wait_until
from tests.webview import NO_SLACK

SCHEMA = json.loads((Path(__file__).parents[1] / "statuspage_v2.schema.json").read_text())
RESPONDER = Context(user="U_RESP", source="console")
CATALOG = """
environments:
  prod: {services: {api: {}, web: {}}}
roles: {prod: {responder: [U_RESP]}}
status_page:
  title: Example Status
  url: https://status.example.com
  time_zone: Europe/Paris
  components:
    - {name: API, group: Platform, services: [prod/api]}
    - {name: Website, group: Platform, services: [prod/web]}
    - {name: Docs, description: "<b>guides</b>"}
"""
HOSTILE_TITLE = "<script>alert(1)</script> API down"
HOSTILE_UPDATE = '<img src=x onerror=alert(1)> see [here](javascript:alert(1)) <a href="javascript:alert(2)">x</a>'
API = ["summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
       "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json", "scheduled-maintenances/active.json"]


@pytest.fixture
def bots(tmp_path, store_url):
    (tmp_path / "opsbot.yml").write_text(CATALOG)
    settings = Settings(database_url=store_url, config=tmp_path / "opsbot.yml")
    one, other = build(settings=settings), build(settings=settings)
    parts = served(one, NO_SLACK, "off")
    yield one, TestClient(as_served(parts.app, status=parts.status)), other  # as `opsbot serve` serves it
    one.close()
    other.close()


def say(bot, command: str, text: str) -> None:
    reply = bot.router.handle(command, text, RESPONDER)
    assert reply.ok, reply.text


def test_the_page_shows_hostile_text_as_text_and_allows_no_script(bots):
    bot, client, _ = bots
    say(bot, "/incident", "open p1 internal: pg pool leak in worker --env prod --service api")
    say(bot, "/incident", f"publish INC-1 {HOSTILE_TITLE} --text '{HOSTILE_UPDATE}'")
    page = client.get("/status/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "style-src 'self'" in csp
    html = page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; API down" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html and "<img" not in html
    assert not any("javascript:" in ref for ref in re.findall(r'href="([^"]*)"', html))
    assert "&lt;b&gt;guides&lt;/b&gt;" in html  # catalog text is escaped too
    # Nothing from another origin: every link and stylesheet is relative.
    assert all(not ref.startswith(("http", "//")) for ref in re.findall(r'(?:href|src)="([^"]*)"', html))
    assert "Partial System Outage" in html and "API" in html and "Platform" in html
    assert "pg pool leak" not in html and "INC-1" not in html and "U_RESP" not in html  # nothing internal
    assert client.get("/status/style.css").headers["content-type"].startswith("text/css")


def test_incident_pages_and_plain_404s(bots):
    bot, client, _ = bots
    say(bot, "/incident", "open p2 Slow --env prod --service web")
    say(bot, "/incident", "publish INC-1 Website slow")
    say(bot, "/incident", "update INC-1 A cache node is being replaced --public --state identified")
    public = bot.store.public_incident_for(1)
    page = client.get(f"/status/incidents/{public.id}")
    assert page.status_code == 200 and "A cache node is being replaced" in page.text and "Identified" in page.text
    assert page.headers["content-security-policy"]
    assert client.get("/status", follow_redirects=False).headers["location"] == "/status/"
    assert client.get("/status/incidents/nosuchincident").status_code == 404
    assert client.post("/status/").status_code == 404


def test_the_apps_own_routes_answer_as_the_served_status_page_does(bots):
    """`opsbot serve` answers /status first (bot/http/server.py); the app alone, as tests and embedders run it,
    answers the same through its routes."""
    bot, served_client, _ = bots
    say(bot, "/incident", "open p2 Slow --env prod --service web")
    say(bot, "/incident", "publish INC-1 Website slow")
    app_alone = TestClient(served(bot, NO_SLACK, "off").app)
    for path, method in [("/status/", "GET"), ("/status/api/v2/summary.json", "GET"), ("/status", "GET"),
                         ("/status/history", "GET"), ("/status/nowhere", "GET"), ("/status/", "POST"),
                         ("/status/", "HEAD")]:
        mine, theirs = (client.request(method, path, follow_redirects=False) for client in (served_client, app_alone))
        assert (mine.status_code, mine.headers.get("location"), mine.content) == (
            theirs.status_code, theirs.headers.get("location"), theirs.content), (method, path)
        assert mine.status_code != 500
    assert b"Website slow" in served_client.get("/status/").content


def test_the_json_has_statuspage_v2_shapes_and_values(bots):
    bot, client, other = bots
    say(bot, "/incident", "open p0 Everything down --env prod --service api")
    say(bot, "/incident", "publish INC-1 API unavailable --components API,Website")
    say(bot, "/status", "component Docs under_maintenance reindexing")
    documents = {path: client.get(f"/status/api/v2/{path}") for path in API}
    for path, answer in documents.items():
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"
        shape = path.split("/")[0] + ".json" if "/" in path else path
        shape = "scheduled-maintenances.json" if shape.startswith("scheduled") else shape
        shape = "incidents.json" if shape.startswith("incidents") else shape
        jsonschema.validate(answer.json(), {**SCHEMA, "$ref": f"#/$defs/{shape}"})
    summary = documents["summary.json"].json()
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert summary["page"]["name"] == "Example Status" and summary["page"]["url"] == "https://status.example.com"
    statuses = {c["name"]: c["status"] for c in summary["components"]}
    assert statuses == {"API": "major_outage", "Website": "major_outage", "Docs": "under_maintenance",
                        "Platform": "major_outage"}
    group = next(c for c in summary["components"] if c["group"])
    assert sorted(group["components"]) == sorted(c["id"] for c in summary["components"] if c["group_id"] == group["id"])
    [incident] = summary["incidents"]
    assert (incident["name"], incident["impact"], incident["status"]) == ("API unavailable", "critical", "investigating")
    assert incident["created_at"].endswith("+01:00") or incident["created_at"].endswith("+02:00")  # Europe/Paris
    assert incident["shortlink"] == f"https://status.example.com/incidents/{incident['id']}"
    assert [a["new_status"] for a in incident["incident_updates"][0]["affected_components"]] == ["major_outage"] * 2
    # Stable ids: another process renders the same ones.
    again = TestClient(served(other, NO_SLACK, "off").app)
    assert again.get("/status/api/v2/summary.json").json()["components"] == summary["components"]


def test_a_change_by_another_process_is_served_within_five_seconds(bots):
    _, client, other = bots
    assert client.get("/status/api/v2/incidents/unresolved.json").json()["incidents"] == []  # rendered and kept
    say(other, "/incident", "open p1 Errors --env prod --service api")
    say(other, "/incident", "publish INC-1 Elevated errors")
    start = time.monotonic()
    wait_until(lambda: client.get("/status/api/v2/incidents/unresolved.json").json()["incidents"], timeout=5,
               what="the other process's publication on this one's page")
    assert time.monotonic() - start < 5
    assert "Elevated errors" in client.get("/status/").text


def test_the_feeds_have_one_entry_per_public_update_with_stable_ids(bots):
    """Atom and RSS, as a feed reader parses them (feedparser): each public update once, newest first, its text as
    text, the same ids on another replica; an internal note never appears."""
    import feedparser

    bot, client, other = bots
    say(bot, "/incident", "open p1 internal: pg pool leak --env prod --service api")
    say(bot, "/incident", f"publish INC-1 {HOSTILE_TITLE} --text 'We are looking into errors.'")
    say(bot, "/incident", "note INC-1 the pool is 100/100 on db-2")
    say(bot, "/incident", "update INC-1 A fix is rolling out --public --state identified")
    say(bot, "/incident", "resolve INC-1 pool raised --public-text 'Errors have stopped.'")
    public = bot.store.public_incident_for(1)
    feeds = {}
    for kind, media in (("atom", "application/atom+xml"), ("rss", "application/rss+xml")):
        answer = client.get(f"/status/history.{kind}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media)
        feeds[kind] = parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.feed.title == "Example Status — history"
        assert [e.title for e in parsed.entries] == [f"{HOSTILE_TITLE} — {state}"
                                                     for state in ("Resolved", "Identified", "Investigating")]
        assert parsed.entries[0].link == f"https://status.example.com/incidents/{public.id}"
        assert "pool is 100/100" not in answer.text and "pg pool leak" not in answer.text
    atom_ids = [e.id for e in feeds["atom"].entries]
    assert atom_ids == [e.id for e in feeds["rss"].entries] and len(set(atom_ids)) == 3
    assert feeds["atom"].entries[2].summary == "We are looking into errors."
    again = TestClient(served(other, NO_SLACK, "off").app)
    assert [e.id for e in feedparser.parse(again.get("/status/history.atom").content).entries] == atom_ids


def test_history_by_month_uptime_bars_and_pages_under_their_slash(bots):
    bot, client, _ = bots
    say(bot, "/incident", "open p1 Errors --env prod --service api")
    say(bot, "/incident", "publish INC-1 Elevated errors --components API --impact critical")
    say(bot, "/incident", "resolve INC-1 fixed --public-text 'All good.'")
    public = bot.store.public_incident_for(1)
    month = public.created_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    history = client.get("/status/history/")
    assert history.status_code == 200 and f"<h2>{month}</h2>" in history.text and "Elevated errors" in history.text
    assert f'href="../incidents/{public.id}/"' in history.text and 'href="../style.css"' in history.text
    moved = client.get("/status/history", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/status/history/"
    moved = client.get(f"/status/incidents/{public.id}", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == f"/status/incidents/{public.id}/"
    page = client.get("/status/").text
    bars = re.search(r'<div class="bars" role="img" aria-label="API: ([0-9.]+)% uptime over 90 days">(.*?)</div>', page)
    assert bars is not None and 99.99 <= float(bars.group(1)) <= 100  # an outage of milliseconds, today
    assert bars.group(2).count("<span") == 90 and bars.group(2).endswith(
        f'title="{public.created_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()}: Major Outage"></span>')
    assert '<div class="bars" role="img" aria-label="Docs: 100.00% uptime over 90 days">' in page


def test_the_page_is_rendered_on_change_not_per_request(bots):
    """A hundred requests cost one rendering; a change costs one more (read at most once a second)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bot.http.status import StatusSite
    from bot.views.status_site import render_site

    bot, _, _ = bots
    renders = []

    def render():
        renders.append(1)
        return render_site(bot.services.status.view())

    site = StatusSite(bot.services.status.version, render, check_every_s=0.0)
    client = TestClient(Starlette(routes=[Mount("/status", app=site)]))
    for _ in range(100):
        answer = client.get("/status/api/v2/summary.json")
        assert answer.status_code == 200 and answer.headers["server-timing"].startswith("app;dur=")
    assert len(renders) == 1
    say(bot, "/incident", "open p1 Errors --env prod --service api")
    say(bot, "/incident", "publish INC-1 Elevated errors")
    for _ in range(100):
        client.get("/status/")
    assert len(renders) == 2 and "Elevated errors" in client.get("/status/").text


def test_when_the_store_cannot_be_read_the_last_page_is_served_and_never_a_500(bots, caplog):
    """The outage a status page reports may be its own store's: the page last rendered is served meanwhile (the
    error logged once), a process that never rendered it answers 503, and the page catches up when the store does."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bot.http.status import StatusSite
    from bot.views.status_site import render_site

    bot, _, _ = bots
    down = {"now": False}

    def version():
        if down["now"]:
            raise ConnectionError("could not connect to server")
        return bot.services.status.version()

    def site_client() -> TestClient:
        site = StatusSite(version, lambda: render_site(bot.services.status.view()), check_every_s=0.0)
        return TestClient(Starlette(routes=[Mount("/status", app=site)]))

    client, cold = site_client(), site_client()
    assert "All Systems Operational" in client.get("/status/").text
    down["now"] = True
    say(bot, "/incident", "open p1 Errors --env prod --service api")  # a change this page cannot read yet
    say(bot, "/incident", "publish INC-1 Elevated errors")
    for _ in range(3):
        page, summary = client.get("/status/"), client.get("/status/api/v2/summary.json")
        assert page.status_code == 200 and "All Systems Operational" in page.text
        assert summary.status_code == 200 and summary.json()["status"]["indicator"] == "none"
    assert [r.message for r in caplog.records].count(
        "status page: cannot read the store; serving the page last rendered") == 1
    never = cold.get("/status/")
    assert never.status_code == 503 and never.headers["retry-after"] == "5"
    assert never.headers["content-security-policy"].startswith("default-src 'none'")
    down["now"] = False
    assert "Elevated errors" in client.get("/status/").text
    assert cold.get("/status/api/v2/summary.json").json()["status"]["indicator"] == "major"
    head, get = client.head("/status/"), client.get("/status/")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(get.content))


def test_control_characters_never_reach_the_page_and_old_ones_never_stop_it(bots, caplog):
    """A stray ^K or ^A pasted into public text is dropped at the door; text kept before that (or put in the
    store by anything else) is dropped when the feeds are written (XML cannot hold it), so the page, its JSON and
    its feeds stay current instead of the last rendering being served on."""
    import feedparser

    from bot.core.ports import StatusWrite

    bot, client, _ = bots
    say(bot, "/incident", "open p1 Checkout down --env prod --service api")
    say(bot, "/incident", "publish INC-1 Elevated\x0b errors --components API")
    say(bot, "/incident", "update INC-1 fix \x01deployed\x0c --public --state monitoring")
    public = bot.store.public_incident_for(1)
    assert public.name == "Elevated errors" and public.updates[-1].body == "fix deployed"
    # Text with control characters already in the store (kept by an earlier version): the page still moves on.
    old = public.model_copy(update={"name": "Elevated\x0b errors\x00 (old)"})
    bot.store.write_status(bot.store.status_version(), StatusWrite(incident=old))
    assert wait_until(lambda: "(old)" in client.get("/status/api/v2/summary.json").text, timeout=5,
                      what="the page rendered with the old text")
    for kind in ("atom", "rss"):
        parsed = feedparser.parse(client.get(f"/status/history.{kind}").content)
        assert not parsed.bozo and parsed.entries[0].title == "Elevated errors (old) — Monitoring"
    assert "could not render" not in caplog.text


def test_a_rendering_that_fails_is_logged_as_such_and_the_last_page_is_served(caplog):
    """A bug in rendering is not a store outage: it is logged once for that version, the page last rendered goes
    on being served, and the next version renders again."""
    from bot.http.status import StatusSite

    state = {"version": 1, "fail": False, "renders": 0}

    class File:
        def __init__(self, body: bytes):
            self.body, self.media_type = body, "text/html"

    def render():
        state["renders"] += 1
        if state["fail"]:
            raise ValueError("All strings must be XML compatible")
        return {"": File(f"page {state['version']}".encode())}

    site = StatusSite(lambda: state["version"], render, check_every_s=0)
    web = TestClient(site)
    assert web.get("/status/").text == "page 1"
    state.update(version=2, fail=True)
    assert [web.get("/status/").text for _ in range(3)] == ["page 1"] * 3
    assert state["renders"] == 2  # version 2 was tried once, not on every request
    assert "could not render version 2" in caplog.text and "cannot read the store" not in caplog.text
    site._retry_at = 0.0  # RETRY_RENDER_S later: a store that blinked mid-rendering has healed
    state.update(fail=False)
    assert web.get("/status/").text == "page 2"
    state.update(version=3)
    assert web.get("/status/").text == "page 3"
