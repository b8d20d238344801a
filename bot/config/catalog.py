"""The catalog, opsbot.yml: severities, templates, limits, environments, roles, the scheduler.

Defaults are the runbooks': P0-P3 with 15 min / 1 h / 4 h / next-business-day response targets,
30-minute status updates, post-mortems due in 24 h (P0/P1) or 48 h, and the escalation chain
on-call engineer -> team lead -> engineering manager -> CTO.
"""
from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from bot.config import messages
from bot.config.alerts import Alerts
from bot.config.environments import Environment, Role, Roles
from bot.config.fields import DROPPED, Duration, Strict, dropped, problems
from bot.config.oncall import OnCall
from bot.config.problems import describe as _describe
from bot.config.problems import in_the_file as _in_the_file
from bot.config.problems import mapping_keys as _mapping_keys
from bot.config.problems import prune as _prune
from bot.config.schedule import Scheduler
from bot.config.status_page import StatusPage, reference_problems
from bot.config.yamlfile import read_yaml, unset_secrets
from bot.errors import ConfigError
from bot.timeparse import next_business_day_end, parse_duration

NEXT_BUSINESS_DAY = "next-business-day"
IMMEDIATE = "immediate"
DEFAULT_ESCALATION = ["on-call engineer", "team lead", "engineering manager", "CTO"]
_SEVERITY_ALIAS = re.compile(r"^(?:p([0-3])|sev([1-4]))$", re.IGNORECASE)


def _default_chain() -> list[str | EscalationLevel]:
    return list(DEFAULT_ESCALATION)


class EscalationLevel(Strict):
    """One level of an escalation chain: who is paged (user IDs `U…`, user-group IDs `S…` or names) and when,
    counted from the declaration: `immediate`, `next-business-day`, or a duration. Without `after`, level 1 is
    paged at declaration and each next level one response target later."""

    who: list[str]
    after: str | None = None

    @field_validator("who", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("who")
    @classmethod
    def _someone(cls, value: list[str]) -> list[str]:
        if not value or not all(who.strip() for who in value):
            raise ValueError("a level needs at least one user, user group or name")
        return value

    @field_validator("after")
    @classmethod
    def _check_after(cls, value: str | None) -> str | None:
        if value is not None and value not in (IMMEDIATE, NEXT_BUSINESS_DAY):
            parse_duration(value)
        return value


class Severity(Strict):
    name: str
    response: str = Field(description="a duration like 15m, or 'next-business-day'")
    mitigate: Duration | None = None  # target for mitigation, from declaration (none: not judged)
    resolve: Duration | None = None  # target for resolution, from declaration (none: not judged)
    update_every: Duration = timedelta(minutes=30)
    postmortem_due: Duration = timedelta(hours=48)
    escalation: list[str | EscalationLevel] = Field(default_factory=lambda: _default_chain())
    escalate_until: Literal["acknowledged", "resolved"] = "acknowledged"  # the runbooks' "if not resolved"
    announce: str | None = None  # this severity's announcement channel; None: the catalog's, "": none
    private: bool = False  # its incidents get a private channel by default

    @field_validator("response")
    @classmethod
    def _check_response(cls, value: str) -> str:
        if value != NEXT_BUSINESS_DAY and parse_duration(value) <= timedelta(0):
            raise ValueError("a response target must be longer than zero (e.g. 15m)")
        return value

    def response_deadline(self, declared_at: datetime) -> datetime:
        if self.response == NEXT_BUSINESS_DAY:
            return next_business_day_end(declared_at)
        return declared_at + parse_duration(self.response)

    def escalation_levels(self, declared_at: datetime) -> list[tuple[list[str], datetime]]:
        """Each level's people and when it is paged (level 1 at declaration unless it says otherwise)."""
        deadline = self.response_deadline(declared_at)
        step = timedelta(days=1) if self.response == NEXT_BUSINESS_DAY else parse_duration(self.response)
        levels = []
        for index, level in enumerate(self.escalation):
            if isinstance(level, str):
                level = EscalationLevel(who=[level])
            if level.after == IMMEDIATE:
                due = declared_at
            elif level.after == NEXT_BUSINESS_DAY:  # Severity 3's "next business day"
                due = next_business_day_end(declared_at)
            elif level.after is not None:
                due = declared_at + parse_duration(level.after)
            else:
                due = declared_at if index == 0 else deadline + (index - 1) * step
            levels.append((level.who, due))
        return levels


def _default_severities() -> dict[str, Severity]:
    day = timedelta(hours=24)
    return {
        # The runbooks: P0 mitigation within 30 min, recovery (RTO) within 4 h; P1 resolution within 4 h.
        "P0": Severity(name="Critical", response="15m", mitigate=timedelta(minutes=30), resolve=timedelta(hours=4),
                       postmortem_due=day),
        "P1": Severity(name="High", response="1h", resolve=timedelta(hours=4), postmortem_due=day),
        "P2": Severity(name="Medium", response="4h"),
        "P3": Severity(name="Low", response=NEXT_BUSINESS_DAY),
    }


class Templates(Strict):
    postmortem: Path | None = None
    # The announcements (Jinja2, Slack mrkdwn): defaults from the runbooks, checked at load (bot/config/messages.py).
    alert: str = messages.ALERT
    update: str = messages.UPDATE
    resolved: str = messages.RESOLVED
    reopened: str = messages.REOPENED

    @field_validator("alert", "update", "resolved", "reopened")
    @classmethod
    def _compiles(cls, value: str, info) -> str:
        return messages.check(info.field_name, value)


class IncidentType(Strict):
    """`/incident open … --type NAME`: defaults for a kind of incident (e.g. security: a private channel)."""

    private: bool = False


class Limits(Strict):
    # Zero would refuse every title; a negative one every text.
    title_max: int = Field(default=150, gt=0)
    text_max: int = Field(default=3000, gt=0)


class Similar(Strict):
    """The past incidents posted when an incident opens, and listed in its post-mortem draft: the three best
    full-text matches that hold at least `min_score` (0-1) of the new incident's significant words (title,
    impact, service; a word or its synonym, compared by stem). Nothing is posted when none is that close."""

    min_score: float = Field(default=0.4, ge=0, le=1)


Who = Literal["anyone", "participants", "commander", "admins"]


class IncidentPermissions(Strict):
    """Who may change an incident's course. `participants`: who opened it and its role holders;
    `commander`: its commander; admins (`roles: {"*": {admin: […]}}`) always may. Every such change is audited."""

    resolve: Who = "anyone"
    close: Who = "anyone"
    reopen: Who = "anyone"
    severity: Who = "anyone"
    roles: Who = "anyone"


class Catalog(Strict):
    """Everything a team configures in opsbot.yml."""

    service_name: str = "production"
    announce_channel: str = "incidents"
    incident_permissions: IncidentPermissions = Field(default_factory=IncidentPermissions)
    audit_channel: str | None = None  # where audit checkpoints are posted (hourly and after each dangerous action)
    severities: dict[str, Severity] = Field(default_factory=_default_severities)
    templates: Templates = Field(default_factory=Templates)
    limits: Limits = Field(default_factory=Limits)
    similar: Similar = Field(default_factory=Similar)  # similar past incidents, on opening (bot/core/search.py)
    environments: dict[str, Environment] = Field(default_factory=dict)
    roles: Roles = Field(default_factory=dict)
    unprotected_default_role: str = "operator"  # unknown users in unprotected environments
    scheduler: Scheduler = Field(default_factory=Scheduler)
    incident_types: dict[str, IncidentType] = Field(default_factory=dict)
    announce_private_titles: bool = False  # whether announcements of a private incident show its title and impact
    alerts: Alerts = Field(default_factory=Alerts)  # which alert groups open which incidents (bot/config/alerts.py)
    status_page: StatusPage = Field(default_factory=lambda: StatusPage())  # the public page (bot/config/status_page.py)
    oncall: OnCall = Field(default_factory=OnCall)  # on-call schedules (bot/config/oncall.py)

    def _schedules_named(self) -> None:
        """An escalation level may name `schedule:<name>`: one of `oncall.schedules`."""
        for key, severity in self.severities.items():
            for level in severity.escalation:
                for who in ([level] if isinstance(level, str) else level.who):
                    name = who.removeprefix("schedule:")
                    if who.startswith("schedule:") and name not in self.oncall.schedules:
                        raise ValueError(f"severities.{key}.escalation names schedule '{name}', which oncall.schedules "
                                         f"does not have ({', '.join(self.oncall.schedules) or 'none'})")
        for index, rule in enumerate([*self.alerts.rules, self.alerts.default]):
            named = (rule.commander or "").removeprefix("schedule:")
            if (rule.commander or "").startswith("schedule:") and named not in self.oncall.schedules:
                raise ValueError(f"alerts rule {index + 1}: commander names schedule '{named}', which oncall.schedules "
                                 f"does not have ({', '.join(self.oncall.schedules) or 'none'})")

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: Roles) -> Roles:
        for grants in value.values():
            for role in grants:
                Role.parse(role)
        return value

    @model_validator(mode="after")
    def _scheduled_runs_are_allowed(self, info: ValidationInfo) -> Catalog:
        """A reminder runs only an action that exists and is read-only or marked `scheduled: true`: nobody
        confirms what the scheduler does. (And a `schedule:<name>` named anywhere is one of oncall.schedules.)"""
        self._schedules_named()
        for name, reminder in self.scheduler.reminders.items():
            if reminder.run is None or dropped(info, "environments", reminder.run.env, "runbook", reminder.run.action):
                continue  # what it names had problems of its own, reported already
            where, run = f"scheduler.reminders.{name}.run", reminder.run
            if run.env not in self.environments:
                raise ValueError(f"{where}: unknown environment '{run.env}'; environments: "
                                 f"{', '.join(self.environments) or 'none'}")
            runbook = self.environments[run.env].runbook
            if run.action not in runbook:
                raise ValueError(f"{where}: unknown runbook action '{run.action}' in {run.env}; actions: "
                                 f"{', '.join(runbook) or 'none'}")
            spec = runbook[run.action]
            if not (spec.read_only or spec.scheduled):
                raise ValueError(f"{where}: {run.action} is neither read_only nor scheduled: true; only those may "
                                 "run unattended")
            missing = [key for key, param in spec.params.items() if param.required and param.default is None]
            if missing:
                raise ValueError(f"{where}: {run.action} needs {', '.join(missing)}, and a schedule gives no parameters")
        return self

    @field_validator("severities")
    @classmethod
    def _check_levels(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        wrong = [key for key in value if key not in ("P0", "P1", "P2", "P3")]
        if wrong:
            raise ValueError(f"severity keys must be P0, P1, P2 or P3, not {', '.join(wrong)}")
        return value

    def announce_channel_for(self, severity: str) -> str:
        """Where a severity's announcements go ("" for nowhere)."""
        own = self.severities[severity].announce
        return self.announce_channel if own is None else own

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Catalog:
        """Roles and alert rules name environments, alert rules name severities: every problem at once (none
        about a name whose section had problems of its own)."""
        found = []
        unknown = [scope for scope in self.roles if scope != "*" and scope not in self.environments
                   and not dropped(info, "environments", scope)]
        if unknown:
            found.append(f"roles name unknown environments: {', '.join(unknown)} (use an environment or '*')")
        try:
            Role.parse(self.unprotected_default_role)
        except ValueError as exc:
            found.append(f"unprotected_default_role: {exc}")
        for where, rule in [*((f"rules.{i}", r) for i, r in enumerate(self.alerts.rules)), ("default", self.alerts.default)]:
            try:
                default = "P2" if "P2" in self.severities else list(self.severities)[-1]
                rule.severity = self.severity_key(rule.severity or default)
            except ValueError as exc:
                if not dropped(info, "severities"):
                    found.append(f"alerts.{where}.severity: {exc}")
            literal = rule.env and "{" not in rule.env
            if literal and rule.env not in self.environments and not dropped(info, "environments", rule.env):
                found.append(f"alerts.{where}.env: '{rule.env}' is not an environment; environments: "
                             f"{', '.join(self.environments) or 'none'}")
        found.extend(reference_problems(self.status_page, self.environments,
                                        lambda env, kind, name: dropped(info, "environments", env, kind)))
        problems(found)
        return self

    def severity_key(self, text: str) -> str:
        """'p1', 'P1', 'sev2' -> 'P1'. Raises ValueError for anything else."""
        match = _SEVERITY_ALIAS.match(text.strip())
        key = None
        if match:
            key = f"P{match.group(1)}" if match.group(1) else f"P{int(match.group(2)) - 1}"
        if key is None or key not in self.severities:
            valid = ", ".join(self.severities)
            raise ValueError(f"'{text}' is not a severity; use one of {valid} (or sev1-sev4)")
        return key


def _local_environment() -> Environment:
    """The built-in catalog's one environment, this machine, so the README's tour of /ops and /maint works with no
    opsbot.yml: a check of `opsbot serve`'s own /healthz (❌ "connection refused" while it is not running: true, and
    said plainly) and the runbooks' `df -h` / `uptime` / `free -m` as runbook actions (argv, never a shell)."""
    return Environment.model_validate({
        "checks": [{"name": "opsbot-serve", "kind": "http", "url": "http://127.0.0.1:3000/healthz", "timeout_s": 2,
                    "warn_ms": 500, "crit_ms": 2000}],
        "runbook": {"disk": {"argv": ["df", "-h"], "timeout_s": 10, "min_role": "viewer"},
                    "uptime": {"argv": ["uptime"], "timeout_s": 10, "min_role": "viewer"},
                    "memory": {"argv": ["free", "-m"], "timeout_s": 10, "min_role": "viewer"}},
    })


def load_catalog(path: Path | str | None, warnings: list[str] | None = None) -> Catalog:
    """Read and validate opsbot.yml; no path means the built-in defaults. `warnings` collects what is not wrong
    but will not work here (a secret's variable that is not set)."""
    if path is None:
        return Catalog(environments={"local": _local_environment()})
    path = Path(path)
    try:
        raw, repeated = read_yaml(path.read_text())
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML ({exc})"]) from exc
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    if warnings is not None:
        warnings.extend(unset_secrets(raw))
    catalog, found = _validate_all(raw)
    found[:0] = [f"{path}: {problem}" for problem in repeated]
    if catalog is not None:
        template = catalog.templates.postmortem
        if template is not None and not template.is_absolute():
            catalog.templates.postmortem = path.parent / template
        if catalog.templates.postmortem is not None and not catalog.templates.postmortem.is_file():
            found.append(f"templates.postmortem: no such file {catalog.templates.postmortem}")
    if found:
        raise ConfigError(found)
    assert catalog is not None
    return catalog


def _validate_all(raw: dict[str, Any], passes: int = 8) -> tuple[Catalog | None, list[str]]:
    """Validate, reporting every problem in one run.

    pydantic collects every field's errors, but a model's own checks (a maintenance list naming an unknown
    service, roles naming unknown environments) only run once all its fields are valid. So after each failed pass
    the keys that failed are dropped (their defaults apply) and the catalog is validated again, until it passes:
    the checks that waited then report too. Only dict keys are dropped, so later paths still point at the file.
    """
    data = copy.deepcopy(raw)
    defaults = Catalog().model_dump(by_alias=True)
    found: list[str] = []
    reported: set[tuple[Any, ...]] = set()
    dropped: set[tuple[str, ...]] = set()  # what a check that names it cannot judge (no "actions: none" cascades)
    for attempt in range(passes):
        try:
            return Catalog.model_validate(data, context={DROPPED: dropped}), found
        except ValidationError as exc:
            errors = [_in_the_file(error, data) for error in exc.errors()]
        for error in errors:
            loc = tuple(error["loc"])
            # After the first pass a "Field required" can only come from what was dropped here.
            if loc not in reported and not (attempt and error["type"] == "missing"):
                found.extend(_describe(error))
        reported.update(tuple(error["loc"]) for error in errors)
        # One replacement per failing key, however many errors lie below it (the items of one list).
        targets = dict.fromkeys(_mapping_keys(tuple(error["loc"])) for error in errors)
        changed = [_prune(data, keys, defaults) for keys in targets]  # every one, not just up to the first
        dropped.update(path for path in changed if path)
        if not any(changed):
            break  # nothing left to drop: what remains is already reported
    return None, found
