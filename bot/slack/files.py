"""Files people share in Slack, read for evidence with the bot token: files.info for what the file is, then its
private URL as a stream. The token is sent only to Slack's own hosts (and to the configured Web API host, where a
local Slack stands in for tests); a link to anywhere else is never fetched — it is kept as typed text instead.
Redirects are followed one hop at a time, each checked the same way (a hop off Slack's hosts is refused before
anything is sent there), each with its own timeout; no more is read than files.info said the file holds."""
from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.evidence import SharedFile
from bot.errors import BackendError, UsageError

_FILE_ID = re.compile(r"(?<![A-Z0-9])F[A-Z0-9]{6,}(?![A-Z0-9])")
_BLOCK = 1 << 20
_MAX_HOPS = 5
_UNKNOWN_SIZE_CAP = 1 << 30


class SlackFiles:
    def __init__(self, client: WebClient, timeout: float = 30.0):
        """`client`: the thread-side client (bot/app.py); its token is the bot's, its base URL the Web API's."""
        self.client = client
        self.token = client.token
        self.api_host = urlsplit(client.base_url).hostname or "slack.com"
        self.api_netloc = urlsplit(client.base_url).netloc
        self.api_scheme = urlsplit(client.base_url).scheme
        self.timeout = timeout

    def _ours(self, host: str | None) -> bool:
        return bool(host) and (host == self.api_host or host == "slack.com" or str(host).endswith(".slack.com"))

    def _fetchable(self, url: str) -> bool:
        """Where the token may go: Slack's hosts over HTTPS, or exactly the configured Web API host and port."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.netloc == self.api_netloc and parts.scheme in (self.api_scheme, "https"):
            return True  # plain HTTP only where the Web API itself is (a local Slack for tests)
        return parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com"))

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
        if not self._fetchable(url):
            raise BackendError(f"File {file_id} is not stored on Slack (it links elsewhere); add its link as text.")
        size = int(info.get("size") or 0)
        return SharedFile(id=file_id, name=str(info.get("name") or file_id), size=size,
                          shared_by=str(info.get("user") or "unknown"),
                          chunks=self._download(url, size or _UNKNOWN_SIZE_CAP))

    def _download(self, url: str, limit: int) -> Iterator[bytes]:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for _ in range(_MAX_HOPS + 1):
                with client.stream("GET", url, headers={"Authorization": f"Bearer {self.token}"}) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if not self._fetchable(target):
                            raise BackendError(f"Slack's download redirected to {urlsplit(target).netloc or target}, "
                                               "which is not Slack: nothing was fetched from there.")
                        url = target
                        continue
                    if response.status_code != 200:
                        raise BackendError(f"Slack answered {response.status_code} for the file's download")
                    read = 0
                    for chunk in response.iter_bytes(_BLOCK):
                        read += len(chunk)
                        if read > limit:
                            raise BackendError(f"The download is larger than the {limit:,} bytes Slack said the "
                                               "file holds; it was stopped.")
                        yield chunk
                    return
        raise BackendError(f"Slack's download redirected more than {_MAX_HOPS} times; it was stopped.")
