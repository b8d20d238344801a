"""`/status` (the page as the public sees it, a component set by hand) and the status page's part of `/incident`:
`publish`, `update … --public` and `resolve … --public-text` parse here; the core decides."""
from __future__ import annotations

from bot.core.status_page import PublicChange
from bot.errors import UsageError
from bot.views import status as views
from bot.views.model import Reply
from commands.base import CommandSet, Context, Services, SubCommand
from commands.parsing import first_word, split_options, take_incident_id, unquote

PUBLISH_USAGE = ("/incident publish [INC-n] <public title> [--components A,B] [--impact minor|major|critical] "
                 "[--state investigating|identified|monitoring] [--text FIRST UPDATE]")


def names(text: str, option: str) -> list[str]:
    found = [name.strip() for name in text.split(",") if name.strip()]
    if not found:
        raise UsageError(f"--{option} needs names, like A,B.")
    return found


def component_statuses(text: str) -> dict[str, str]:
    """`A=degraded_performance,B=operational` → {A: …, B: …}."""
    found = {}
    for item in names(text, "component"):
        name, sep, status = item.partition("=")
        if not sep or not name.strip() or not status.strip():
            raise UsageError(f"'{item}' is not NAME=STATUS; write --component API=partial_outage (several: A=…,B=…).")
        found[name.strip()] = status.strip()
    return found


def publish(services: Services, ctx: Context, text: str, target) -> Reply:
    """`/incident publish`: `target` finds the incident as every /incident sub-command does."""
    number, rest = take_incident_id(text)
    parsed = split_options(rest, {"components": True, "impact": True, "state": True, "text": True}, PUBLISH_USAGE)
    title = unquote(parsed.positional)
    if not title:
        raise UsageError("Missing the public title (what the public reads, not the internal title).", PUBLISH_USAGE)
    options = {key: str(value) for key, value in parsed.options.items()}
    incident = target(services, ctx, number)
    components = names(options["components"], "components") if "components" in options else None
    result = services.flows.publish(incident.number, ctx.user, title, components, options.get("impact"),
                                    options.get("state"), options.get("text"))
    answer = views.published(incident, result.value)
    answer.effects += result.effects
    return answer


def public_change(text: str, options: dict) -> PublicChange | None:
    """The public part of `/incident update`: None without --public (and --state/--component need it)."""
    if "public" not in options:
        given = [f"--{name}" for name in ("state", "component") if name in options]
        if given:
            raise UsageError(f"{' and '.join(given)} change the status page: add --public.")
        return None
    components = component_statuses(str(options["component"])) if "component" in options else None
    return PublicChange(text, str(options["state"]) if "state" in options else None, components)


def split_public_text(text: str) -> tuple[str, str | None]:
    """`<summary> --public-text "…"` → (summary, public text); the summary is otherwise taken as written."""
    summary, sep, public = text.partition("--public-text")
    if not sep:
        return text, None
    public = unquote(public)
    if not public:
        raise UsageError("--public-text needs the text the public reads.")
    return summary.strip(), public


def _show(services: Services, ctx: Context, text: str) -> Reply:
    if text:
        raise UsageError(f"Unexpected '{text}'.", COMMAND.usage("show"))
    return views.page(services.status.view())


def _component(services: Services, ctx: Context, text: str) -> Reply:
    words = text.split(None, 2) if text else []
    if len(words) < 2:
        raise UsageError("Give the component and its status.", COMMAND.usage("component"))
    name, status = words[0], words[1]
    if "=" in name:  # `API=partial_outage`, as --component writes it
        name, _, status = name.partition("=")
        words = [name, status, *(text.split(None, 1)[1:])]
    reason = unquote(words[2]) if len(words) > 2 else None
    state = services.status.set_component(ctx.user, unquote(name), status, reason or None)
    return views.component_set(state)


class StatusCommand(CommandSet):
    """`/status` alone shows the page (no sub-command needed)."""

    def handle(self, services: Services, ctx: Context, text: str) -> Reply:
        word, _ = first_word(text)
        if not word:
            return _show(services, ctx, "")
        return super().handle(services, ctx, text)


COMMAND = StatusCommand("/status", "The public status page", "| component <name> <status> [reason] | help",
                        "Statuses: operational, degraded_performance, partial_outage, major_outage, "
                        "under_maintenance. Publish an incident with /incident publish.", [
    SubCommand("show", "/status [show]", "the page as the public sees it", _show),
    SubCommand("component", "/status component <name> <operational|degraded_performance|partial_outage|"
               "major_outage|under_maintenance> [reason]", "set a component by hand (operational hands it back)",
               _component),
])
