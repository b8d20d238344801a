"""The web view's pages (/ui/), composed from the core's read models (bot/core/web_read.py, records, on-call,
maintenance) and rendered by bot/views/web_html.py. `render(user, path, query)` answers any GET under /ui/ for a
signed-in user (bot/http/web.py signs people in); a bad filter is a 400 page, an unknown or private incident a 404,
the audit log for a non-admin a 403 — never a traceback."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.oncall import Window as Hours
from bot.core.audit import Verification
from bot.core.audit_signing import Checkpoint
from bot.core.evidence_bundle import Bundle
from bot.core.insights import CachedInsights
from bot.core.models import EventKind
from bot.core.oncall import count_pages, hours_report, on_call, shifts
from bot.core.oncall_overrides import Overrides
from bot.core.web_read import Filters, WebRead
from bot.errors import NotFound, OpsbotError, PermissionDenied, UsageError
from bot.views import web_html as html

log = logging.getLogger("opsbot.web")
HTML, CSS, JSON, MARKDOWN, JS = ("text/html; charset=utf-8", "text/css; charset=utf-8", "application/json",
                                 "text/markdown; charset=utf-8", "text/javascript; charset=utf-8")
INCIDENT = re.compile(r"^/ui/incidents/INC-([0-9]{1,10})(\.json|\.md|/postmortem)?$")
CHAIN_TTL_S = 300  # the audit chain's verification is kept this long while no record is appended
EVENTS_PAGE = 500  # timeline events on one page: an incident with 10,000 stays quick to serve and to read
Answer = tuple[int, str, bytes]


class WebUI:
    def __init__(self, services, verify_chain: Callable[[], tuple[Verification, Checkpoint | None]],
                 zone_of: Callable[[str], str | None], slack_url: Callable[[], str | None] = lambda: None):
        self.services = services
        self.catalog = services.incidents.catalog
        self.read = WebRead(services.incidents.store, self.catalog, services.ops, services.incidents.clock,
                            services.search)
        self.verify_chain, self.zone_of, self.slack_url = verify_chain, zone_of, slack_url
        self.insights = CachedInsights(services.incidents.store, self.catalog)
        self._verified: tuple[object, float, tuple[Verification, Checkpoint | None]] | None = None
        self._verifying = threading.Lock()

    def _chain(self) -> tuple[Verification, Checkpoint | None]:
        """The chain's state, verified again when a record was appended or after CHAIN_TTL_S: a whole log takes
        seconds to verify at a million records, too long for every view of the page."""
        with self._verifying:  # one verification at a time; the others wait for its result
            head, now = self.services.incidents.store.audit_head(), time.monotonic()
            if self._verified is not None and self._verified[0] == head and now - self._verified[1] < CHAIN_TTL_S:
                return self._verified[2]
            result = self.verify_chain()
            self._verified = (head, now, result)
            return result

    def render(self, user: str | None, path: str, query: dict[str, str]) -> Answer:
        try:
            if any("\x00" in text for pair in query.items() for text in pair):  # PostgreSQL's text holds no NUL
                raise UsageError("A filter holds a NUL character; remove it.")
            return self._render(user, path, query)
        except NotFound as error:
            return 404, HTML, html.problem_page("Not found", str(error), user).encode()
        except PermissionDenied as error:
            return 403, HTML, html.problem_page("Not allowed", str(error), user).encode()
        except (UsageError, ValueError) as error:
            return 400, HTML, html.problem_page("Bad request", str(error), user).encode()
        except OpsbotError as error:
            return 503, HTML, html.problem_page("Unavailable", str(error), user).encode()

    def _zone(self, user: str) -> ZoneInfo | None:
        """The person's zone from Slack, or None: the browser puts the times on its own clock."""
        try:
            known = self.zone_of(user)
            return ZoneInfo(known) if known else None
        except (ValueError, KeyError):
            return None

    def _render(self, user: str | None, path: str, query: dict[str, str]) -> Answer:
        if path == "/ui/style.css":
            return 200, CSS, html.STYLE.encode()
        if path == "/ui/local-time.js":
            return 200, JS, html.LOCAL_TIME_JS.encode()
        if path == "/ui/sign-in" and query.get("holder"):  # a valid link, opened: ask before spending it
            return 200, HTML, html.confirm_sign_in_page(query["holder"]).encode()
        if path == "/ui/sign-in" or user is None:
            reason = query.get("refused") or ("You are signed out." if query.get("signed_out") else None)
            return 200, HTML, html.sign_in_page(reason).encode()
        if path == "/ui/logout":  # a sign-out is a POST (bot/http/web.py); an old link shows the button
            return 200, HTML, html.sign_out_page(user).encode()
        zone = self._zone(user)
        found = INCIDENT.match(path)
        if found:
            return self._incident(user, int(found.group(1)), found.group(2), zone, query)
        pages: dict[str, Callable[[str, dict[str, str], ZoneInfo | None], str]] = {
            "/ui/": self._list, "/ui/audit": self._audit, "/ui/insights": self._insights,
            "/ui/maintenance": self._maintenance, "/ui/oncall": self._oncall}
        if path not in pages:
            raise NotFound("There is no such page.")
        return 200, HTML, pages[path](user, query, zone).encode()

    # --- pages -----------------------------------------------------------------------------------------------
    def _list(self, user: str, query: dict[str, str], zone: ZoneInfo | None) -> str:
        page = query.get("page", "1")
        if not page.isdigit() or not 1 <= int(page) <= 100_000:
            raise UsageError("page is a number from 1.")
        filters = Filters(state=query.get("state", ""), severity=query.get("severity", ""),
                          service=query.get("service", "").strip()[:100], env=query.get("env", "").strip()[:100],
                          since=_day(query.get("since"), zone), until=_day(query.get("until"), zone, 1),
                          page=int(page), text=query.get("q", "")[:200])
        shown = {k: v for k, v in query.items() if k in ("q", "state", "severity", "service", "env", "since", "until")
                 and v}
        return html.incident_list(self.read.incidents(user, filters), shown, list(self.catalog.severities), zone, user)

    def _incident(self, user: str, number: int, suffix: str | None, zone: ZoneInfo | None,
                  query: dict[str, str]) -> Answer:
        incident = self.read.incident(user, number)  # a private one: NotFound for a non-participant
        records = self.services.records
        if suffix == ".json":
            (exported,) = records.export(number)
            return 200, JSON, json.dumps(exported.document, ensure_ascii=False, indent=2).encode()
        if suffix in (".md", "/postmortem"):
            draft = records.postmortem(incident)
            if suffix == ".md":
                return 200, MARKDOWN, draft.text.encode()
            return 200, HTML, html.postmortem_page(incident, draft.text, user).encode()
        page = query.get("events", "1")
        if not page.isdigit() or len(page) > 7 or int(page) < 1:  # past the last page shows none; not past SQL's int
            raise UsageError("events is a page number from 1.")
        store = self.services.incidents.store
        # Only what the page shows: role and evidence events, and one page of the timeline (not 10,000 events).
        roles = store.timeline_part(number, kinds=(EventKind.ROLE.value,))
        bundles = [Bundle.model_validate(e.data["bundle"]) for e in store.timeline_part(
            number, kinds=(EventKind.EVIDENCE.value,)) if "bundle" in e.data]
        verified = self.services.evidence.verify(number, bundles) if bundles else None  # re-hashes the files
        start = (int(page) - 1) * EVENTS_PAGE
        shown = html.EventsPage(store.timeline_part(number, offset=start, limit=EVENTS_PAGE), int(page),
                                store.timeline_length(number), EVENTS_PAGE)
        return 200, HTML, html.incident_page(incident, self.read.row(incident), shown, roles, bundles, verified,
                                             zone, self.slack_url(), user).encode()

    def _audit(self, user: str, query: dict[str, str], zone: ZoneInfo | None) -> str:
        records = self.read.audit(user, who=query.get("user", "").strip(), env=query.get("env", "").strip(),
                                  action=query.get("action", "").strip(), outcome=query.get("outcome", "").strip(),
                                  since=_day(query.get("since"), zone), until=_day(query.get("until"), zone, 1),
                                  seq=_number(query.get("seq"), "seq"))
        result, checkpoint = self._chain()
        return html.audit_page(records, html.chain_state(result, checkpoint, zone), query, zone, user)

    def _insights(self, user: str, query: dict[str, str], zone: ZoneInfo | None) -> str:
        months = query.get("months", "6")
        if not months.isdigit() or not 1 <= int(months) <= 24:
            raise UsageError("months is a number from 1 to 24.")
        now = self.services.incidents.clock()
        found = self.insights.get(self.read.viewer(user), now, int(months), self.read.action_scope(user))
        start = found.since
        pages: dict[str, int] = {}
        business = Hours(self.catalog.oncall.business_hours)
        sent = self.services.incidents.store.sent_reminders("inc:", start, now)
        overrides = Overrides(self.services.incidents.store, self.catalog, self.services.incidents.clock)
        for name, schedule in self.catalog.oncall.schedules.items():
            report = hours_report(schedule, business, start, now, overrides.active(name))
            count_pages(report, sent, business, schedule.zone)
            for person, hours in report.items():
                pages[person] = pages.get(person, 0) + hours.pages_out_of_hours
        return html.insights_page(found, pages, int(months), user)

    def _maintenance(self, user: str, query: dict[str, str], zone: ZoneInfo | None) -> str:
        now = self.services.incidents.clock()
        windows = [w for w in self.services.incidents.store.list_windows(ending_after=now - timedelta(days=30))
                   if w.starts_at <= now + timedelta(days=30)]
        rows = [(w.ref, html.escape(w.env), html.escape(w.title), html.when(w.starts_at, zone), html.when(w.ends_at, zone),
                 w.state(now) + (" · on the status page" if w.public else "")) for w in windows]
        reminders = self.catalog.scheduler.reminders
        rows += [(html.escape(name), "", html.escape(r.title), html.escape(r.cron),
                  html.escape(r.timezone), "recurring") for name, r in reminders.items()]
        # The calendar: each day of the 61 in the viewer's zone (UTC when unknown: the days are the server's), with
        # the windows open that day and the reminders that fire on it.
        tz = zone or UTC
        first, last = (now - timedelta(days=30)).astimezone(tz).date(), (now + timedelta(days=30)).astimezone(tz).date()
        days: dict[date, list[str]] = {}
        for w in windows:
            day, end = max(w.starts_at.astimezone(tz).date(), first), min(w.ends_at.astimezone(tz).date(), last)
            while day <= end:
                days.setdefault(day, []).append(f"{w.ref} {html.escape(w.title)}")
                day += timedelta(days=1)
        next_fire = self.services.maintenance.next_fire
        for r in reminders.values():
            at = next_fire(r.cron, r.timezone, now - timedelta(days=30))
            for _ in range(200):  # an hourly reminder fills every day: no more than a few a day are shown anyway
                if at is None or at > now + timedelta(days=30):
                    break
                days.setdefault(at.astimezone(tz).date(), []).append(f"↻ {html.escape(r.title)}")
                at = next_fire(r.cron, r.timezone, at + timedelta(seconds=1))  # "after" includes `at` itself
        today = now.astimezone(tz).date()
        return html.simple_page("Maintenance", rows, ("Window", "Environment", "Title", "Starts", "Ends", "State"),
                                user, "Windows of the last 30 days and the next 30, and the recurring reminders.",
                                before=html.calendar(first, last, today, days))

    def _oncall(self, user: str, query: dict[str, str], zone: ZoneInfo | None) -> str:
        now = self.services.incidents.clock()
        overrides = Overrides(self.services.incidents.store, self.catalog, self.services.incidents.clock)
        rows = []
        for name, schedule in self.catalog.oncall.schedules.items():
            active = overrides.active(name)
            current = on_call(schedule, now, active)
            rows.append((html.escape(name), f"<strong>{html.escape(current.user or 'nobody (a gap)')}</strong> now",
                         html.when(current.start, zone), html.when(current.end, zone)))
            for shift in shifts(schedule, now, now + timedelta(days=14), overrides=active)[1:]:
                rows.append(("", html.escape(shift.user or "nobody (a gap)") + (
                    " (override)" if shift.layer and shift.layer.startswith("override") else ""),
                    html.when(shift.start, zone), html.when(shift.end, zone)))
        return html.simple_page("On call", rows, ("Schedule", "Who", "From", "Until"), user,
                                "Who is on call now and the next 14 days.")


def _number(text: str | None, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 15:
        raise UsageError(f"{name} is a number.")
    return int(text)


def _day(text: str | None, zone: ZoneInfo | None, plus: int = 0) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=zone or UTC)  # no zone known: UTC days
        return (day + timedelta(days=plus)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: the day after 9999-12-31, or before year 1 in UTC
        raise UsageError(f"'{text[:20]}' is not a day like 2026-11-30.") from exc
