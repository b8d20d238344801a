"""Starlette's routing as opsbot answers: a path serves only its own methods, and whatever is not served is the
same plain 404 — another method is not told apart from an unknown path (no 405 naming what exists)."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope


class Exact(Route):
    """A route for its methods only: a request with another method matches nothing (404), not this route (405)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.NONE, {}) if match is Match.PARTIAL else (match, child_scope)


async def not_found(request: Request, exc: Any) -> Response:
    return PlainTextResponse("not found", status_code=404)
