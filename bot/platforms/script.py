"""Runbook actions: allow-listed argv with typed parameters, a timeout and captured output. Never a shell.

The output streams through redaction and only its first and last megabyte are kept (what lies between is
counted and said), so a command that prints gigabytes costs a constant amount of memory. The command runs in a
process group of its own that a timeout kills whole, and it dies with opsbot (a parent-death signal): a `kill -9`
of opsbot leaves no runbook running unwatched.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

from bot.config.environments import RunbookAction
from bot.core.redact import default_redactor
from bot.core.runbook_places import first_failure
from bot.errors import BackendError

KEEP = 1 << 20  # bytes kept of the output's start, and of its end
_READ = 1 << 16
_PR_SET_PDEATHSIG = 1


class ScriptRunner:
    def __init__(self, keep: int = KEEP):
        self.keep = keep

    def run(self, action: RunbookAction, params: dict[str, str]) -> tuple[int, str]:
        code, text, _ = self.run_full(action, params, keep_whole=False)
        return code, text

    def run_full(self, action: RunbookAction, params: dict[str, str],
                 keep_whole: bool = True) -> tuple[int, str, Path | None]:
        """As `run`, and when the output was longer than what is kept, the whole of it (redacted) in a temporary
        file — on disk, never in memory — for the caller to keep as evidence and then delete."""
        # Parameters fill `{name}` placeholders; each argv item stays one argument whatever it contains.
        argv = action.argv_for(params)

        try:
            child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=action.cwd, shell=False, start_new_session=True,
                                     # the function only calls prctl, bound before the fork: no lock to inherit
                                     preexec_fn=_die_with_parent if _PRCTL is not None else None)  # noqa: PLW1509
        except OSError as error:
            raise BackendError(f"cannot run {argv[0]}: {error.strerror or error}") from error
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _kill_group(child)

        timer = threading.Timer(action.timeout_s, expire)
        timer.start()
        kept = KeptOutput(self.keep)
        # it outlives this call: the caller keeps it as evidence, then deletes it
        spool = tempfile.NamedTemporaryFile(prefix="opsbot-run-", suffix=".log", delete=False) \
            if keep_whole else None  # noqa: SIM115
        try:
            assert child.stdout is not None
            chunks = iter(lambda: child.stdout.read(_READ), b"")  # type: ignore[union-attr]
            for block, _ in default_redactor().stream(chunks):
                kept.add(block)
                if spool is not None:
                    spool.write(block)
                if action.fail_on and kept.failed_on is None:
                    kept.failed_on = first_failure(action.fail_on, block.decode(errors="replace"))
            code = child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                _kill_group(child)
                child.wait()
            _kill_group(child)  # what it left running in its group goes with it
            if child.stdout is not None:
                child.stdout.close()
            if spool is not None:
                spool.close()
        whole = Path(spool.name) if spool is not None else None
        if whole is not None and not kept.cut:  # all of it is in the text already
            whole.unlink(missing_ok=True)
            whole = None
        if (expired.is_set() or kept.failed_on is not None) and whole is not None:
            whole.unlink(missing_ok=True)
        if expired.is_set():
            raise BackendError(f"{argv[0]} timed out after {action.timeout_s:g} s and was stopped; output so far: "
                               f"{kept.text()[-300:]}")
        if kept.failed_on is not None:
            raise BackendError(f"{argv[0]} exited with status {code} but printed {kept.failed_on!r}, which the "
                               f"action's fail_on counts as a failure; its output ends: {kept.text()[-300:]}")
        return code, kept.text(), whole


class KeptOutput:
    """The first and last `keep` bytes of a stream, and how much lay between them."""

    def __init__(self, keep: int):
        self.keep = keep
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.size = 0
        self.failed_on: str | None = None  # the first line a fail_on pattern matched

    def add(self, block: bytes) -> None:
        self.size += len(block)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += block[:room]
            block = block[room:]
        if not block:
            return
        self.tail.append(block)
        self.tail_size += len(block)
        while self.tail_size - len(self.tail[0]) >= self.keep:  # the oldest block is no longer needed
            self.tail_size -= len(self.tail.popleft())

    @property
    def cut(self) -> bool:
        """Whether some of the stream was not kept."""
        return self.size > len(self.head) + self.tail_size

    def text(self) -> str:
        tail = b"".join(self.tail)[-self.keep:] if self.tail else b""
        skipped = self.size - len(self.head) - len(tail)
        if skipped <= 0:
            return (bytes(self.head) + tail).decode(errors="replace")
        head = bytes(self.head)
        head = head[:head.rfind(b"\n") + 1] or head  # whole lines either side of the gap
        tail = tail[tail.find(b"\n") + 1:] or tail
        skipped = self.size - len(head) - len(tail)
        return (head.decode(errors="replace") + f"[… {_size(skipped)} of output not kept; {_size(self.size)} in "
                "all …]\n" + tail.decode(errors="replace"))


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count:,.1f} GB"


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:  # in the child, before exec: SIGKILL when opsbot dies, however it dies
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
