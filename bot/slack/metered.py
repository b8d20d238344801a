"""The bot's Web API clients, counting every call and every failure by method (Slack's error code, or the
exception's type when Slack was not reached): the async one (Bolt, incident channels, Socket Mode) and the
synchronous one of what runs in threads (user groups, shared files, the audit witness, reminders). Retries after
a 429 are inside one call.

Every failure of a call — Slack's `ok: false`, an HTML error page from a proxy, a reset connection, a timeout —
reaches the caller as one error, SlackApiError whose response reads like Slack's (`error` is Slack's code, or
`http_<status>`, `connection_reset`, `timeout`, …), so every handler of a Slack failure handles them all."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.slack_response import SlackResponse

if TYPE_CHECKING:
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bot.metrics import Metrics


@contextmanager
def counted(metrics: Metrics, method: str) -> Iterator[None]:
    try:
        yield
    except SlackApiError as error:
        failure = as_slack_error(error, method)
        metrics.slack_call(method, failure_code(failure))
        raise failure from (None if failure is error else error)
    except (OSError, TimeoutError, aiohttp.ClientError) as error:
        failure = as_slack_error(error, method)
        metrics.slack_call(method, failure_code(failure))
        raise failure from error
    metrics.slack_call(method)


_SLACK_CODE = re.compile(r"[a-z0-9_.]{1,80}")


def failure_code(error: SlackApiError) -> str:
    data = getattr(error.response, "data", None)
    return str(data.get("error") or "not_ok") if isinstance(data, dict) else "not_ok"


def as_slack_error(error: Exception, method: str) -> SlackApiError:
    """The one error a failed call raises: Slack's own when it answered in JSON, else one that reads like it."""
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        # Slack's codes are short slugs; the SDK puts a page it could not parse in `error` (or leaves it out)
        if isinstance(data, dict) and _SLACK_CODE.fullmatch(str(data.get("error") or "")):
            return error
        status = getattr(error.response, "status_code", 0)
        code, why = f"http_{status}", f"Slack answered {method} with HTTP {status} and no JSON"
    elif isinstance(error, TimeoutError):
        code, why = "timeout", f"{method} timed out"
    elif isinstance(error, ConnectionResetError | aiohttp.ServerDisconnectedError):
        code, why = "connection_reset", f"the connection was reset during {method}"
    else:
        code, why = "unreachable", f"Slack could not be reached for {method} ({type(error).__name__})"
    return SlackApiError(why, SlackResponse(client=None, http_verb="POST", api_url=method, req_args={},
                                            data={"ok": False, "error": code}, headers={},
                                            status_code=getattr(getattr(error, "response", None), "status_code", 0)))


class MeteredWebClient(AsyncWebClient):
    def __init__(self, metrics: Metrics, **kwargs: Any):
        super().__init__(**kwargs)
        self.metrics = metrics
        self._identity: AsyncSlackResponse | None = None

    async def identity(self) -> AsyncSlackResponse:
        """The bot's auth.test, asked once."""
        if self._identity is None:
            self._identity = await self.auth_test()
        return self._identity

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:  # type: ignore[override]
        with counted(self.metrics, api_method):
            return await super().api_call(api_method, **kwargs)


class MeteredSyncWebClient(WebClient):
    def __init__(self, metrics: Metrics, **kwargs: Any):
        super().__init__(**kwargs)
        self.metrics = metrics

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        with counted(self.metrics, api_method):
            return super().api_call(api_method, **kwargs)
