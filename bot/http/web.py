"""GET /ui/…: the signed-in, read-only web view. This module only signs people in and out and hands each page's
request to `render` (bot/webui.py, given by the composition root) with who is asking.

- `/ui/login/<token>` (a one-time link, bot/core/web_auth.py) shows whose it is and a Sign in button; only that
  button's POST, from this page, spends it and sets the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS,
  for OPSBOT_WEB_SESSION. So a link preview, a link scanner or a HEAD request never uses the link up, and another
  site cannot sign a person in as someone else (a login CSRF): its POST is refused, and a link sent to them says
  whose it is before anything happens. A POST to `/ui/logout` from opsbot's own pages ends the
  session; one another site sends is refused (Sec-Fetch-Site, else Origin), and a GET shows the button.
- Behind an SSO proxy, the header OPSBOT_WEB_USER_HEADER names the Slack user ID, trusted only from the addresses in
  OPSBOT_WEB_TRUSTED_PROXIES (the connection's own peer, scope[PEER], not the client a proxy forwarded); from anywhere
  else it is ignored. A value that is not a Slack user ID (an e-mail, a login name) is refused with what it carried.
- Without a session, every page redirects to /ui/sign-in, which says how to sign in and shows no data.
- Nothing here changes anything but sessions: only GET and HEAD are answered, and the sign-in's and sign-out's
  POSTs. Every answer carries a
  Content-Security-Policy without scripts, and is not cached (the pages are one person's)."""
from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from bot.errors import OpsbotError

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")  # scripts: only this origin's files, never inline
# same-origin: nothing goes to other sites, and the Sign in/out forms' POSTs carry the real Origin (with no-referrer
# a browser sends `Origin: null`, which same_origin() must refuse).
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store"}
COOKIE = "opsbot_session"
PEER = "opsbot.peer"  # the TCP peer's address, kept by bot/http/server.py before proxy headers replace the client
# A Slack user ID, as bot/core/web_auth.py's USER_ID (bot/http may not import the core): what the SSO header carries.
SLACK_USER = re.compile(r"^[UW][A-Z0-9_]{2,30}$")
OPEN = {"/ui/sign-in", "/ui/style.css", "/ui/local-time.js"}  # answered without a session (and /ui/login/<token>)
INTERNAL = {"refused", "holder"}  # what only opsbot puts in the sign-in page's query: never taken from a request


@dataclass
class WebAccess:
    """How people are recognised (all from bot/core/web_auth.py, but for the proxy settings)."""

    link_holder: Callable[[str], str]  # link token -> its user, not spent; raises OpsbotError if not valid
    sign_in: Callable[[str], tuple[str, str]]  # link token -> (cookie value, user); raises OpsbotError if refused
    user_of: Callable[[str | None], str | None]  # cookie value -> user, or None
    sign_out: Callable[[str | None], None]
    session_s: int = 12 * 3600
    user_header: str | None = None
    trusted_proxies: Collection[str] = ()


Render = Callable[[str | None, str, dict[str, str]], tuple[int, str, bytes]]  # (user, path, query) -> answer


class WebSite:
    def __init__(self, access: WebAccess, render: Render):
        self.access, self.render = access, render
        self._proxies = [ip_network(p, strict=False) for p in access.trusted_proxies]

    def _from_proxy(self, request: Request) -> bool:
        # The peer that connected: uvicorn's proxy headers rewrite request.client to the address a proxy forwarded,
        # which would make a sidecar proxy on 127.0.0.1 look like the browser behind it.
        host = request.scope.get(PEER) or (request.client.host if request.client else "")
        try:
            return any(ip_address(host) in network for network in self._proxies)
        except ValueError:
            return False

    async def _user(self, request: Request) -> str | None:
        """The signed-in user, or None. Raises ProxiedValue when a trusted proxy's header holds no Slack user ID."""
        header = self.access.user_header
        if header and self._from_proxy(request) and request.headers.get(header):
            claimed = request.headers[header].strip()
            if not SLACK_USER.fullmatch(claimed):
                raise ProxiedValue(f"The sign-in proxy's header {header} carries '{claimed[:60]}', not a Slack user ID "
                                   "(like U012AB3CD): have the proxy send the Slack user ID, or sign in with a link.")
            return claimed
        cookie = request.cookies.get(COOKIE)
        return await asyncio.to_thread(self.access.user_of, cookie) if cookie else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._answer(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "POST" and path == "/ui/logout":
            return await self._logout(request)
        if request.method == "POST" and path.startswith("/ui/login/"):
            return await self._login(request, path.removeprefix("/ui/login/"))
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("The web view is read-only.", status_code=405, headers={"Allow": "GET, HEAD"})
        if path == "/ui":
            return RedirectResponse("/ui/", status_code=308)
        if path.startswith("/ui/login/"):
            return await self._confirm(path.removeprefix("/ui/login/"))
        try:
            user = None if path in OPEN else await self._user(request)
        except ProxiedValue as refused:
            return await self._sign_in_page(403, str(refused))
        if user is None and path not in OPEN:
            return RedirectResponse("/ui/sign-in", status_code=303)
        # `refused` carries opsbot's own reasons to the sign-in page; from a link, it would put anyone's words there.
        query = {key: value for key, value in request.query_params.items() if key not in INTERNAL}
        status, media_type, body = await asyncio.to_thread(self.render, user, path, query)
        return Response(body, status_code=status, media_type=media_type)

    async def _logout(self, request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("Nobody was signed out: sign out with the button on opsbot's own pages.",
                                     status_code=403)
        await asyncio.to_thread(self.access.sign_out, request.cookies.get(COOKIE))
        response = RedirectResponse("/ui/sign-in?signed_out=1", status_code=303)
        response.delete_cookie(COOKIE, path="/ui", secure=request.url.scheme == "https", httponly=True,
                               samesite="lax")
        return response

    async def _sign_in_page(self, status: int, reason: str) -> Response:
        _, media_type, body = await asyncio.to_thread(self.render, None, "/ui/sign-in", {"refused": reason})
        return Response(body, status_code=status, media_type=media_type)

    async def _confirm(self, token: str) -> Response:
        """GET (or HEAD) of a sign-in link: whose it is and the Sign in button; nothing is spent."""
        try:
            holder = await asyncio.to_thread(self.access.link_holder, token)
        except OpsbotError as refused:
            return await self._sign_in_page(403, str(refused))
        _, media_type, body = await asyncio.to_thread(self.render, None, "/ui/sign-in", {"holder": holder})
        return Response(body, media_type=media_type)

    async def _login(self, request: Request, token: str) -> Response:
        """The Sign in button's POST: the link is spent and the session begins."""
        if not same_origin(request):
            return await self._sign_in_page(403, "Nobody was signed in: open your sign-in link and press Sign in.")
        try:
            cookie, _ = await asyncio.to_thread(self.access.sign_in, token)
        except OpsbotError as refused:
            return await self._sign_in_page(403, str(refused))
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=self.access.session_s, path="/ui", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response


class ProxiedValue(Exception):
    """A trusted proxy's user header that is not a Slack user ID: refused, with what it carried."""


def same_origin(request: Request) -> bool:
    """Whether a browser sent this from one of opsbot's own pages: its Sec-Fetch-Site (every current browser sends
    it), else its Origin against the address asked for. A client that sends neither is no browser another site
    could drive (curl, a script), and is let through."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")  # "none": typed or bookmarked by the person themselves
    origin = request.headers.get("origin")
    # By host only: behind a TLS-terminating proxy that is not trusted for X-Forwarded-Proto, opsbot sees http
    # where the browser says https; another site is another host either way.
    return origin is None or urlsplit(origin).netloc == request.url.netloc

