"""The building blocks every part of opsbot.yml shares: strict models and human durations."""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from bot.timeparse import parse_duration


class Strict(BaseModel):
    """A catalog section: unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid")


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


# "15m", "4h", "2d" in the YAML; a timedelta in Python.
Duration = Annotated[timedelta, BeforeValidator(_duration)]
