"""Runbook actions: allow-listed argv with typed parameters, a timeout and captured output. Never a shell."""
from __future__ import annotations

import subprocess

from bot.config.environments import RunbookAction
from bot.errors import BackendError


class ScriptRunner:
    def run(self, action: RunbookAction, params: dict[str, str]) -> tuple[int, str]:
        # Parameters fill `{name}` placeholders; each argv item stays one argument whatever it contains.
        argv = [part.format_map(params) for part in action.argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=action.timeout_s, cwd=action.cwd,
                                  check=False, shell=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) \
                else (expired.stdout or "")
            raise BackendError(f"{argv[0]} timed out after {action.timeout_s:g} s; output so far: {output[-300:]}") \
                from expired
        except OSError as error:
            raise BackendError(f"cannot run {argv[0]}: {error.strerror or error}") from error
        return done.returncode, (done.stdout + done.stderr)
