"""Health checks against real local servers: HTTP (fast, slow, failing), PostgreSQL, Redis, TLS, TCP."""
from __future__ import annotations

import asyncio
import datetime
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest
from aiohttp import web

from bot.checks.runner import CheckRunner
from bot.config.environments import Environment
from bot.platforms import Platforms


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServers:
    """An aiohttp app on loopback: plain HTTP, and HTTPS with the certificates given."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners = []

    def serve(self, app: web.Application, tls: ssl.SSLContext | None = None) -> int:
        async def start():
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
            await site.start()
            self.runners.append(runner)
            return site._server.sockets[0].getsockname()[1]

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self):
        for runner in self.runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def health_app() -> web.Application:
    async def ok(request):
        return web.json_response({"status": "healthy", "services": {"database": "connected"}})

    async def degraded(request):
        return web.json_response({"status": "healthy", "services": {"database": "disconnected"}})

    async def slow(request):
        await asyncio.sleep(float(request.query.get("s", "0.3")))
        return web.json_response({"status": "healthy"})

    async def broken(request):
        return web.Response(status=502, text="bad gateway")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/degraded", degraded)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    return app


@pytest.fixture(scope="module")
def servers():
    local = LocalServers()
    yield local
    local.close()


@pytest.fixture(scope="module")
def http_port(servers) -> int:
    return servers.serve(health_app())


def run_checks(checks: list[dict]):
    env = Environment.model_validate({"checks": checks})
    return {r.name: r for r in asyncio.run(CheckRunner(Platforms()).run("test", env))}


def test_http_status_latency_and_json_fields(http_port):
    base = f"http://127.0.0.1:{http_port}"
    results = run_checks([
        {"name": "api", "kind": "http", "url": f"{base}/ok", "warn_ms": 500, "crit_ms": 1000,
         "json": {"status": "healthy", "services.database": "connected"}},
        {"name": "db-field", "kind": "http", "url": f"{base}/degraded", "json": {"services.database": "connected"}},
        {"name": "slow", "kind": "http", "url": f"{base}/slow?s=0.3", "warn_ms": 200, "crit_ms": 1000},
        {"name": "broken", "kind": "http", "url": f"{base}/broken"},
        {"name": "hung", "kind": "http", "url": f"{base}/slow?s=5", "timeout_s": 0.5},
        {"name": "refused", "kind": "http", "url": f"http://127.0.0.1:{closed_port()}/"},
    ])
    assert results["api"].level == "ok" and results["api"].value.startswith("200 in")
    assert results["api"].threshold == "warn 500 ms / crit 1000 ms"
    assert results["db-field"].level == "crit" and "services.database is 'disconnected'" in results["db-field"].detail
    assert results["slow"].level == "warn"
    assert results["broken"].level == "crit" and "status 502, expected 200" in results["broken"].detail
    assert results["hung"].level == "crit" and results["hung"].value == "timeout"
    assert results["refused"].level == "crit" and results["refused"].value == "error"


def test_checks_run_concurrently(http_port):
    base = f"http://127.0.0.1:{http_port}"
    started = time.perf_counter()
    results = run_checks([{"name": f"c{i}", "kind": "http", "url": f"{base}/slow?s=0.4"} for i in range(8)])
    elapsed = time.perf_counter() - started
    assert all(r.level == "ok" for r in results.values())
    assert elapsed < 1.5  # eight 0.4 s checks in about the time of one


def test_postgres_check_against_the_real_server(monkeypatch, pg_server):
    monkeypatch.setenv("TEST_PG_DSN", pg_server)
    monkeypatch.setenv("TEST_PG_CLOSED", f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres")
    results = run_checks([
        {"name": "db", "kind": "postgres", "dsn_env": "TEST_PG_DSN", "warn_pct": 70, "crit_pct": 90},
        {"name": "tight", "kind": "postgres", "dsn_env": "TEST_PG_DSN", "warn_pct": 0.001, "crit_pct": 99},
        {"name": "down", "kind": "postgres", "dsn_env": "TEST_PG_CLOSED", "timeout_s": 3},
        {"name": "unset", "kind": "postgres", "dsn_env": "TEST_PG_NOT_SET"},
    ])
    assert results["db"].level == "ok" and "connections" in results["db"].value
    assert "MiB" in results["db"].detail
    assert results["tight"].level == "warn"
    assert results["down"].level == "crit" and results["down"].detail
    assert results["unset"].level == "crit" and "$TEST_PG_NOT_SET is not set" in results["unset"].detail


def test_redis_check_against_the_real_server(monkeypatch):
    monkeypatch.setenv("TEST_REDIS_URL", os.environ.get("OPSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    monkeypatch.setenv("TEST_REDIS_CLOSED", f"redis://:secretpw@127.0.0.1:{closed_port()}/0")
    results = run_checks([
        {"name": "cache", "kind": "redis", "url_env": "TEST_REDIS_URL", "warn_pct": 80, "crit_pct": 95},
        {"name": "down", "kind": "redis", "url_env": "TEST_REDIS_CLOSED", "timeout_s": 2},
    ])
    assert results["cache"].level == "ok", results["cache"]
    assert "clients" in results["cache"].detail
    assert results["down"].level == "crit" and "secretpw" not in results["down"].detail


def make_cert(tmp_path, days: int, host: str = "localhost"):
    """A CA and a server certificate for `host`, valid for `days` days, made with openssl."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-subj", "/CN=opsbot test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{days}.key", "-out", f"{days}.csr",
            "-subj", f"/CN={host}")
    (tmp_path / "ext.cnf").write_text(f"subjectAltName=DNS:{host}\n")
    openssl("x509", "-req", "-in", f"{days}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{days}.pem", "-days", str(days), "-extfile", "ext.cnf")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / f"{days}.pem", tmp_path / f"{days}.key")
    return context, str(tmp_path / "ca.pem")


def test_tls_expiry_and_hostname(servers, tmp_path):
    soon, ca = make_cert(tmp_path, days=3)
    port = servers.serve(health_app(), tls=soon)
    results = run_checks([
        {"name": "cert", "kind": "tls", "host": "localhost", "port": port, "ca_file": ca},
        {"name": "wrong-host", "kind": "tls", "host": "127.0.0.1", "port": port, "ca_file": ca},
        {"name": "untrusted", "kind": "tls", "host": "localhost", "port": port},
    ])
    expected = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).strftime("%Y-%m-%d")
    assert results["cert"].level == "crit" and "expires in 3 d" in results["cert"].value
    assert expected in results["cert"].value
    assert results["wrong-host"].level == "crit" and "host" in results["wrong-host"].detail
    assert results["untrusted"].level == "crit"


def test_tls_far_from_expiry_is_ok(servers, tmp_path):
    later, ca = make_cert(tmp_path, days=90)
    port = servers.serve(health_app(), tls=later)
    result = run_checks([{"name": "cert", "kind": "tls", "host": "localhost", "port": port, "ca_file": ca}])["cert"]
    assert result.level == "ok" and "expires in 9" in result.value


def test_tcp_open_and_closed(http_port):
    results = run_checks([
        {"name": "open", "kind": "tcp", "host": "127.0.0.1", "port": http_port},
        {"name": "closed", "kind": "tcp", "host": "127.0.0.1", "port": closed_port()},
    ])
    assert results["open"].level == "ok" and results["closed"].level == "crit"
    assert results["closed"].detail
