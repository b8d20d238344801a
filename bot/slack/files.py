"""Files people share in Slack, read for evidence with the bot token: files.info for what the file is, then its
private URL as a stream. The token is sent only to Slack's own hosts (and to the configured Web API host, where a
local Slack stands in for tests); a link to anywhere else is never fetched — it is kept as typed text instead."""
from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.evidence import SharedFile
from bot.errors import BackendError, UsageError

_FILE_ID = re.compile(r"(?<![A-Z0-9])F[A-Z0-9]{6,}(?![A-Z0-9])")
_BLOCK = 1 << 20


class SlackFiles:
    def __init__(self, client: WebClient, timeout: float = 30.0):
        """`client`: the thread-side client (bot/app.py); its token is the bot's, its base URL the Web API's."""
        self.client = client
        self.token = client.token
        self.api_host = urlsplit(client.base_url).hostname or "slack.com"
        self.timeout = timeout

    def _ours(self, host: str | None) -> bool:
        return bool(host) and (host == self.api_host or host == "slack.com" or str(host).endswith(".slack.com"))

    def file_id(self, reference: str) -> str | None:
        """F0123ABCD itself, or a Slack link to it (a permalink or a private download URL)."""
        reference = reference.strip().strip("<>")
        if _FILE_ID.fullmatch(reference):
            return reference
        url = urlsplit(reference)
        if url.scheme not in ("http", "https") or not self._ours(url.hostname):
            return None
        found = _FILE_ID.findall(url.path)
        return found[-1] if found else None

    def open(self, file_id: str) -> SharedFile:
        try:
            info = self.client.files_info(file=file_id)["file"]
        except SlackApiError as error:
            reason = error.response.get("error", "error")
            if reason == "file_not_found":
                raise UsageError(f"There is no Slack file {file_id} (or the bot cannot see it).") from error
            raise BackendError(f"Slack would not describe file {file_id} ({reason}).") from error
        url = info.get("url_private_download") or info.get("url_private") or ""
        if not self._ours(urlsplit(url).hostname):
            raise BackendError(f"File {file_id} is not stored on Slack (it links elsewhere); add its link as text.")
        return SharedFile(id=file_id, name=str(info.get("name") or file_id), size=int(info.get("size") or 0),
                          shared_by=str(info.get("user") or "unknown"), chunks=self._download(url))

    def _download(self, url: str) -> Iterator[bytes]:
        # httpx drops the Authorization header on a redirect to another host, so the token stays with Slack.
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client, \
                client.stream("GET", url, headers={"Authorization": f"Bearer {self.token}"}) as response:
            if response.status_code != 200:
                raise BackendError(f"Slack answered {response.status_code} for the file's download")
            yield from response.iter_bytes(_BLOCK)
