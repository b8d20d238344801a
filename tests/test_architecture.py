"""Dependencies point inward: the core knows nothing of Slack or infrastructure SDKs."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INFRA = {"slack_bolt", "slack_sdk", "docker", "kubernetes", "psycopg", "psycopg_pool", "httpx", "sqlite_utils"}


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
