"""GET /ui/…: the signed-in, read-only web view. This module only signs people in and out and hands each page's
request to `render` (bot/webui.py, given by the composition root) with who is asking.

- `/ui/login/<token>` spends a one-time link (bot/core/web_auth.py) and sets the session cookie: HttpOnly,
  SameSite=Lax, Secure over HTTPS, for OPSBOT_WEB_SESSION. `/ui/logout` ends the session.
- Behind an SSO proxy, the header OPSBOT_WEB_USER_HEADER names the Slack user ID, trusted only from the addresses in
  OPSBOT_WEB_TRUSTED_PROXIES; from anywhere else it is ignored.
- Without a session, every page redirects to /ui/sign-in, which says how to sign in and shows no data.
- Nothing here changes anything but sessions: only GET and HEAD are answered. Every answer carries a
  Content-Security-Policy without scripts, and is not cached (the pages are one person's)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from bot.errors import OpsbotError

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")  # scripts: only this origin's files, never inline
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}
COOKIE = "opsbot_session"
OPEN = {"/ui/sign-in", "/ui/logout", "/ui/style.css", "/ui/local-time.js"}  # answered without a session (and /ui/login/<token>)


@dataclass
class WebAccess:
    """How people are recognised (all from bot/core/web_auth.py, but for the proxy settings)."""

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
        host = request.client.host if request.client else ""
        try:
            return any(ip_address(host) in network for network in self._proxies)
        except ValueError:
            return False

    async def _user(self, request: Request) -> str | None:
        header = self.access.user_header
        if header and self._from_proxy(request) and request.headers.get(header):
            return request.headers[header].strip()
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
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("The web view is read-only.", status_code=405, headers={"Allow": "GET, HEAD"})
        if path == "/ui":
            return RedirectResponse("/ui/", status_code=308)
        if path.startswith("/ui/login/"):
            return await self._login(request, path.removeprefix("/ui/login/"))
        if path == "/ui/logout":
            await asyncio.to_thread(self.access.sign_out, request.cookies.get(COOKIE))
            response = RedirectResponse("/ui/sign-in?signed_out=1", status_code=303)
            response.delete_cookie(COOKIE, path="/ui", secure=request.url.scheme == "https", httponly=True,
                                   samesite="lax")
            return response
        user = None if path in OPEN else await self._user(request)
        if user is None and path not in OPEN:
            return RedirectResponse("/ui/sign-in", status_code=303)
        query = {key: value for key, value in request.query_params.items()}
        status, media_type, body = await asyncio.to_thread(self.render, user, path, query)
        return Response(body, status_code=status, media_type=media_type)

    async def _login(self, request: Request, token: str) -> Response:
        try:
            cookie, _ = await asyncio.to_thread(self.access.sign_in, token)
        except OpsbotError as refused:
            _, media_type, body = await asyncio.to_thread(self.render, None, "/ui/sign-in",
                                                               {"refused": str(refused)})
            return Response(body, status_code=403, media_type=media_type)
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=self.access.session_s, path="/ui", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response
