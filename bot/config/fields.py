"""The building blocks every part of opsbot.yml shares: strict models and human durations."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from bot.kinds import PROBLEM_SEPARATOR, problems
from bot.timeparse import parse_duration

__all__ = ["DROPPED", "PROBLEM_SEPARATOR", "Duration", "DurationOrZero", "Strict", "dropped", "problems"]

# The validation context's key for the sections check-config has set aside after their own problems
# (bot/config/catalog.py, _validate_all): a check naming something in them cannot judge it, and says nothing.
DROPPED = "dropped"


def dropped(info: ValidationInfo, *path: str) -> bool:
    """Whether what `path` names (`environments`, `prod`, `runbook`, `verify`) lost its content to an earlier
    problem: a section on the way to it was set aside, or it was. A path that starts with "…" matches at any
    depth (a model that does not know its own place: `dropped(info, "…", "runbook", name)`)."""
    gone = (info.context or {}).get(DROPPED) or ()
    if path and path[0] == "…":
        tail = path[1:]
        return any(tail[:len(lost) - i] == lost[i:] for lost in gone for i in range(len(lost))
                   if lost[i] == tail[0])
    return any(path[:len(lost)] == lost for lost in gone)


class Strict(BaseModel):
    """A catalog section: unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid")


# Below a second, for the scheduler's tick in tests and fast set-ups: "200ms", "0.5s".
_SUBSECOND = re.compile(r"^\s*([0-9]{1,6}(?:\.[0-9]{1,3})?)\s*(ms|s)\s*$")


def _duration(value: object) -> object:
    # A bare number is refused: `update_every: 30` read as 30 seconds silently broke the cadence.
    if isinstance(value, bool | int | float):
        # ValueError, not TypeError: pydantic reports it with the key's path like every other problem.
        raise ValueError(f"'{value}' has no unit; write it with one, like {value}s, {value}m or {value}h")  # noqa: TRY004
    if isinstance(value, str) and (fine := _SUBSECOND.match(value)):
        amount = float(fine.group(1))
        return timedelta(milliseconds=amount) if fine.group(2) == "ms" else timedelta(seconds=amount)
    return parse_duration(value) if isinstance(value, str) else value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero (e.g. 5s)")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


# "15m", "4h", "2d" in the YAML; a timedelta in Python. Zero is refused: a cadence, tick or target of 0 loops or
# fires at once.
Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
# The same, where zero means "not at all" (e.g. the scheduler's grace for missed reminders).
DurationOrZero = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_not_negative)]
