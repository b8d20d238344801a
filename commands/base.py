"""What every command shares: who is asking (Context), the services, and one declaration per sub-command.

A sub-command is declared once — its usage line, its one-line summary and its handler together — and a
`CommandSet` builds the dispatch and the help from those declarations, so the help can never drift from
what the parser accepts.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.evidence import EvidenceService
from bot.core.flows import EvidenceFlows, IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.maintenance import MaintenanceService
from bot.core.ops import OpsService
from bot.core.records import Records
from bot.core.requests import Capabilities, capabilities
from bot.core.search import SearchService
from bot.core.status_page import StatusPageService
from bot.core.web_auth import WebLogin
from bot.errors import UsageError
from bot.views.model import Code, Headline, Reply, line, lines, note, reply
from commands.parsing import first_word, usage_on_error


@dataclass(frozen=True)
class Context:
    """Who is asking, and where. `user` is always a Slack user ID (or a console-given ID)."""

    user: str
    channel: str | None = None
    source: str = "console"  # the surface: its capabilities (bot.core.requests.SURFACES) decide, not its name
    zone: str | None = None  # the asker's IANA time zone when known (Slack profile, console machine): times show in it
    # tells the asker how a long action goes while it runs (the console prints; Slack, an ephemeral message)
    say: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    @property
    def can(self) -> Capabilities:
        return capabilities(self.source)


@dataclass
class Services:
    incidents: IncidentService
    ops: OpsService
    maintenance: MaintenanceService
    evidence: EvidenceService
    flows: IncidentFlows  # every incident change, with its effects
    evidence_flows: EvidenceFlows
    records: Records  # read models: post-mortem draft, export
    status: StatusPageService  # the public status page
    search: SearchService  # past incidents: search, similar
    web: WebLogin  # sign-in links to the web view (/ui/)


Handler = Callable[[Services, Context, str], Reply]


@dataclass(frozen=True)
class SubCommand:
    name: str
    usage: str  # the syntax line, shown in the help and with every usage error
    summary: str  # what it does, in a few words
    handler: Handler


@dataclass
class CommandSet:
    """One slash command (`/incident`, `/ops`, `/maint`) and its sub-commands."""

    name: str
    description: str  # for the Slack manifest
    hint: str  # the manifest's usage hint: the most common forms
    footer: str  # the help's closing hint
    subcommands: list[SubCommand] = field(default_factory=list)
    # `/oncall` alone, or `/oncall <schedule>`: what a bare command, or a first word that is no sub-command, runs
    bare: Callable[[Services, Context, str], Reply] | None = None

    def __post_init__(self) -> None:
        self._by_name = {sub.name: sub for sub in self.subcommands}

    def usage(self, name: str) -> str:
        return self._by_name[name].usage if name in self._by_name else f"{self.name} help"

    def help(self) -> Reply:
        items = [line(Code(sub.usage), f" — {sub.summary}") for sub in self.subcommands]
        items.append(line(Code(f"{self.name} help"), " — this help"))
        return reply(f"{self.name} help", Headline(self.name), lines(items), note(self.footer))

    def handle(self, services: Services, ctx: Context, text: str) -> Reply:
        word, rest = first_word(text)
        name = word.lower()
        if name == "help" or (name == "" and self.bare is None):
            return self.help()
        sub = self._by_name.get(name)
        if sub is None and self.bare is not None:
            return self.bare(services, ctx, text.strip())
        if sub is None:
            choices = ", ".join([*self._by_name, "help"])
            raise UsageError(f"Unknown sub-command '{word}'. Try one of: {choices}.", f"{self.name} help")
        with usage_on_error(sub.usage):
            return sub.handler(services, ctx, rest.strip())
