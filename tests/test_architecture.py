"""Dependencies point inward: the core knows nothing of Slack or infrastructure SDKs."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INFRA = {"slack_bolt", "slack_sdk", "docker", "kubernetes", "psycopg", "psycopg_pool", "httpx", "sqlite_utils",
         "redis", "aiohttp"}


def imported_modules(folder: Path):
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module.split(".")[0]


def test_core_imports_no_slack_or_infrastructure_sdk():
    offenders = [(str(p.relative_to(ROOT)), m) for p, m in imported_modules(ROOT / "bot" / "core") if m in INFRA]
    assert offenders == []


def test_commands_import_no_slack_bolt():
    offenders = [(str(p.relative_to(ROOT)), m) for p, m in imported_modules(ROOT / "commands")
                 if m in ("slack_bolt", "slack_sdk")]
    assert offenders == []


def test_no_module_creates_connections_at_import_time():
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "commands").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                name = ast.unparse(node.value.func)
                assert not any(word in name for word in ("connect", "Pool", "Settings", "Store", "App")), \
                    f"{path.relative_to(ROOT)}: {ast.unparse(node)}"


def test_manifest_help_and_readme_list_the_same_commands():
    from bot.blocks import to_text
    from bot.slack.manifest import manifest_commands
    from commands.help import overview
    from commands.router import COMMANDS

    assert sorted(manifest_commands()) == sorted(COMMANDS)
    help_text = to_text(overview(COMMANDS))
    readme = (ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert command in help_text and f"`{command}" in readme


def test_packaged_manifest_is_the_top_level_one():
    assert (ROOT / "bot" / "manifest.yml").read_text() == (ROOT / "manifest.yml").read_text()


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


def test_slack_is_only_imported_by_bot_slack():
    offenders = [(str(p.relative_to(ROOT)), m) for p, m in imported_modules(ROOT / "bot")
                 if m in ("slack_bolt", "slack_sdk") and "slack" not in p.relative_to(ROOT / "bot").parts]
    assert offenders == []
