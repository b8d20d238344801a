"""A local Slack Web API: records every call and answers like Slack (ok/error bodies, 429 + Retry-After).

It also takes `response_url` posts, file uploads, and serves a Socket Mode WebSocket that sends the
envelopes a test queues and records the acks it gets back.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


@dataclass
class Call:
    method: str
    params: dict
    headers: dict = field(default_factory=dict)
    at: float = field(default_factory=time.time)  # wall-clock arrival (benchmarks add the latency for the answer)


RESET = object()  # a scripted failure that drops the connection


class FakeSlack:
    def __init__(self, latency: float = 0.0):
        self.latency = latency  # seconds every Web API call takes to answer (bench/war_room.py: 0.1)
        self.calls: list[Call] = []
        self.responses: list[dict] = []  # posts to response_url
        self.response_times: dict[str, float] = {}  # response_url hook -> wall-clock arrival (for benchmarks)
        self._responses_open = threading.Event()  # cleared: response_url posts wait (a slow Slack)
        self._responses_open.set()
        self.held = 0  # response_url posts waiting now
        self.acks: list[dict] = []  # Socket Mode acks
        self._scripted: dict[str, list[tuple[int, dict, dict, object]]] = {}
        self.messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> message, for conversations.history
        self.usergroups: dict[str, list[str]] = {}  # group ID -> user IDs, for usergroups.users.list
        self.users: dict[str, dict] = {}  # user ID -> users.info's user (its `tz`, say); others: user_not_found
        self.opened_views: list[str] = []  # the ids views.open answered, in order
        self.files: dict[str, tuple[dict, bytes]] = {}  # file ID -> (files.info's file, its bytes)
        self.redirects: dict[str, str] = {}  # file ID -> where its download answers 302
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._envelopes: asyncio.Queue | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0

    # --- control from tests ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def fail_next(self, method: str, error: str | None = None, status: int = 200, headers: dict | None = None,
                  when=None, html: str | None = None, reset: bool = False, **extra) -> None:
        """Answer the next call to `method` (whose params satisfy `when`, if given) with an error: Slack's JSON,
        an HTML page (a proxy's 500 or 502), or a connection reset before any answer."""
        body: object = {"ok": False, "error": error, **extra} if error else {"ok": False, "error": "ratelimited"}
        if html is not None:
            body = html
        if reset:
            body = RESET
        self._scripted.setdefault(method, []).append((status, body, headers or {}, when))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) to {method}; got {[c.method for c in self.calls]}")

    def wait_for_response(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.responses) >= count:
                return self.responses
            time.sleep(0.02)
        raise AssertionError(f"expected {count} response_url post(s); got {self.responses}")

    def hold_responses(self) -> None:
        """Keep response_url posts waiting, unanswered, until release_responses()."""
        self._responses_open.clear()

    def release_responses(self) -> None:
        self._responses_open.set()

    def send_envelope(self, envelope: dict) -> None:
        """Queue a Socket Mode envelope for the connected client."""
        self.loop.call_soon_threadsafe(self._envelopes.put_nowait, envelope)

    # --- server -----------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self.loop:
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _run(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        self._envelopes = asyncio.Queue()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{hook}", self._response_url)
        app.router.add_get("/response-times", self._response_times)
        app.router.add_post("/upload/{file}", self._upload)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/files-pri/{file}/{name}", self._download)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        params = dict(request.query)  # slack_sdk sends some arguments in the query string
        if request.content_type == "application/json":
            params.update(json.loads(raw or b"{}"))
        else:
            params.update(parse_qsl(raw.decode()))
        with self._lock:
            self.calls.append(Call(method, params, dict(request.headers)))
            scripted = self._scripted.get(method, [])
            failure = next((f for f in scripted if f[3] is None or f[3](params)), None)
            if failure:
                scripted.remove(failure)
        if self.latency:
            await asyncio.sleep(self.latency)
        if failure:
            status, body, headers, _ = failure
            if body is RESET:  # the connection drops without an answer
                assert request.transport is not None
                request.transport.abort()
                raise ConnectionResetError("reset by the fake")
            if isinstance(body, str):
                return web.Response(text=body, status=status, headers=headers, content_type="text/html")
            return web.json_response(body, status=status, headers=headers)
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, params: dict) -> dict:
        n = next(self._ids)
        if method == "views.open":
            self.opened_views.append(f"V{n:04d}")
        channel = params.get("channel", f"C{n:04d}")
        answers = {
            "auth.test": {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T0001", "team": "Ops",
                          "url": "https://ops.slack.com/"},
            "conversations.create": {"channel": {"id": f"C{n:04d}", "name": params.get("name")}},
            "chat.postMessage": {"channel": channel, "ts": f"1700000000.{n:06d}",
                                 "message": {"text": params.get("text", "")}},
            "chat.update": {"channel": channel, "ts": params.get("ts")},
            "chat.getPermalink": {"permalink": f"https://ops.slack.com/archives/{channel}/p{params.get('message_ts')}"},
            "conversations.history": {"messages": [m for m in [self.messages.get((channel, params.get("latest")))] if m]},
            "files.getUploadURLExternal": {"upload_url": f"{self.base_url}/upload/F{n:04d}", "file_id": f"F{n:04d}"},
            "files.completeUploadExternal": {"files": [{"id": "F0001", "title": "file"}]},
            "apps.connections.open": {"url": f"ws://127.0.0.1:{self.port}/socket"},
            "views.open": {"view": {"id": f"V{n:04d}"}},
            "usergroups.users.list": {"users": self.usergroups.get(params.get("usergroup"), [])},
        }
        if method == "users.info":
            found = self.users.get(params.get("user", ""))
            return {"ok": True, "user": {"id": params["user"], **found}} if found else \
                {"ok": False, "error": "user_not_found"}
        if method == "files.info":
            if params.get("file") not in self.files:
                return {"ok": False, "error": "file_not_found"}
            return {"ok": True, "file": self.files[params["file"]][0]}
        return {"ok": True, **answers.get(method, {})}

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.held += 1
        while not self._responses_open.is_set():
            await asyncio.sleep(0.01)
        self.held -= 1
        self.responses.append(body)
        self.response_times[request.match_info["hook"]] = time.time()
        return web.Response(text="ok")

    async def _response_times(self, request: web.Request) -> web.Response:
        return web.json_response(self.response_times)

    async def _upload(self, request: web.Request) -> web.Response:
        with self._lock:
            self.calls.append(Call("upload", {"file": request.match_info["file"], "bytes": len(await request.read())}))
        return web.Response(text="OK")

    def share_file(self, file_id: str, name: str, content: bytes, user: str = "U_CAROL", size: int | None = None) -> None:
        """A file in the workspace, described by files.info and downloadable from its private URL."""
        url = f"{self.base_url}/files-pri/T0001-{file_id}/{name}"
        self.files[file_id] = ({"id": file_id, "name": name, "size": len(content) if size is None else size,
                                "user": user, "url_private": url, "url_private_download": url,
                                "permalink": f"https://ops.slack.com/files/{user}/{file_id}/{name}"}, content)

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file"].rpartition("-")[2]
        with self._lock:
            self.calls.append(Call("download", {"file": file_id}, dict(request.headers)))
        if file_id in self.redirects:
            raise web.HTTPFound(self.redirects[file_id])
        if request.headers.get("Authorization") != "Bearer xoxb-test" or file_id not in self.files:
            return web.Response(status=404)  # as Slack answers a private URL fetched without the bot's token
        return web.Response(body=self.files[file_id][1])

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})

        async def sender():
            while True:
                await ws.send_json(await self._envelopes.get())

        task = asyncio.create_task(sender())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
        finally:
            task.cancel()
        return ws
