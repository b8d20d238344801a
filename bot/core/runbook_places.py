"""Where a runbook action runs besides opsbot's own machine: inside a service's container or pod (`exec:`), or over
SSH on the ssh platform's hosts (`hosts:`). Either way it fails on a non-zero exit or on output its `fail_on`
names, and its output is redacted before it goes anywhere."""
from __future__ import annotations

import re2

from bot.config.environments import RunbookAction
from bot.core.ports import Platform
from bot.core.redact import redact
from bot.errors import BackendError


def first_failure(patterns: list[str], text: str) -> str | None:
    """The first line a `fail_on` pattern matches, or None."""
    compiled = [re2.compile(pattern) for pattern in patterns]
    for line in text.splitlines():
        if any(pattern.search(line) for pattern in compiled):
            return line.strip()[:200]
    return None


def place_of(action: RunbookAction) -> str:
    """How the plan says where it runs."""
    if action.exec is not None:
        return f" inside {action.exec.service}'s container"
    if action.hosts is not None:
        return " on " + ("every host" if action.hosts == ["all"] else ", ".join(action.hosts))
    return ""


def run_placed(platform: Platform, name: str, action: RunbookAction, params: dict) -> str:
    argv = action.argv_for(params)
    if action.exec is not None:
        code, output = platform.exec_in(action.exec.service, argv, action.timeout_s)
        output = redact(output)
        failed_on = first_failure(action.fail_on, output)
        if code != 0 or failed_on:
            why = f"printed {failed_on!r}, which its fail_on counts as a failure" if failed_on and code == 0 \
                else f"exited with status {code}"
            raise BackendError(f"{name} inside {action.exec.service}'s container {why}: {output[-500:]}")
        return output
    results = platform.on_hosts(argv, None if action.hosts == ["all"] else action.hosts)
    sections, failed = [], []
    for result in results:
        output = redact(result.output)
        failed_on = first_failure(action.fail_on, output)
        if result.error is not None or result.status != 0 or failed_on:
            failed.append(f"{result.host}: " + (result.error or (f"printed {failed_on!r}" if failed_on and
                                                                 result.status == 0 else f"exit {result.status}")))
        sections.append(f"== {result.host} (exit {result.status if result.error is None else result.error})\n"
                        f"{output.rstrip()}")
    text = "\n".join(sections)
    if failed:  # one host failing fails the action; every host's outcome is said
        raise BackendError(f"{name} failed on {len(failed)} of {len(results)} hosts ({'; '.join(failed)}):\n"
                           f"{text[-1500:]}")
    return text
