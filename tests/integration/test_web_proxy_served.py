"""`opsbot serve`'s uvicorn settings (bot/http/server.py) on a loopback port, with an SSO proxy in front as a sidecar
does it: the proxy connects from 127.0.0.1 and forwards the browser's address and https. Its user header signs the
person in (trusted by the proxy's own address, which uvicorn's rewrite of the client would hide), and a sign-in link
opened through it sets a Secure cookie."""
from __future__ import annotations

import httpx

from tests.browser.served import serving
from tests.webview import link_path, say, web_view_bot  # noqa: F401  (the fixture `bot`)


def test_a_sidecar_proxys_user_header_and_https_are_honoured_by_the_served_app(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    bot.settings.web_user_header, bot.settings.web_trusted_proxies = "X-Slack-User", "127.0.0.1"
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with serving(bot, trusted=["127.0.0.1"]) as base:
        page = httpx.get(f"{base}/ui/", headers={**forwarded, "X-Slack-User": "U0RESP01"})
        assert page.status_code == 200 and "Checkout down" in page.text
        nobody = httpx.get(f"{base}/ui/", headers=forwarded)
        assert nobody.status_code == 303 and nobody.headers["location"] == "/ui/sign-in"
        link = link_path(bot, "U0RESP01")
        assert httpx.get(f"{base}{link}", headers=forwarded).status_code == 200  # the Sign in button
        signed = httpx.post(f"{base}{link}", headers=forwarded)
        cookie = signed.headers["set-cookie"]
        assert signed.status_code == 303 and "opsbot_session=U0RESP01." in cookie and "Secure" in cookie
        # The status page goes first, past the proxy headers: public, and the same for everyone.
        status = httpx.get(f"{base}/status/", headers=forwarded)
        assert status.status_code == 200 and "default-src 'none'" in status.headers["content-security-policy"]
        assert httpx.get(f"{base}/status/nowhere", headers=forwarded).status_code == 404
