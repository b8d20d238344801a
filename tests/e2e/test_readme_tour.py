"""The README's tour, typed into `opsbot console` on the defaults (no opsbot.yml, no OPSBOT_DATABASE_URL, a fresh
HOME): every line gets an answer and none is an error."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tour_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A tour\n.*?```\n(.*?)```", readme, re.DOTALL)
    assert block, "the README has no tour"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_tour_works_on_the_defaults(tmp_path):
    commands = tour_commands()
    assert any(c.startswith("/ops ") for c in commands) and any(c.startswith("/maint ") for c in commands)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSBOT_") and k != "XDG_DATA_HOME"}
    env["HOME"] = str(tmp_path)
    outputs = []
    for command in commands:  # one process per line, so each answer is known to belong to its command
        result = subprocess.run([sys.executable, "-m", "bot.cli", "console", "--user", "U_ME"], input=command + "\n",
                                capture_output=True, check=False, text=True, env=env, cwd=tmp_path, timeout=60)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip(), command
        # The console's error presenter answers "⚠️ <reason>" and the usage; a reply may warn further down.
        assert not result.stdout.startswith("⚠️") and "Usage:" not in result.stdout, (command, result.stdout)
        outputs.append(result.stdout)
    joined = "\n".join(outputs)
    assert "INC-1 · P1 · Database connection errors" in joined
    assert "Health · local" in joined and "opsbot-serve" in joined
    assert "✅ Done: run disk in local: `df -h`" in joined and "Filesystem" in joined
    assert "MW-1 scheduled by @U_ME — local: kernel upgrade" in joined
    assert (tmp_path / ".local/share/opsbot/opsbot.db").exists()
