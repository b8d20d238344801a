"""Runbook actions as processes: output kept bounded (first and last megabyte, the rest counted), redacted as it
streams; a timeout stops the whole process group; the child dies with opsbot, even by kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from bot.config.environments import RunbookAction
from bot.errors import BackendError
from bot.platforms.script import KeptOutput, ScriptRunner
from tests.poll import wait_until


def action(code: str, timeout_s: float = 30) -> RunbookAction:
    return RunbookAction(argv=[sys.executable, "-c", textwrap.dedent(code)], timeout_s=timeout_s)


def test_a_huge_output_keeps_its_start_and_end_and_says_how_much_lay_between():
    code, text = ScriptRunner(keep=64 * 1024).run(action("""
        import sys
        print("first line")
        line = "x" * 99 + "\\n"
        for _ in range(200_000):  # 20 MB
            sys.stdout.write(line)
        print("DATABASE_URL=postgres://app:Sup3rS3cretPw@db/shop")
        print("last line")
    """), {})
    assert code == 0 and text.startswith("first line\n") and text.endswith("last line\n")
    assert len(text) < 200 * 1024
    assert "of output not kept; 19.1 MB in all …]" in text
    assert "Sup3rS3cretPw" not in text and "postgres://app:***@db/shop" in text


def test_a_small_output_is_kept_whole_with_stderr_in_order():
    code, text = ScriptRunner().run(action("""
        import sys
        print("out", flush=True); print("err", file=sys.stderr, flush=True); print("out again")
        sys.exit(3)
    """), {})
    assert (code, text) == (3, "out\nerr\nout again\n")


def test_kept_output_holds_a_bounded_amount_whatever_the_chunking():
    kept = KeptOutput(10)
    for chunk in (b"0123\n", b"456789\nab", b"c\n" * 50, b"tail-1\ntail-2\n"):
        kept.add(chunk)
    assert kept.tail_size < 10 + len(b"c\n" * 50) + 20 and kept.size == 5 + 9 + 100 + 14
    text = kept.text()
    assert text.startswith("0123\n") and text.endswith("tail-2\n") and "not kept" in text


def test_a_timeout_stops_the_command_and_everything_it_started(tmp_path):
    pids = tmp_path / "pids"
    with pytest.raises(BackendError, match=r"timed out after 1 s and was stopped; output so far: .*started"):
        ScriptRunner().run(action(f"""
            import subprocess, sys, time
            grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open({str(pids)!r}, "w").write(str(grandchild.pid))
            print("started", flush=True)
            time.sleep(60)
        """, timeout_s=1), {})
    grandchild = int(pids.read_text())
    wait_until(lambda: not _alive(grandchild), timeout=5, what="the grandchild stopped with its group")


def test_the_runbook_dies_with_opsbot_even_by_kill_9(tmp_path):
    """An opsbot process runs a long action; it is killed with SIGKILL; the action's process goes too."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.getcwd()!r})
        from bot.config.environments import RunbookAction
        from bot.platforms.script import ScriptRunner
        code = "import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
        ScriptRunner().run(RunbookAction(argv=[sys.executable, "-c", code], timeout_s=300), {{}})
    """)])
    try:
        child = wait_until(lambda: pid_file.exists() and pid_file.read_text() and int(pid_file.read_text()),
                           timeout=20, what="the runbook action started")
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: not _alive(child), timeout=5, what="the action gone with opsbot")
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead, waiting to be reaped
    except FileNotFoundError:
        return False


def test_output_matching_fail_on_fails_the_run_even_with_exit_status_0(store, clock):
    """A restore that prints an error and exits 0 has not succeeded: through the console's router, the run is
    failed and audited so, naming the line; without a match the same action succeeds."""
    from bot.app import build_services
    from bot.config import Catalog
    from commands.base import Context
    from commands.router import Router

    script = "import sys; print('restored 290 of 300 users'); print('ERROR: duplicate key value user_42'); " \
             "print('done', flush=True); sys.exit(int(sys.argv[1]))"
    catalog = Catalog.model_validate({"environments": {"dev": {"runbook": {"restore": {
        "argv": [sys.executable, "-c", script, "{code}"], "params": {"code": {"type": "int"}},
        "fail_on": ["^ERROR:", "duplicate key"]}}}}})
    router = Router(build_services(store, catalog, clock=clock))
    failed = router.handle("/ops", "run restore dev code=0", Context(user="U_OPS", source="console"))
    assert not failed.ok and "printed 'ERROR: duplicate key value user_42'" in failed.text
    assert [r.phase for r in store.audit_records()][-1] == "failed"
    with pytest.raises(ValueError, match="fail_on"):
        Catalog.model_validate({"environments": {"dev": {"runbook": {"x": {"argv": ["true"], "fail_on": ["("]}}}}})


def test_for_an_incident_a_long_output_is_kept_whole_as_evidence_and_the_reply_says_where(store, clock, tmp_path):
    """Through the console's router: `/ops run … --incident INC-1` whose output is longer than the reply keeps —
    the reply has its start and end, the whole of it (redacted) is an evidence item of INC-1, and no temporary
    file is left behind."""
    import tempfile
    from pathlib import Path

    from bot.app import build_services
    from bot.config import Catalog
    from commands.base import Context
    from commands.router import Router

    script = ("import sys\nfor n in range(150000): print('line %d of the export' % n)\n"
              "print('DB_PASSWORD=Hunter2Secret in the middle')\nfor n in range(150000): print('tail %d' % n)")
    catalog = Catalog.model_validate({"environments": {"dev": {"runbook": {"export": {
        "argv": [sys.executable, "-c", script]}}}}})
    services = build_services(store, catalog, clock=clock, evidence_dir=tmp_path / "evidence")
    router = Router(services)
    ctx = Context(user="U_OPS", channel="C1", source="console")
    assert router.handle("/incident", "open p2 Export stuck --env dev", ctx).ok
    before = set(Path(tempfile.gettempdir()).glob("opsbot-run-*"))
    done = router.handle("/ops", "run export dev --incident INC-1", ctx)
    shown = done.text + (done.file.content if done.file else "")
    assert done.ok and "the whole output is kept as evidence EB-1 of INC-1" in shown
    [bundle] = services.evidence.bundles(1)
    [item] = [i for i in bundle.items if i.name == "run-export.log"]
    assert item.ok and item.size > 3_000_000 and not item.truncated
    [stored] = list((tmp_path / "evidence").rglob("run-export.log"))
    kept = stored.read_bytes()
    assert b"line 149999 of the export" in kept and b"DB_PASSWORD=*** in the middle" in kept
    assert b"Hunter2Secret" not in kept
    assert set(Path(tempfile.gettempdir()).glob("opsbot-run-*")) == before
