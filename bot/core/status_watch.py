"""A status page that cannot quietly lie: each `/ops health` run is compared with what the page says.

- A component whose checks fail (❌) while the page calls it operational and no open public incident names it: the
  channel is told, with the command that would publish it.
- A public incident whose components' checks have all passed for 30 minutes: its channel is asked whether to move
  it to monitoring.
The checks are those of a person's `/ops health`, and the scheduler leader's own run every `status_page.watch_every`
(`environments_watched` says which environments it checks).
It never publishes by itself: a person decides what the public reads. Each notice is said once (per incident, or
per outage of a component), remembered in the store, so replicas and repeated runs do not repeat it."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.config.catalog import Catalog
from bot.core.effects import Effect, StatusPageNotice
from bot.core.ports import HealthReport, Store
from bot.core.status_models import ComponentStatus, PublicState, StatusSnapshot

HEALTHY_FOR = timedelta(minutes=30)


def environments_watched(catalog: Catalog) -> list[str]:
    """The environments whose checks some component names (`checks: [env/check]`)."""
    return sorted({ref.split("/", 1)[0] for c in catalog.status_page.components for ref in c.checks})


class StatusWatch:
    def __init__(self, store: Store, catalog: Catalog):
        self.store, self.catalog = store, catalog
        self.page = catalog.status_page

    def seen(self, reports: list[HealthReport], snapshot: StatusSnapshot, now: datetime,
             incident: int | None = None) -> list[Effect]:
        """`incident`: the incident whose channel the check ran in, where a notice about a component goes. Several
        reports (the scheduler's run over every environment) are judged together: a public incident spanning two
        environments is healthy only when the checks of both pass."""
        checked = {f"{report.env}/{r.name}": r.level for report in reports for r in report.results}
        notices: list[Effect] = []
        for component in self.page.components:
            mine = {ref: checked[ref] for ref in component.checks if ref in checked}
            if not mine:
                continue
            failing = sorted(ref for ref, level in mine.items() if level == "crit")
            named = [i for i in snapshot.open_incidents if component.name in i.components]
            shown = snapshot.components.get(component.name)
            if failing and not named and (shown is None or shown.status is ComponentStatus.OPERATIONAL):
                notices += self._unpublished(component.name, failing, incident)
            elif not failing:
                self.store.remember(f"status-watch:down:{component.name}", {"told": False})
        for public in snapshot.open_incidents:
            if public.state is not PublicState.MONITORING:
                notices += self._healthy(public.id, public.number, public.components, checked, now)
        return notices

    def _unpublished(self, name: str, failing: list[str], incident: int | None) -> list[Effect]:
        key = f"status-watch:down:{name}"
        if (self.store.recall(key) or {}).get("told"):
            return []  # said once per outage: until its checks pass again
        self.store.remember(key, {"told": True})
        return [StatusPageNotice(number=incident, kind="unpublished", component=name, failing=tuple(failing))]

    def _healthy(self, public_id: str, number: int, components: dict, checked: dict, now: datetime) -> list[Effect]:
        refs = [ref for c in self.page.components if c.name in components for ref in c.checks]
        seen = [checked[ref] for ref in refs if ref in checked]
        if not seen:
            return []  # none of its checks ran here: nothing to say
        key = f"status-watch:healthy:{public_id}"
        memory = self.store.recall(key) or {}
        if any(level != "ok" for level in seen):
            self.store.remember(key, {"since": None, "asked": memory.get("asked", False)})
            return []
        since = datetime.fromisoformat(memory["since"]) if memory.get("since") else now
        if memory.get("asked") or now - since < HEALTHY_FOR:
            if not memory.get("since"):
                self.store.remember(key, {"since": now.isoformat(), "asked": False})
            return []
        self.store.remember(key, {"since": since.isoformat(), "asked": True})
        minutes = int((now - since).total_seconds() // 60)
        return [StatusPageNotice(number=number, kind="healthy", minutes=minutes)]
