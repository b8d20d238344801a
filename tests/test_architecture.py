"""The layers, checked: which of our packages may import which, what each may load of the outside world, and
that importing any module creates no client, scheduler, connection or thread.

The layer table is read statically (every import in every module, function-level ones included; imports
under `if TYPE_CHECKING:` are for annotations only and are skipped). The probes run real imports in a fresh
interpreter, so an indirect import (core → store → psycopg) is caught too.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The catalog's models: bot/config, and each platform and check kind's settings, which live beside the kind's code
# but import only pydantic and bot.kinds (their shared base), so that bot.config can build its discriminated unions
# from them without loading an adapter. Whoever may read the catalog may import them.
CONFIG = {"bot.config", "bot.kinds", "bot.platforms.settings", "bot.checks.settings"}
# package → the first-party packages it may import (itself always allowed). Ordered inner to outer.
LAYERS: dict[str, set[str]] = {
    "bot.errors": set(),
    "bot.timeparse": set(),
    "bot.paths": set(),  # the default data directory (standard library only)
    "bot.asgi": set(),  # reading a capped request body (standard library only)
    "bot.kinds": set(),
    "bot.platforms.settings": {"bot.kinds"},
    "bot.checks.settings": {"bot.kinds"},
    # config.schedule validates cron lines with the scheduler's own parser (imported only when a catalog has one)
    "bot.config": {"bot.errors", "bot.timeparse", "bot.paths", "bot.scheduler.triggers", *CONFIG},
    "bot.core": {"bot.errors", "bot.timeparse", *CONFIG},
    "bot.views": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core"},
    "bot.store": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core"},
    "bot.platforms": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core"},
    "bot.checks": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core"},
    "bot.evidence": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core"},
    "bot.scheduler": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core", "bot.store"},
    "commands": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core", "bot.views"},
    # opsbot's own metrics (prometheus-client) and log format: cross-cutting, but they see only the core's models
    "bot.metrics": {"bot.errors", *CONFIG, "bot.core"},
    "bot.logs": {"bot.errors", "bot.core"},
    # alert payloads → typed alert groups → the core; served over HTTP by bot.http
    "bot.alerts": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core", "bot.asgi"},
    "bot.slack": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core", "bot.views", "commands", "bot.scheduler",
                  "bot.snapshots", "bot.logs", "bot.alerts", "bot.asgi"},
    # the one HTTP app: mounts what the composition root hands it (alert intake, Slack's endpoint), no Slack library
    "bot.http": {"bot.errors", "bot.asgi", "bot.alerts", "bot.metrics", "bot.slack"},
    # without a chat surface (`opsbot serve` with Slack off), effects and reminders go to the log
    "bot.nochat": {"bot.errors", "bot.core", "bot.snapshots"},
    "bot.snapshots": {"bot.core"},  # health snapshots in the background, for every surface's effect handler
    # the surfaces and the composition root wire everything
    "bot.console": {"bot.errors", *CONFIG, "bot.core", "bot.views", "commands"},
    # the web view's pages: the core's read models rendered by the views (bot.http only signs people in)
    "bot.webui": {"bot.errors", "bot.timeparse", *CONFIG, "bot.core", "bot.views"},
    "bot.app": {"*"},
    "bot.cli": {"*"},
    "bot": set(),  # bot/__init__.py
}
# Third-party libraries and the only packages allowed to import them.
LIBRARIES: dict[str, set[str]] = {
    "slack_bolt": {"bot.slack"}, "slack_sdk": {"bot.slack"}, "aiohttp": {"bot.slack"},
    "starlette": {"bot.http"}, "uvicorn": {"bot.http"},
    "apscheduler": {"bot.scheduler"},
    "docker": {"bot.platforms"}, "kubernetes": {"bot.platforms", "bot.checks"}, "requests": {"bot.platforms"},
    "psycopg": {"bot.store", "bot.scheduler", "bot.checks", "bot.evidence"}, "psycopg_pool": {"bot.store"},
    "sqlite_utils": {"bot.store"}, "redis": {"bot.checks", "bot.evidence"}, "httpx": {"bot.checks", "bot.slack"},
    "prometheus_client": {"bot.metrics"}, "asyncssh": {"bot.platforms"},
}
INFRASTRUCTURE = sorted(LIBRARIES)


def layer_of(module: str) -> str:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def first_party_modules() -> list[Path]:
    return sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "commands").rglob("*.py")])


def runtime_imports(path: Path) -> list[str]:
    """Every module imported by `path`, at any depth, except annotation-only imports under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def allowed(importer: str, imported: str) -> bool:
    layer, target = layer_of(importer), layer_of(imported)
    grants = LAYERS[layer]
    return target == layer or "*" in grants or any(imported == g or imported.startswith(g + ".") or target == g
                                                   for g in grants)


def test_imports_are_absolute_so_the_layer_table_sees_them():
    relative = [f"{module_name(path)}:{node.lineno}" for path in first_party_modules()
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []


def test_every_first_party_import_follows_the_layer_table():
    offenders = []
    for path in first_party_modules():
        importer = module_name(path)
        for imported in runtime_imports(path):
            top = imported.split(".")[0]
            if top in ("bot", "commands"):
                if imported in ("bot", "commands"):  # `from bot import x`: judged by its submodule entry
                    continue
                if not allowed(importer, imported):
                    offenders.append(f"{importer} imports {imported}")
            elif top in LIBRARIES and layer_of(importer) not in LIBRARIES[top] | {"bot.app", "bot.cli"}:
                offenders.append(f"{importer} imports {top}")
    assert sorted(set(offenders)) == []


# What only the composition root constructs, wherever it is called from, and where else its construction is its own
# definition: the HTTP app is made in its one factory (bot.http.app.create_app), which only the root calls.
COMPOSITION_ROOT = {"bot.app", "bot.cli"}
BUILT_BY_THE_ROOT: dict[str, set[str]] = {
    "MeteredWebClient": COMPOSITION_ROOT, "MeteredSyncWebClient": COMPOSITION_ROOT, "AsyncWebClient": COMPOSITION_ROOT,
    "WebClient": COMPOSITION_ROOT,
    "AsyncApp": COMPOSITION_ROOT, "SlackConversations": COMPOSITION_ROOT, "SlackSurface": COMPOSITION_ROOT,
    "SocketMode": COMPOSITION_ROOT, "AlertEndpoint": COMPOSITION_ROOT, "SchedulerRunner": COMPOSITION_ROOT,
    "create_app": COMPOSITION_ROOT, "Starlette": {"bot.http.app"},
    # the services, adapters, router and metrics
    **{name: COMPOSITION_ROOT for name in (
        "IncidentService", "OpsService", "MaintenanceService", "EvidenceService", "AlertService", "IncidentFlows",
        "EvidenceFlows", "Records", "CheckRunner", "ScriptRunner", "Platforms", "Router", "InfraCollectors",
        "DirectoryStorage", "Metrics", "MeteredStore", "ReminderEngine")},
}


def constructions(path: Path) -> list[tuple[str, int]]:
    """(name, line) of each call of a name in BUILT_BY_THE_ROOT, bare or as an attribute, aliases included."""
    tree = ast.parse(path.read_text())
    aliases = {alias.asname: alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)
               for alias in node.names if alias.asname and alias.name.rsplit(".", 1)[-1] in BUILT_BY_THE_ROOT}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            name = aliases.get(name, name).rsplit(".", 1)[-1]
            if name in BUILT_BY_THE_ROOT:
                found.append((name, node.lineno))
    return found


def test_only_the_composition_root_builds_services_clients_the_slack_app_the_http_app_and_the_scheduler():
    offenders = [f"{module_name(path)}:{line} constructs {name}" for path in first_party_modules()
                 for name, line in constructions(path) if module_name(path) not in BUILT_BY_THE_ROOT[name]]
    assert offenders == []
    # and the root does build them (a rename would otherwise leave the rule checking nothing)
    root = {name for name, _ in constructions(ROOT / "bot" / "app.py")}
    assert set(BUILT_BY_THE_ROOT) - {"Starlette", "AsyncWebClient", "WebClient"} <= root


PROBE = """
import importlib, json, sys
targets = sys.argv[1:]
for name in targets:
    importlib.import_module(name)
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def loaded_by(*modules: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out))


def core_modules() -> list[str]:
    return [module_name(p) for p in sorted((ROOT / "bot" / "core").glob("*.py"))]


def test_importing_the_core_loads_no_sdk_driver_client_or_scheduler():
    assert loaded_by(*core_modules()) & set(INFRASTRUCTURE) == set()


def test_importing_commands_loads_no_slack_library():
    modules = [module_name(p) for p in sorted((ROOT / "commands").glob("*.py"))]
    assert loaded_by(*modules) & {"slack_bolt", "slack_sdk", "aiohttp", "apscheduler"} == set()


def test_reading_the_catalog_loads_each_kinds_settings_but_no_adapter():
    """bot.config builds its unions from the settings beside each kind's code: importing it (first, or after any
    of those modules) loads them and their packages, never an adapter, a check or an SDK."""
    for first in ("bot.config", "bot.kinds", "bot.platforms", "bot.platforms.settings", "bot.checks.settings"):
        script = f"import json, sys, {first}, bot.config; print(json.dumps(sorted(sys.modules)))"
        modules = set(json.loads(subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                                                text=True, check=True).stdout))
        adapters = {m for m in modules if m.startswith(("bot.platforms", "bot.checks"))}
        assert adapters == {"bot.platforms", "bot.platforms.settings", "bot.checks", "bot.checks.settings"}, first
        assert {m.split(".")[0] for m in modules} & set(INFRASTRUCTURE) == set(), first


def test_a_new_platform_or_check_kind_is_its_module_plus_one_registry_line():
    """What opsbot.yml may name (the unions, one model per kind) and what runs it (the tables keyed by kind) list
    the same kinds; each kind's code takes its own settings; the catalog uses the unions themselves."""
    import inspect
    import typing

    from bot.checks.runner import KINDS
    from bot.checks.settings import AnyCheck
    from bot.config.environments import Environment
    from bot.kinds import kinds_of
    from bot.platforms import ADAPTERS, adapter_class
    from bot.platforms.settings import AnyPlatform

    platforms, checks = kinds_of(AnyPlatform), kinds_of(AnyCheck)
    assert sorted(platforms) == sorted(ADAPTERS), "a platform kind needs its model in AnyPlatform and an ADAPTERS line"
    assert sorted(checks) == sorted(KINDS), "a check kind needs its model in AnyCheck and a KINDS line"
    for kind in platforms:
        assert {"env_name", "env", "memory"} <= set(inspect.signature(adapter_class(kind)).parameters), kind
    for kind, model in checks.items():
        assert typing.get_type_hints(KINDS[kind])["check"] is model, kind
    fields = Environment.model_fields
    assert typing.get_args(fields["platform"].annotation)[0] is AnyPlatform
    assert typing.get_args(fields["checks"].annotation)[0] is AnyCheck


# Importing every module with the constructors of clients, schedulers and connections recording their calls.
NO_WORK_PROBE = """
import importlib, json, socket, sqlite3, sys, threading
import aiohttp, apscheduler.schedulers.base, docker, httpx, kubernetes.client, psycopg, psycopg_pool, redis
import slack_bolt, slack_bolt.async_app, slack_sdk, slack_sdk.web.async_client
calls = []

def record(owner, name):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        calls.append(f"{getattr(owner, '__name__', owner)}.{name}")
        return original(*args, **kwargs)
    setattr(owner, name, wrapper)

for owner, name in [
    (apscheduler.schedulers.base.BaseScheduler, "__init__"), (docker.DockerClient, "__init__"),
    (kubernetes.client.ApiClient, "__init__"), (psycopg, "connect"), (psycopg_pool.ConnectionPool, "__init__"),
    (sqlite3, "connect"), (httpx.Client, "__init__"), (httpx.AsyncClient, "__init__"),
    (aiohttp.ClientSession, "__init__"), (slack_sdk.WebClient, "__init__"),
    (slack_sdk.web.async_client.AsyncWebClient, "__init__"), (slack_bolt.App, "__init__"),
    (slack_bolt.async_app.AsyncApp, "__init__"), (redis.Redis, "__init__"), (socket.socket, "connect"),
    (threading.Thread, "start"),
]:
    record(owner, name)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(calls))
"""


def test_no_module_creates_a_client_scheduler_connection_or_thread_at_import():
    modules = [module_name(p) for p in first_party_modules()]
    out = subprocess.run([sys.executable, "-c", NO_WORK_PROBE, *modules], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == []


def test_manifest_help_and_readme_list_the_same_commands():
    from bot.slack.manifest import manifest_commands
    from bot.views.text import to_text
    from commands.router import COMMAND_SETS, overview

    names = [command.name for command in COMMAND_SETS]
    assert manifest_commands() == names
    help_text = to_text(overview())
    readme = (ROOT / "README.md").read_text()
    for command in COMMAND_SETS:
        assert f"{command.name} help" in help_text and f"`{command.name}" in readme
        own_help = to_text(command.help())
        for sub in command.subcommands:
            assert sub.usage in own_help and sub.usage in help_text
            assert f"{command.name} {sub.name}" in readme, f"README does not show {command.name} {sub.name}"


def test_slack_command_listeners_are_registered_from_the_router_list():
    from bot.app import build
    from bot.config import Settings
    from bot.slack.app import SlackHandlers
    from bot.slack.conversations import SlackConversations
    from bot.slack.middleware import Pipeline
    from commands.router import COMMANDS

    class Registrar:  # records what is registered, the way AsyncApp's decorators are called
        def __init__(self):
            self.commands: list[str] = []

        def command(self, name):
            self.commands.append(name)
            return lambda listener: listener

        def __getattr__(self, kind):
            return lambda *args: (lambda listener: listener)

    opsbot = build(settings=Settings(database_url="sqlite:///:memory:"))
    try:
        registrar = Registrar()
        handlers = SlackHandlers(opsbot, SlackConversations(None, opsbot.services.incidents, opsbot.catalog,
                                                              opsbot.services.evidence.snapshot),
                                 Pipeline(opsbot.store.remember_delivery))
        handlers.register(registrar)
        assert registrar.commands == list(COMMANDS)
    finally:
        opsbot.close()


def test_the_manifest_file_is_the_rendered_manifest():
    from bot.slack.manifest import render_manifest

    assert (ROOT / "manifest.yml").read_text() == render_manifest()
    assert not (ROOT / "bot" / "manifest.yml").exists()


def test_manifest_cli_fills_in_urls_and_has_a_socket_mode_variant():
    import yaml

    from bot.slack.manifest import render_manifest

    http = yaml.safe_load(render_manifest("https://ops.example.com/"))
    assert {c["url"] for c in http["features"]["slash_commands"]} == {"https://ops.example.com/slack/events"}
    assert http["settings"]["interactivity"]["request_url"] == "https://ops.example.com/slack/events"
    socket = yaml.safe_load(render_manifest(socket=True))
    assert socket["settings"]["socket_mode_enabled"] is True
    assert all("url" not in c for c in socket["features"]["slash_commands"])
    scopes = set(http["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "channels:manage", "pins:write", "files:write", "reactions:read"} <= scopes


# --- who may construct what ----------------------------------------------------------------------------------
def calls_of(path: Path) -> list[tuple[str, int]]:
    """The names called in a module (`Name(...)` or `module.Name(...)`), with their lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name:
                found.append((name, node.lineno))
    return found


EFFECTS = {"IncidentOpened", "IncidentChanged", "PlanAwaitingConfirmation", "HealthSnapshot", "Announcement",
           "AskCommander"}


def test_commands_hold_no_block_kit_or_mrkdwn_their_replies_are_neutral():
    """Commands build neutral replies (bot.views.model, through the topic views); Block Kit and mrkdwn are the
    Slack renderer's (bot.views.blocks, bot.views.channel, bot.views.mrkdwn's escaping and mentions)."""
    slack_only = ("bot.views.blocks", "bot.views.channel", "bot.views.mrkdwn.escape", "bot.views.mrkdwn.mention",
                  "bot.views.mrkdwn.render", "bot.views.mrkdwn.clipped")
    offenders = [f"{module_name(path)} imports {name}" for path in sorted((ROOT / "commands").rglob("*.py"))
                 for name in runtime_imports(path) if name.startswith(slack_only)]
    offenders += [f"{module_name(path)}:{line}: {text!r}" for path in sorted((ROOT / "commands").rglob("*.py"))
                  for text, line in string_constants(path) if text in ("mrkdwn", "plain_text", "section", "header")
                  or re.search(r"<@[A-Z0-9]|<#[A-Z0-9]|<!|(?<![\w*])\*[^*\s][^*]*\*(?![\w*])", text)]
    assert offenders == []


def test_commands_construct_no_effects_the_core_emits_them():
    offenders = [f"{module_name(path)}:{line} constructs {name}" for path in sorted((ROOT / "commands").rglob("*.py"))
                 for name, line in calls_of(path) if name in EFFECTS]
    assert offenders == []


SLASH_SYNTAX = re.compile(r"(?<![\w/])/(?:incident|ops|maint)\b")


def string_constants(path: Path) -> list[tuple[str, int]]:
    """Every string literal but docstrings (f-strings' literal parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.value, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_core_holds_no_slash_command_syntax_and_builds_no_reply():
    core = sorted((ROOT / "bot" / "core").rglob("*.py"))
    offenders = [f"{module_name(path)}:{line}: {text!r}" for path in core for text, line in string_constants(path)
                 if SLASH_SYNTAX.search(text)]
    offenders += [f"{path.name}: slash-command syntax" for path in sorted((ROOT / "bot" / "core").rglob("*.j2"))
                  if SLASH_SYNTAX.search(path.read_text())]
    # Replies are the views' (the layer table keeps bot.views out of the core); no Block Kit is built here either.
    offenders += [f"{module_name(path)}:{line}: Block Kit {text!r}" for path in core
                  for text, line in string_constants(path) if text in ("mrkdwn", "plain_text", "actions", "section")]
    assert offenders == []


def test_rules_ask_a_surface_what_it_can_do_never_its_name():
    """`ctx.source == "slack"` would let a new surface (the web) skip a rule: capabilities decide (SURFACES)."""
    names = {"slack", "console", "web", "scheduler"}
    offenders = []
    for path in first_party_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(isinstance(side, ast.Attribute) and side.attr in ("source", "surface") for side in sides)
                if named and any(isinstance(side, ast.Constant) and side.value in names for side in sides):
                    offenders.append(f"{module_name(path)}:{node.lineno}")
    assert offenders == []


def test_the_readme_names_every_platform_and_check_kind_there_is():
    from bot.checks.runner import KINDS
    from bot.platforms import ADAPTERS

    readme = (ROOT / "README.md").read_text()
    checks = readme[readme.index("- **Checks**"):readme.index("- **Platforms**")]
    platforms = readme[readme.index("- **Platforms**"):readme.index("- **Logs**")]
    assert [kind for kind in KINDS if f"`{kind}`" not in checks] == []
    assert [kind for kind in ADAPTERS if kind.lower() not in platforms.lower()] == []
