"""The `alerts:` section of opsbot.yml: which alert groups open which incidents.

Rules are tried in order; the first whose matchers all hold for the group's labels decides (an unmatched
group uses `default`). Matchers are written as in Alertmanager: `name="value"`, `name!="value"`,
`name=~"regex"`, `name!~"regex"` (regexes match the whole value; quotes optional). Titles, environments and
services are templates: `{name}` is the label `name`, else the annotation `name`, else empty.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from bot.config.fields import Duration, Strict

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"'{text}' is not a matcher; write name=\"value\", name!=\"value\", name=~\"regex\" "
                             "or name!~\"regex\"")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if "~" in op:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"'{text}': the regex does not compile ({exc})") from exc
        return cls(name, op, value)

    def holds(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")  # a missing label matches "" (as in Alertmanager)
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        matched = re.fullmatch(self.value, actual) is not None
        return matched if self.op == "=~" else not matched


def render(template: str, labels: dict[str, str], annotations: dict[str, str]) -> str:
    """`{name}` → the label, else the annotation, else nothing; spaces collapsed, dangling separators dropped."""
    text = _PLACEHOLDER.sub(lambda m: labels.get(m.group(1)) or annotations.get(m.group(1)) or "", template)
    return re.sub(r"\s+", " ", text).strip(" :-–—|,")


class AlertRule(Strict):
    match: list[str] = Field(default_factory=list, description="matchers; all must hold (none: every group)")
    ignore: bool = False  # matched groups open nothing (e.g. Watchdog)
    severity: str = ""  # empty: P2, or the catalog's least severe level when it has no P2
    title: str = "{alertname}: {summary}"
    env: str = "{env}"
    service: str = "{service}"
    channel: str | None = None  # where the incident is announced; default: announce_channel
    # a Slack user ID made commander (and invited), or schedule:<name> — whoever is on call then; default: none
    commander: str | None = None
    on_resolved: Literal["note", "resolve"] = "note"  # note on the timeline and ask the commander, or resolve

    @field_validator("commander")
    @classmethod
    def _slack_user(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_USER.fullmatch(value) and not value.startswith("schedule:"):
            raise ValueError(f"'{value}' is not a Slack user ID; write the member ID (U… or W…, e.g. U012ABCDEF), "
                             "shown in the person's Slack profile under ⋮ → Copy member ID")
        return value

    @field_validator("match")
    @classmethod
    def _check_matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            Matcher.parse(text)
        return value

    def matchers(self) -> list[Matcher]:
        return [Matcher.parse(text) for text in self.match]

    def holds(self, labels: dict[str, str]) -> bool:
        return all(matcher.holds(labels) for matcher in self.matchers())


class Storm(Strict):
    """An alert storm: past `max_new` alert groups that needed a new incident within `per`, further groups join one
    "alert storm" incident (one channel, one announcement with a count per alert name) until the rate falls below
    `max_new` per `per` again; a later storm opens a new storm incident."""

    max_new: int = Field(default=10, ge=1, description="new incidents alerts may open within `per` before a storm")
    per: Duration = Field(default=timedelta(minutes=1), description="the window `max_new` is counted over")


class Alerts(Strict):
    rules: list[AlertRule] = Field(default_factory=list)
    default: AlertRule = Field(default_factory=AlertRule)
    storm: Storm = Field(default_factory=Storm)
    keep_in_full: int = Field(default=100, ge=1, le=1000,
                              description="alerts of one delivery recorded one event each; the rest are counted "
                                          "and summarised per alert name and status")

    def rule_for(self, labels: dict[str, str]) -> AlertRule:
        return next((rule for rule in self.rules if rule.holds(labels)), self.default)
