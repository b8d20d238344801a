"""The status page as static files: `opsbot status-page build --out DIR` writes exactly what `opsbot serve` answers
under /status/ (same bytes, relative links, index.html per page, JSON under api/v2/, feeds), refuses a folder it
did not write, and the scheduler leader publishes `status_page.publish.dir` on each change as a whole new version
swapped in by renaming a link, so a reader never sees half a page, nor one file of one version beside another's."""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path

from starlette.testclient import TestClient

from bot.app import build, scheduler_for, served
from bot.config import Settings
from bot.nochat import LoggedNotifier
from bot.static_site import copies_of, swap_site, write_site
from bot.views.status_site import HTML, File
from commands.base import Context
from tests.e2e.test_console import opsbot
from tests.webview import NO_SLACK

RESPONDER = Context(user="U_RESP", source="console")
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


def read_version(out: Path) -> dict[str, str] | None:
    """What a sync sees: the link resolved once, then index.html, summary.json and each incident page index.html
    links to, all read from that one version. None when the version was retired while being read."""
    version = Path(os.path.realpath(out))
    try:
        pages = {"index.html": (version / "index.html").read_text(),
                 "summary.json": (version / "api/v2/summary.json").read_text()}
        for link in sorted(set(re.findall(r'href="(incidents/[^"/]+/)"', pages["index.html"]))):
            pages[link] = (version / link / "index.html").read_text()
    except FileNotFoundError:
        if version.exists():
            raise  # a file missing from a version still in place: a torn page
        return None
    return pages


def disagreements(pages: dict[str, str]) -> list[str]:
    """How one version's files contradict each other (nothing, when it was written whole)."""
    summary = json.loads(pages["summary.json"])
    index = pages["index.html"]
    found = []
    if summary["status"]["description"] not in index:
        found.append(f"index.html does not say {summary['status']['description']!r}")
    for incident in summary["incidents"]:
        page = pages.get(f"incidents/{incident['id']}/")
        if page is None:
            found.append(f"index.html does not link incident {incident['id']}")
        elif incident["incident_updates"][0]["body"] not in page:
            found.append(f"incident {incident['id']}'s page lacks {incident['incident_updates'][0]['body']!r}")
        if incident["incident_updates"][0]["body"] not in index:
            found.append(f"index.html lacks {incident['incident_updates'][0]['body']!r}")
    return found


def test_the_leader_swaps_in_each_whole_version_of_the_published_folder_and_a_reader_never_sees_two_at_once(
        sqlite_url, tmp_path):
    out = tmp_path / "public"
    _, bot = make(tmp_path, sqlite_url, publish=out)
    runner = scheduler_for(bot, LoggedNotifier())
    runner.tick()  # takes the lead and publishes the empty page
    assert out.is_symlink() and "All Systems Operational" in (out / "index.html").read_text()
    style = os.stat(out / "style.css")
    problems: list[str] = []
    versions_read = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal versions_read
        while not stop.is_set():
            pages = read_version(out)
            if pages is not None:
                versions_read += 1
                problems.extend(disagreements(pages))

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
    assert problems == [] and versions_read > 30
    public = bot.store.public_incident_for(1)
    assert "still looking 29" in (out / f"incidents/{public.id}/index.html").read_text()
    assert "Partial System Outage" in (out / "index.html").read_text()
    # An unchanged file is the previous version's own (a sync that compares times skips it); two versions are kept.
    assert os.stat(out / "style.css").st_ino == style.st_ino and os.stat(out / "style.css").st_mtime == style.st_mtime
    assert len([v for v in copies_of(out).iterdir() if v.name.startswith("v-")]) == 2
    # What is published is what is served.
    client = TestClient(served(bot, NO_SLACK, "off").app)
    version = Path(os.path.realpath(out))
    published = sorted(p.relative_to(version).as_posix() for p in version.rglob("*")
                       if p.is_file() and p.name != ".opsbot-status-page")
    assert {"index.html", "history/index.html", "history.atom", "api/v2/summary.json"} <= set(published)
    for name in published:
        assert client.get(served_path(name)).content == (out / name).read_bytes(), name
    bot.close()


def test_a_published_folder_from_a_plain_copy_becomes_a_link_and_a_foreign_link_is_refused(tmp_path):
    page = {"": File(b"<html>one</html>", HTML), "api/v2/status.json": File(b"{}", "application/json")}
    out = tmp_path / "public"
    write_site(page, out)  # a copy written in place (a build, or an earlier opsbot)
    assert swap_site({**page, "": File(b"<html>two</html>", HTML)}, out) == ["index.html"]
    assert out.is_symlink() and (out / "index.html").read_text() == "<html>two</html>"
    assert swap_site({**page, "": File(b"<html>two</html>", HTML)}, out) == []  # nothing new: no new version
    assert swap_site({"": File(b"<html>two</html>", HTML)}, out) == ["api/v2/status.json"]  # a file gone is a change
    assert not (out / "api/v2/status.json").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    foreign = tmp_path / "foreign"
    foreign.symlink_to(elsewhere)
    try:
        swap_site(page, foreign)
    except FileExistsError as refused:
        assert "is a link opsbot did not make" in str(refused)
    else:
        raise AssertionError("a link opsbot did not make was replaced")
    assert os.path.realpath(foreign) == str(elsewhere.resolve()) and not any(elsewhere.iterdir())


def test_a_mount_point_is_refused_with_what_to_name_instead(tmp_path, monkeypatch):
    out = tmp_path / "volume"
    out.mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == out)
    try:
        swap_site({"": File(b"<html></html>", HTML)}, out)
    except FileExistsError as refused:
        assert "is a mount point" in str(refused) and f"{out / 'site'}" in str(refused)
    else:
        raise AssertionError("a mount point was written")
    assert out.is_dir() and not out.is_symlink() and not any(out.iterdir())
    assert swap_site({"": File(b"<html></html>", HTML)}, out / "site") == ["index.html"]  # a folder inside works


def test_a_folder_the_leader_cannot_publish_to_is_logged_once_until_it_is_mended(sqlite_url, tmp_path, caplog):
    out = tmp_path / "public"
    out.mkdir()
    (out / "notes.txt").write_text("not opsbot's")
    caplog.set_level(logging.INFO, logger="opsbot.scheduler")
    _, bot = make(tmp_path, sqlite_url, publish=out)
    runner = scheduler_for(bot, LoggedNotifier())
    try:
        for _ in range(3):
            runner.tick()
        assert [r.message for r in caplog.records].count("could not rewrite the status page's static copy") == 1
        (out / "notes.txt").unlink()
        runner.tick()
        assert "the status page's static copy is written again" in [r.message for r in caplog.records]
        assert out.is_symlink() and "All Systems Operational" in (out / "index.html").read_text()
    finally:
        runner.stop()
        bot.close()
