"""The status page as static files: `opsbot status-page build --out DIR` writes exactly what `opsbot serve` answers
under /status/ (same bytes, relative links, index.html per page, JSON under api/v2/, feeds), refuses a folder it
did not write, and the scheduler leader rewrites `status_page.publish.dir` on each change, a file at a time, so a
reader never sees half of one."""
from __future__ import annotations

import threading
from pathlib import Path

from starlette.testclient import TestClient

from bot.app import build, scheduler_for, served
from bot.config import Settings, SlackSettings
from bot.nochat import LoggedNotifier
from commands.base import Context
from tests.e2e.test_console import opsbot

RESPONDER = Context(user="U_RESP", source="console")
NO_SLACK = SlackSettings(slack_bot_token=None, slack_signing_secret=None, slack_app_token=None)
CATALOG = """
environments:
  prod: {services: {api: {}, web: {}}}
roles: {prod: {responder: [U_RESP]}}
status_page:
  title: Example Status
  url: https://status.example.com
  components:
    - {name: API, group: Platform, services: [prod/api]}
    - {name: Website, services: [prod/web]}
"""


def make(tmp_path: Path, url: str, publish: Path | None = None):
    config = tmp_path / "opsbot.yml"
    config.write_text(CATALOG + (f"  publish: {{dir: {publish}}}\n" if publish else ""))
    return config, build(settings=Settings(database_url=url, config=config))


def say(bot, text: str) -> None:
    reply = bot.router.handle("/incident", text, RESPONDER)
    assert reply.ok, reply.text


def served_path(name: str) -> str:
    return "/status/" + (name.removesuffix("index.html") if name.endswith("index.html") else name)


def test_the_build_is_byte_for_byte_what_is_served(sqlite_url, tmp_path):
    config, bot = make(tmp_path, sqlite_url)
    say(bot, "open p1 Errors --env prod --service api")
    say(bot, "publish INC-1 <b>API</b> errors --components API")
    say(bot, "open p2 Slow --env prod --service web")
    say(bot, "publish INC-2 Website slow --components Website")
    say(bot, "resolve INC-2 fixed --public-text 'Fast again.'")
    out = tmp_path / "site"
    done = opsbot(["status-page", "build", "--out", str(out)], sqlite_url, config=str(config))
    assert done.returncode == 0 and f"wrote the status page to {out}" in done.stdout, done.stderr
    built = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != ".opsbot-status-page")
    client = TestClient(served(bot, NO_SLACK, "off").app)
    ids = [bot.store.public_incident_for(n).id for n in (1, 2)]
    assert {"index.html", "history/index.html", "style.css", "history.atom", "history.rss", "api/v2/summary.json",
            "api/v2/incidents/unresolved.json", *(f"incidents/{i}/index.html" for i in ids)} <= set(built)
    for name in built:
        answer = client.get(served_path(name))
        assert answer.status_code == 200 and answer.content == (out / name).read_bytes(), name
    assert 'href="incidents/' in (out / "index.html").read_text()  # relative: the copy works wherever it is put
    again = opsbot(["status-page", "build", "--out", str(out)], sqlite_url, config=str(config))
    assert again.returncode == 0 and "(0 files changed)" in again.stdout
    bot.close()


def test_a_folder_opsbot_did_not_write_is_refused_and_left_alone(sqlite_url, tmp_path):
    config, bot = make(tmp_path, sqlite_url)
    bot.close()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = opsbot(["status-page", "build", "--out", str(mine)], sqlite_url, config=str(config))
    assert refused.returncode == 2 and "is not empty and was not written by opsbot" in refused.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_leader_rewrites_the_published_folder_on_each_change_and_a_reader_never_sees_half_a_file(
        sqlite_url, tmp_path):
    out = tmp_path / "public"
    _, bot = make(tmp_path, sqlite_url, publish=out)
    runner = scheduler_for(bot, LoggedNotifier())
    runner.tick()  # takes the lead and publishes the empty page
    assert "All Systems Operational" in (out / "index.html").read_text()
    torn: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for name in ("index.html", "api/v2/summary.json"):
                text = (out / name).read_text()
                if not text.rstrip().endswith(("</html>", "}")):
                    torn.append(text[-80:])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        say(bot, "open p1 Errors --env prod --service api")
        say(bot, "publish INC-1 Elevated errors --components API")
        for n in range(30):
            say(bot, f"update INC-1 still looking {n} --public")
            runner.tick()
    finally:
        stop.set()
        reader.join()
        runner.stop()
    assert torn == []
    public = bot.store.public_incident_for(1)
    assert "still looking 29" in (out / f"incidents/{public.id}/index.html").read_text()
    assert "Partial System Outage" in (out / "index.html").read_text()
    assert not list(out.rglob(".tmp-*"))  # nothing left half-written
    bot.close()
