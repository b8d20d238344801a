"""Commands on an ssh platform's hosts (AsyncSSH): argv on each host at once, each host with its own outcome.

Every remote command is built as argv and quoted for the remote shell with `shlex.join`, so a parameter (a
process name, a unit, a path) reaches the command literally: nothing is expanded remotely. Host keys are checked
against the configured known_hosts file, never accepted on first sight. The private key is read from the
environment variable `key_env` and never appears in a message; each failure is one clear phrase (host key
mismatch, authentication failed, unreachable, timed out).
"""
from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import asyncssh

from bot.core.ports import HostResult
from bot.errors import BackendError
from bot.platforms.settings import SshSettings, ssh_address

T = TypeVar("T")
LOG_BLOCK = 1 << 16


def blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run asyncio work from a blocking Platform call (the callers are worker threads; inside a running loop,
    which cannot be re-entered, it runs in a thread of its own)."""
    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class SshHosts:
    """The `HostShell` port for one environment's ssh platform."""

    def __init__(self, env_name: str, config: SshSettings):
        self.env_name = env_name
        self.config = config
        self.hosts = list(config.hosts)
        self.timeout = config.timeout_s

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list[HostResult]:
        """`argv` on each host at once, in the hosts' order; each with its own outcome."""
        command = shlex.join(argv)  # the remote shell sees each item as one literal word
        key, known_hosts = self._key(), self._known_hosts()

        async def gather() -> list[HostResult]:
            return list(await asyncio.gather(*(self._one(h, command, key, known_hosts) for h in hosts or self.hosts)))

        return blocking(gather)

    def streams(self, argv: list[str], hosts: list[str]) -> list[tuple[str, Iterator[bytes]]]:
        """`argv`'s output on each host, in blocks read on demand (never held whole)."""
        key, known_hosts = self._key(), self._known_hosts()
        return [(host, self._stream(host, shlex.join(argv), key, known_hosts)) for host in hosts]

    def _key(self) -> asyncssh.SSHKey:
        name = self.config.key_env
        text = os.environ.get(name)
        if not text:
            raise BackendError(f"The SSH key for {self.env_name} is missing: set the environment variable {name}.")
        try:
            return asyncssh.import_private_key(text)
        except (asyncssh.KeyImportError, ValueError) as error:  # the message could quote the key: not shown
            raise BackendError(f"The environment variable {name} does not hold an unencrypted SSH private key.") \
                from error

    def _known_hosts(self) -> str:
        path = self.config.known_hosts
        if not os.path.isfile(path):
            raise BackendError(f"The known_hosts file {path} of {self.env_name} does not exist; host keys are "
                               "always verified.")
        return path

    def _connect(self, host: str, key: asyncssh.SSHKey, known_hosts: str):
        address, port = ssh_address(host, self.config.port)
        # config=None, agent_path=None: only what opsbot.yml says, never ~/.ssh/config or an agent's keys
        return asyncssh.connect(address, port, username=self.config.user, client_keys=[key], known_hosts=known_hosts,
                                config=None, agent_path=None, preferred_auth="publickey",
                                connect_timeout=self.timeout, login_timeout=self.timeout)

    async def _one(self, host: str, command: str, key: asyncssh.SSHKey, known_hosts: str) -> HostResult:
        try:
            async with self._connect(host, key, known_hosts) as conn:
                done = await conn.run(command, check=False, timeout=self.timeout)
        except Exception as error:  # noqa: BLE001 — each host's failure is that host's result, never the others'
            return HostResult(host, error=self._reason(host, error, known_hosts))
        output = _text(done.stdout) + _text(done.stderr)
        return HostResult(host, done.exit_status if done.exit_status is not None else -1, output)

    def _reason(self, host: str, error: Exception, known_hosts: str) -> str:
        """One clear phrase per failure, without the key or a traceback."""
        if isinstance(error, asyncssh.HostKeyNotVerifiable):
            address, port = ssh_address(host, self.config.port)
            try:
                listed = any(asyncssh.read_known_hosts(known_hosts).match(address, "", port)[0:2])
            except (OSError, ValueError):
                listed = False
            return ("host key mismatch: the server's key is not the one known_hosts lists (possible impostor)"
                    if listed else f"host key unknown: no entry for {host} in {known_hosts}")
        if isinstance(error, asyncssh.PermissionDenied):
            return f"authentication failed for user {self.config.user} (key not accepted)"
        if isinstance(error, asyncssh.TimeoutError | TimeoutError):
            return f"timed out after {self.timeout:g} s"
        if isinstance(error, asyncssh.Error):
            return f"SSH error: {error.reason}"
        if isinstance(error, OSError):
            # asyncio's "Connect call failed (…)" hides the errno's own words ("Connection refused")
            words = os.strerror(error.errno) if error.errno and error.errno > 0 else error.strerror
            return f"unreachable ({words or type(error).__name__})"
        return f"failed ({type(error).__name__})"

    def _stream(self, host: str, command: str, key: asyncssh.SSHKey, known_hosts: str) -> Iterator[bytes]:
        """A command's output in blocks, read on demand, on an event loop of its own."""
        loop = asyncio.new_event_loop()
        try:
            try:
                conn = loop.run_until_complete(self._connect(host, key, known_hosts))
            except Exception as error:  # any failure to connect: mapped to one clear reason
                raise BackendError(f"{host}: {self._reason(host, error, known_hosts)}") from error
            try:
                process = loop.run_until_complete(conn.create_process(command, encoding=None,
                                                                      stderr=asyncssh.STDOUT))
                while block := loop.run_until_complete(process.stdout.read(LOG_BLOCK)):
                    yield block
            finally:
                conn.close()
                loop.run_until_complete(conn.wait_closed())
        finally:
            loop.close()


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
