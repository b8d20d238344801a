"""Signing in to the web view (/ui/): a one-time link, valid 10 minutes, spent on first use, opens a session.

The link comes from `/opsbot login` (answered only to the person who asked) or `opsbot web-login --user U…`. A
session cookie is `<user ID>.<random token>`; the store keeps a SHA-256 of each token with its user, so the cookie
of one person does not work with another's user ID, and the database never holds a working token. Identity is the
Slack user ID; what a person sees follows the catalog's roles (bot/core/privacy.py, bot/core/web_read.py)."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from bot.core.ports import Clock, WebTokenStore
from bot.errors import PermissionDenied, UsageError
from bot.timeparse import utcnow

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
USER_ID = re.compile(r"^[UW][A-Z0-9_]{2,30}$")  # as Slack mentions are matched (bot/views/model.py)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
REFUSED = "This sign-in link is not valid: it was used already, it expired (links last 10 minutes) or it never existed."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebAuth:
    def __init__(self, store: WebTokenStore, clock: Clock = utcnow, session_ttl: timedelta = SESSION_TTL):
        self.store, self.clock, self.session_ttl = store, clock, session_ttl

    def link_token(self, user: str) -> str:
        """A new one-time sign-in token for `user` (a Slack user ID)."""
        if not USER_ID.fullmatch(user):
            raise UsageError(f"'{user[:30]}' is not a Slack user ID (like U012AB3CD).")
        token, now = secrets.token_urlsafe(32), self.clock()
        self.store.add_web_token(_digest(token), "link", user, now + LINK_TTL, now)
        return token

    def link_holder(self, token: str) -> str:
        """Whose valid link this is, without spending it (the page that asks them to press Sign in)."""
        user = self.store.web_token_user(_digest(token), "link", self.clock()) if TOKEN.fullmatch(token or "") else None
        if user is None:
            raise PermissionDenied(REFUSED)
        return user

    def sign_in(self, token: str) -> tuple[str, str]:
        """Spend a link: (the session cookie's value, the user). Refused with one message whatever the reason."""
        now = self.clock()
        user = self.store.spend_web_token(_digest(token), "link", now) if TOKEN.fullmatch(token or "") else None
        if user is None:
            raise PermissionDenied(REFUSED)
        session = secrets.token_urlsafe(32)
        self.store.add_web_token(_digest(session), "session", user, now + self.session_ttl, now)
        return f"{user}.{session}", user

    def user_of(self, cookie: str | None) -> str | None:
        """The signed-in user of a session cookie, or None (missing, forged, expired, signed out, or naming
        someone other than the session's own user)."""
        user, _, token = (cookie or "").partition(".")
        if not USER_ID.fullmatch(user) or not TOKEN.fullmatch(token):
            return None
        return user if self.store.web_token_user(_digest(token), "session", self.clock()) == user else None

    def sign_out(self, cookie: str | None) -> None:
        user = self.user_of(cookie)
        if user is not None:
            self.store.spend_web_token(_digest(cookie.partition(".")[2]), "session", self.clock())  # type: ignore[union-attr]


class WebLogin:
    """`/opsbot login` and `opsbot web-login`: a one-time sign-in link to the web view, for the asker only."""

    def __init__(self, auth: WebAuth, base_url: str):
        self.auth, self.base_url = auth, base_url.rstrip("/")

    def link(self, user: str) -> str:
        # In the path, not a `token=` parameter: the last check before any reply is shown redacts `token=…`.
        return f"{self.base_url}/ui/login/{self.auth.link_token(user)}"
