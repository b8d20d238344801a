"""Logging: text or JSON lines (`OPSBOT_LOG_FORMAT`), any-case level names (`OPSBOT_LOG_LEVEL`), every line
redacted, and the fields of the request being worked on (request id, user, command) on every line logged
while it is — asyncio tasks and `asyncio.to_thread` carry the context variable along.
"""
from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

from bot.errors import ConfigError

# request_id, user, command of the delivery being worked on (set by the Slack pipeline)
REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("opsbot_request", default=None)
FIELDS = ("request_id", "user", "command", "outcome", "duration_ms")
FORMATS = ("text", "json")


def request_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request's fields, overridden by those passed with `extra=`."""
    fields = dict(REQUEST.get() or {})
    fields.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
    return fields


class RedactingFormatter(logging.Formatter):
    """Log lines (messages and tracebacks alike) pass through redaction: no secret reaches the log."""

    def format(self, record: logging.LogRecord) -> str:
        from bot.core.redact import redact

        line = super().format(record)
        fields = request_fields(record)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return redact(line)


class OneLineFormatter(RedactingFormatter):
    """For a person at a terminal (the console, the CLI): every record is one line. An exception is named with
    its root cause — `(FileNotFoundError: [Errno 2] No such file or directory)` — and its traceback left out;
    OPSBOT_LOG_LEVEL=DEBUG shows tracebacks again."""

    def format(self, record: logging.LogRecord) -> str:
        if not record.exc_info or record.exc_info[1] is None:
            return super().format(record)
        from bot.core.redact import redact

        error: BaseException = record.exc_info[1]
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
            error = error.__cause__ or error.__context__  # type: ignore[assignment]
        return line + redact(f" ({type(error).__name__}: {error})".replace("\n", " "))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request's fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from bot.core.redact import redact

        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact(record.getMessage()),
        }
        entry.update({key: redact(value) if isinstance(value, str) else value
                      for key, value in request_fields(record).items()})
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


START = "opsbot.start"  # the logger of `opsbot serve`'s one start-up line, shown whatever the level


def configure_logging(level: str, format: str = "text", tracebacks: bool = True) -> None:
    """A bad format is a ConfigError (the operator asked for something specific); a bad level falls back to
    WARNING, as before. `tracebacks=False` (a person's terminal): one line per record, unless the level is DEBUG."""
    kind = format.strip().lower() or "text"
    if kind not in FORMATS:
        raise ConfigError([f"OPSBOT_LOG_FORMAT: '{format}' is not a log format; use text or json"])
    name = level.strip().upper()
    name = name if name in logging.getLevelNamesMapping() else "WARNING"
    line = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if kind == "json" else
                         RedactingFormatter(line) if tracebacks or name == "DEBUG" else OneLineFormatter(line))
    logging.basicConfig(level=name, handlers=[handler], force=True)
    logging.getLogger(START).setLevel(min(logging.INFO, logging.getLevelNamesMapping()[name]))
    # APScheduler logs every job run at INFO; only opsbot's own lines are wanted there.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if name == "DEBUG" else logging.WARNING)
