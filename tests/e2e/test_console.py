"""`opsbot` as a subprocess, the way an operator runs it."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

SESSION = """\
/incident open p1 Database connection errors --impact "checkout fails for ~30% of users" --service api --env local
/incident ack INC-1
/incident role INC-1 scribe @U_BOB
/incident note INC-1 pg_stat_activity shows 190/200 connections, pool exhausted
/incident status INC-1 mitigated restarted app, raised pool size to 50
/incident update INC-1 error rate back under 0.1%, monitoring
/incident action INC-1 add "alert on connection pool > 80%" @U_BOB due 2030-12-01
/incident resolve INC-1 pool exhausted by a leaking worker; fixed in v1.4.2
/incident postmortem INC-1
/incident list --all
"""


def opsbot(args: list[str], env_url: str, stdin: str = "", cwd: Path | None = None,
           config: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPSBOT_DATABASE_URL": env_url}
    env.pop("OPSBOT_CONFIG", None)
    if config:
        env["OPSBOT_CONFIG"] = config
    # The console saves attachments (post-mortem drafts, long output) in its current directory: never the checkout's.
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True,
                          check=False, text=True, env=env, timeout=60, cwd=cwd or tempfile.mkdtemp(prefix="opsbot-"))


def test_whole_incident_from_the_console_then_a_second_process_sees_it(store_url, tmp_path):
    first = opsbot(["console", "--user", "U_ALICE"], store_url, SESSION, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    # the draft Slack would attach is saved where the console runs, and the reply says where
    [draft] = tmp_path.glob("*-inc-1-*.md")
    assert f"(saved as {draft})" in out and "## 1. Incident Summary" in draft.read_text()
    assert "INC-1 · P1 · Database connection errors" in out
    assert "## 1. Incident Summary" in out and "## 6. Lessons Learned" in out
    assert "| 1 | alert on connection pool > 80% | @U_BOB | 2030-12-01 | no |" in out
    assert "| Time to acknowledge |" in out
    assert "INC-1 P1 resolved — Database connection errors" in out
    assert "Traceback" not in out + first.stderr and '{"' not in out

    second = opsbot(["console", "--user", "U_BOB"], store_url, "/incident show INC-1\n/incident close\n")
    assert second.returncode == 0, second.stderr
    assert "Scribe: @U_BOB" in second.stdout and "INC-1 closed." in second.stdout


def test_bad_input_in_the_console_is_answered_and_the_session_goes_on(sqlite_url):
    result = opsbot(["console"], sqlite_url, "/incident open p9 x\nfrob\n/incident list\n")
    assert result.returncode == 0
    assert "'p9' is not a severity" in result.stdout
    assert "Unknown command '/frob'" in result.stdout
    assert "No open incidents" in result.stdout


def test_postmortem_command_writes_the_dated_file(sqlite_url, tmp_path):
    opsbot(["console"], sqlite_url, "/incident open p2 Slow search\n")
    result = opsbot(["postmortem", "inc-1", "--out", str(tmp_path / "incidents")], sqlite_url)
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.parent == tmp_path / "incidents" and written.name.endswith("-slow-search.md")
    assert written.read_text().startswith("# Post-mortem: INC-1 — Slow search")


def test_unreachable_store_exits_naming_the_url_without_the_password(sqlite_url):
    result = opsbot(["console"], "postgresql://ops:hunter2@127.0.0.1:1/opsbot", "")
    assert result.returncode == 1
    assert "postgresql://ops:***@127.0.0.1:1/opsbot" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_check_config_prints_each_problem_and_fails(sqlite_url, tmp_path):
    bad = tmp_path / "opsbot.yml"
    bad.write_text("severities:\n  P1: {name: High, response: soon}\nbogus: 1\n")
    result = opsbot(["check-config", "--config", str(bad)], sqlite_url)
    assert result.returncode == 2
    assert "config error: severities.P1.response" in result.stderr
    assert "config error: bogus" in result.stderr
    good = opsbot(["check-config"], sqlite_url, config=str(Path(__file__).parents[2] / "opsbot.example.yml"))
    assert good.returncode == 0 and "OK" in good.stdout


def test_console_with_no_config_keeps_its_database_in_the_data_directory_whatever_the_cwd(tmp_path):
    """The default database is $HOME/.local/share/opsbot/opsbot.db (XDG), not the current directory: a second
    command run elsewhere sees the same data; creating it is said on stderr; a read-only command on a missing one
    says so instead of reporting on an empty database it just made."""
    home, first_dir, second_dir = tmp_path / "home", tmp_path / "a", tmp_path / "b"
    for directory in (home, first_dir, second_dir):
        directory.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSBOT_") and k != "XDG_DATA_HOME"}
    env["HOME"] = str(home)
    database = home / ".local/share/opsbot/opsbot.db"

    def run(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True,
                              check=False, text=True, env=env, cwd=cwd, timeout=60)

    helped = run(["--help"], first_dir)
    assert str(database) in " ".join(helped.stdout.split())
    missing = run(["audit", "verify"], first_dir)
    assert missing.returncode == 1 and f"no database at {database}" in missing.stderr
    assert "0 records" not in missing.stdout and not database.exists()

    first = run(["console"], first_dir, "/incident open p3 Typo\n")
    assert first.returncode == 0, first.stderr
    assert "INC-1 · P3 · Typo" in first.stdout
    assert f"created a new empty database at {database}" in first.stderr
    assert database.exists() and not (first_dir / "opsbot.db").exists()
    second = run(["console"], second_dir, "/incident list\n")
    assert "INC-1" in second.stdout and "created a new" not in second.stderr
    verified = run(["audit", "verify"], second_dir)
    assert verified.returncode == 0 and "audit log verified" in verified.stdout and not verified.stderr


def test_health_and_audit_commands(sqlite_url, tmp_path):
    config = tmp_path / "opsbot.yml"
    config.write_text(
        "environments:\n"
        "  staging:\n"
        "    checks:\n"
        "      - {name: self, kind: tcp, host: 127.0.0.1, port: 5432}\n"
        "    runbook:\n"
        f"      hello: {{argv: [{sys.executable!r}, -c, \"print('hi DB_PASSWORD=x1')\"]}}\n")
    health = opsbot(["health", "staging"], sqlite_url, config=str(config))
    assert health.returncode == 0, health.stdout + health.stderr
    assert "Health · staging — ✅ healthy" in health.stdout and "✅ self (tcp)" in health.stdout
    ran = opsbot(["console", "--user", "U_OPS"], sqlite_url, "/ops run hello staging\n", config=str(config))
    assert "Done" in ran.stdout and "x1" not in ran.stdout
    verified = opsbot(["audit", "verify"], sqlite_url, config=str(config))
    assert verified.returncode == 0 and "verified: 3 records" in verified.stdout
    assert "not checked: no checkpoint" in verified.stdout  # it says what it could not check
    exported = opsbot(["audit", "export", "--format", "jsonl"], sqlite_url, config=str(config))
    assert len(exported.stdout.splitlines()) == 3 and "x1" not in exported.stdout
    csv_export = opsbot(["audit", "export", "--format", "csv"], sqlite_url, config=str(config))
    assert csv_export.stdout.splitlines()[0].startswith("seq,")
    import sqlite3

    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    db.execute("DROP TRIGGER audit_no_update")  # someone with the database file in hand
    record = db.execute("SELECT record FROM audit WHERE seq = 2").fetchone()[0]
    db.execute("UPDATE audit SET record = ? WHERE seq = 2", (record.replace("U_OPS", "U_EVE"),))
    db.commit()
    db.close()
    tampered = opsbot(["audit", "verify"], sqlite_url, config=str(config))
    assert tampered.returncode == 1 and "record 2 was edited" in tampered.stderr


def test_bad_setting_in_the_environment_is_named_without_its_value(sqlite_url, monkeypatch):
    env = {"OPSBOT_SLACK_WORKERS": "0", "PORT": "s3cr3t", "SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "x"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = opsbot(["serve"], sqlite_url)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "config error: OPSBOT_SLACK_WORKERS: Input should be greater than or equal to 1",
        "config error: PORT: Input should be a valid integer, unable to parse string as an integer"]
    assert "s3cr3t" not in result.stderr and "Traceback" not in result.stderr


def test_cli_errors_are_sentences_not_tracebacks(sqlite_url, tmp_path):
    opened = opsbot(["console"], sqlite_url, "/incident open p2 Typo\n")
    assert opened.returncode == 0
    huge = opsbot(["postmortem", "INC-99999999999999999999"], sqlite_url)
    assert huge.returncode == 2 and "is not an incident id" in huge.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    nowhere = opsbot(["postmortem", "INC-1", "--out", str(blocked / "dir")], sqlite_url)
    assert nowhere.returncode == 1 and "cannot write" in nowhere.stderr
    for result in (huge, nowhere):
        assert "Traceback" not in result.stderr


def test_audit_export_into_a_closed_pipe_ends_quietly(sqlite_url):
    from datetime import UTC, datetime

    from bot.core.audit import AuditRecord
    from bot.store import open_store

    store = open_store(sqlite_url)
    for i in range(3000):  # more than a pipe buffer holds
        store.append_audit(AuditRecord(at=datetime.now(UTC), attempt=f"a-{i}", phase="succeeded", user="U_OPS"))
    store.close()
    env = {**os.environ, "OPSBOT_DATABASE_URL": sqlite_url}
    shell = f"{sys.executable} -m bot.cli audit export --format jsonl | head -c 10"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2], timeout=60, check=False)
    assert len(result.stdout) == 10 and result.stderr == ""


def test_console_refuses_a_channel_name_of_no_incident_instead_of_using_the_open_one(sqlite_url):
    opsbot(["console"], sqlite_url, "/incident open p2 Slow search\n")
    result = opsbot(["console", "--channel", "#inc-4-slow-search"], sqlite_url, "/incident ack\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "opsbot: No incident channel is named #inc-4-slow-search: there is no INC-4."
    shown = opsbot(["console", "--channel", "inc-1"], sqlite_url, "/incident show\n")
    assert "INC-1 · P2 · Slow search" in shown.stdout and "declared" in shown.stdout
