"""`/ops logs --grep/--grep-v`: which log lines to show, by regular expression.

Patterns come from chat, so they run on RE2 (google-re2), the linear-time engine redaction uses: no pattern can
make a log read take exponential time, and RE2 has no backreferences or lookarounds (refused with the reason).
Matching ignores case, as the old substring filter did (`grep -i`): `error` finds `ERROR`.
"""
from __future__ import annotations

import re2

from bot.errors import UsageError

MAX_PATTERN = 500  # characters: a longer pattern is a paste accident, not a filter
_MEMORY = 8 << 20  # bytes RE2 may use for one compiled pattern


class LineFilter:
    """Keeps a line when it matches `include` (if given) and does not match `exclude` (if given)."""

    def __init__(self, include: str | None = None, exclude: str | None = None):
        self.include, self.exclude = include, exclude
        self._include = _compile("--grep", include)
        self._exclude = _compile("--grep-v", exclude)

    def __call__(self, line: str) -> bool:
        if self._include is not None and not self._include.search(line):
            return False
        return self._exclude is None or not self._exclude.search(line)

    def __str__(self) -> str:
        parts = [f"/{self.include}/" if self.include else "", f"not /{self.exclude}/" if self.exclude else ""]
        return ", ".join(part for part in parts if part)

    def __bool__(self) -> bool:
        return self.include is not None or self.exclude is not None


def _compile(option: str, pattern: str | None):
    if pattern is None:
        return None
    if len(pattern) > MAX_PATTERN:
        raise UsageError(f"{option} is {len(pattern)} characters long; at most {MAX_PATTERN}.")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = _MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise UsageError(f"{option} '{pattern}' is not a regular expression RE2 accepts: {reason} "
                         "(RE2 has no backreferences or lookarounds).") from exc
