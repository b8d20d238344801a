"""The scheduler part of opsbot.yml: recurring maintenance reminders, maintenance-window notices, timing.

Defaults are the runbooks': daily health/backup/log review, the weekly Sunday 02:00 UTC maintenance,
monthly database/security/certificate tasks, a quarterly DR drill and capacity review; window notices
48 h and 24 h ahead (the 48-hour notice rule) with the pre- and post-maintenance checklists.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bot.config.fields import Duration, DurationOrZero, Strict


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{name}' is not a time zone; use an IANA name like UTC or Europe/Berlin") from exc
    return name


class ScheduledRun(Strict):
    """A runbook action a recurring reminder runs (the runbooks' daily backup verification); its outcome is posted
    with the reminder. Only `read_only` or `scheduled: true` actions (checked with the environments)."""

    action: str
    env: str


class RecurringReminder(Strict):
    cron: str
    timezone: str = "UTC"
    channel: str | None = None  # default: scheduler.channel
    title: str
    checklist: list[str] = Field(default_factory=list, max_length=10)  # Slack shows at most 10 checkboxes
    run: ScheduledRun | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        # The scheduler owns cron semantics (APScheduler); it is imported only when a catalog names a cron.
        from bot.scheduler.triggers import cron_trigger

        cron_trigger(value, "UTC")
        return value


def _default_reminders() -> dict[str, RecurringReminder]:
    return {
        "daily": RecurringReminder(
            cron="0 9 * * *", title="Daily operations checks",
            checklist=["Check health endpoints and dashboards", "Review error logs",
                       "Verify backup completion", "Monitor disk space", "Verify SSL certificate status"]),
        "weekly": RecurringReminder(
            cron="0 2 * * sun", title="Weekly maintenance (Sunday 02:00 UTC)",
            checklist=["Create a database backup", "Apply security patches and system updates",
                       "Clean up Docker images and old logs", "Review performance metrics and capacity",
                       "Check backup integrity"]),
        "monthly": RecurringReminder(
            cron="0 9 1 * *", title="Monthly maintenance",
            checklist=["Database optimisation (VACUUM ANALYZE, index review)", "Log cleanup",
                       "Security audit and vulnerability scan", "Certificate renewal check"]),
        "quarterly": RecurringReminder(
            cron="0 9 1 jan,apr,jul,oct *", title="Quarterly review",
            checklist=["Disaster recovery drill", "Capacity planning review", "Update the runbooks",
                       "Team training"]),
    }


PRE_MAINTENANCE = ["Schedule announced to users (24-48 h ahead)", "Backups verified and tested",
                   "Rollback plan prepared and tested", "Stakeholders notified",
                   "Change approval obtained (production)"]
POST_MAINTENANCE = ["Monitor system performance", "Verify all services are working", "Update documentation",
                    "Notify completion"]


class Scheduler(Strict):
    timezone: str = "UTC"  # how `/maint schedule sun 02:00` and times without a zone are read
    channel: str = "ops"  # where maintenance reminders and window notices go
    grace: DurationOrZero = timedelta(minutes=10)  # a reminder missed while down fires at start within this
    tick: Duration = timedelta(seconds=5)
    lead_times: list[Duration] = Field(default_factory=lambda: [timedelta(hours=48), timedelta(hours=24)])
    reminders: dict[str, RecurringReminder] = Field(default_factory=_default_reminders)
    pre_checklist: list[str] = Field(default_factory=lambda: list(PRE_MAINTENANCE), max_length=10)
    post_checklist: list[str] = Field(default_factory=lambda: list(POST_MAINTENANCE), max_length=10)
    postmortem_repeat: Duration = timedelta(hours=24)  # reminders until `/incident postmortem done`

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)
