"""The bot's Web API clients, counting every call and every failure by method (Slack's error code, or the
exception's type when Slack was not reached): the async one (Bolt, incident channels, Socket Mode) and the
synchronous one of what runs in threads (user groups, shared files, the audit witness, reminders). Retries after
a 429 are inside one call."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

if TYPE_CHECKING:
    from slack_sdk.web.async_slack_response import AsyncSlackResponse
    from slack_sdk.web.slack_response import SlackResponse

    from bot.metrics import Metrics


@contextmanager
def counted(metrics: Metrics, method: str) -> Iterator[None]:
    try:
        yield
    except SlackApiError as error:
        metrics.slack_call(method, str(error.response.get("error") or "not_ok"))
        raise
    except Exception as error:
        metrics.slack_call(method, type(error).__name__)
        raise
    metrics.slack_call(method)


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
