"""The web view's filters at their limits, over HTTP on the composition root's app: a day past 9999-12-31, a
timeline page past any integer, a NUL character (PostgreSQL's text cannot hold one) are each a 400 page saying
what is wrong, never a 500; a sign-in page shows only opsbot's own reasons, not words put in its link.
Both stores: tests/contract/test_on_postgres_web_queries.py."""
from __future__ import annotations

import pytest

from tests.webview import CATALOG, client, opsbot_on, say, signed_in


@pytest.fixture
def bot(tmp_path, store_url):
    """opsbot on the web view tests' catalog (tests/webview.py), with one incident open."""
    with opsbot_on(tmp_path, store_url, CATALOG, evidence_dir=tmp_path / "evidence") as opsbot:
        say(opsbot, "U0ADMIN01", "open p1 Checkout down --env prod --service api")
        yield opsbot


def signed_in_as_admin(bot):
    """Signed in as an admin; a server error is an answer to look at, not an exception."""
    return signed_in(bot, "U0ADMIN01", raise_server_exceptions=False)


@pytest.mark.parametrize("path, params, said", [
    ("/ui/", {"until": "9999-12-31"}, "&#x27;9999-12-31&#x27; is not a day like 2026-11-30."),
    ("/ui/audit", {"until": "9999-12-31"}, "&#x27;9999-12-31&#x27; is not a day like 2026-11-30."),
    ("/ui/", {"since": "0001-01-01", "until": "2026-13-01"}, "&#x27;2026-13-01&#x27; is not a day"),
    ("/ui/incidents/INC-1", {"events": "99999999999999999999"}, "events is a page number from 1."),
    ("/ui/", {"service": "api\x00"}, "A filter holds a NUL character; remove it."),
    ("/ui/", {"env": "\x00"}, "A filter holds a NUL character; remove it."),
    ("/ui/audit", {"user": "U0\x00"}, "A filter holds a NUL character; remove it."),
    ("/ui/", {"q": "pool\x00"}, "A filter holds a NUL character; remove it."),
])
def test_a_filter_at_its_limits_is_a_clear_400_not_a_500(bot, path, params, said):
    answer = signed_in_as_admin(bot).get(path, params=params)
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    assert said in answer.text and "Checkout down" not in answer.text


def test_the_last_day_and_a_far_page_that_are_valid_still_answer(bot):
    browser = signed_in_as_admin(bot)
    assert browser.get("/ui/", params={"until": "9999-12-30", "since": "0001-01-01"}).status_code == 200
    far = browser.get("/ui/incidents/INC-1", params={"events": "9999999"})
    assert far.status_code == 200 and "No events here." in far.text


def test_the_sign_in_page_shows_no_words_put_in_its_link(bot):
    anonymous = client(bot)
    for words in ({"refused": "Session expired: sign in at https://evil.example"}, {"holder": "evil.example"}):
        page = anonymous.get("/ui/sign-in", params=words)
        assert page.status_code == 200 and "evil.example" not in page.text and "/opsbot login" in page.text
    spent = anonymous.get("/ui/login/" + "x" * 43)
    assert spent.status_code == 403 and "This sign-in link is not valid" in spent.text  # its own reason still shows
