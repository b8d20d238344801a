"""`opsbot incident export` / `import` as an operator runs them: files, exit codes, messages."""
from __future__ import annotations

import json

from tests.contract.test_incident_export import rich_incident
from tests.e2e.test_console import opsbot


def test_export_to_a_directory_then_import_into_postgresql(sqlite_url, pg_url, tmp_path):
    rich_incident(sqlite_url, tmp_path)
    out = tmp_path / "export"
    first = opsbot(["incident", "export", "--all", "--out", str(out)], sqlite_url)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["INC-1.json", "INC-1.postmortem.md", "INC-2.json",
                                                      "INC-2.postmortem.md"]
    assert "## 1. Incident Summary" in (out / "INC-1.postmortem.md").read_text()

    again = opsbot(["incident", "export", "INC-1", "--out", str(out)], sqlite_url)
    assert again.returncode == 1 and "INC-1.json already exists; nothing was written (--force" in again.stderr
    forced = opsbot(["incident", "export", "INC-1", "--out", str(out), "--force"], sqlite_url)
    assert forced.returncode == 0, forced.stderr
    unknown = opsbot(["incident", "export", "INC-9"], sqlite_url)
    assert (unknown.returncode, unknown.stderr) == (1, ("opsbot: there is no incident INC-9; this store has INC-1, "
                                                       "INC-2\n"))
    stdout = opsbot(["incident", "export", "INC-1"], sqlite_url)
    assert stdout.stdout == (out / "INC-1.json").read_text()

    files = [str(out / "INC-1.json"), str(out / "INC-2.json")]
    imported = opsbot(["incident", "import", *files, "--user", "U_MOVER"], pg_url)
    assert imported.returncode == 0, imported.stderr
    sha = json.loads((out / "INC-1.json").read_text())["sha256"]
    assert f"imported INC-1 from {files[0]} (sha256 {sha[:12]}…)" in imported.stdout
    clash = opsbot(["incident", "import", files[0]], pg_url)
    assert clash.returncode == 1
    assert "INC-1 already exists in this store, and an import never overwrites; nothing was imported" in clash.stderr
    assert opsbot(["incident", "export", "INC-1"], pg_url).stdout == stdout.stdout
    verified = opsbot(["audit", "verify"], pg_url)
    assert verified.returncode == 0 and "2 records" in verified.stdout


def test_bad_requests_say_what_is_wrong(sqlite_url, tmp_path):
    missing = opsbot(["incident", "export", "--all", "--out", str(tmp_path / "out")], sqlite_url)
    assert missing.returncode == 1 and "no database at" in missing.stderr  # not created just to say it is empty
    opsbot(["console"], sqlite_url)  # now it exists, empty
    empty = opsbot(["incident", "export", "--all", "--out", str(tmp_path / "out")], sqlite_url)
    assert (empty.returncode, empty.stdout) == (0, "this store has no incidents: nothing to export\n")
    assert not (tmp_path / "out").exists()
    unknown = opsbot(["incident", "export", "INC-9"], sqlite_url)
    assert (unknown.returncode, unknown.stderr) == (1, ("opsbot: there is no incident INC-9; this store has no "
                                                       "incidents\n"))
    both = opsbot(["incident", "export", "INC-1", "--all"], sqlite_url)
    assert both.returncode == 2 and "name one incident (INC-n), or give --all" in both.stderr

    tampered = tmp_path / "INC-1.json"
    tampered.write_text('{"format": "opsbot-incident-export", "version": 1, "sha256": "' + "0" * 64 + '"}')
    refused = opsbot(["incident", "import", str(tampered)], sqlite_url)
    assert refused.returncode == 1
    assert f"opsbot: {tampered}: its sha256 '{'0' * 64}' does not match its content" in refused.stderr
    missing = opsbot(["incident", "import", str(tmp_path / "nope.json")], sqlite_url)
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "No such file" in missing.stderr
    verified = opsbot(["audit", "verify"], sqlite_url)
    assert "0 records" in verified.stdout


def test_signed_exports_through_the_cli(sqlite_url, tmp_path, monkeypatch):
    """With OPSBOT_AUDIT_SIGNING_KEY the CLI signs what it exports; a store with a key imports only what verifies
    under it — an edit whose sha256 was recomputed is refused, the file as exported is taken."""
    from bot.core.audit_signing import SigningKey
    from bot.core.export import seal, to_text

    signer = SigningKey.generate()
    monkeypatch.setenv("OPSBOT_AUDIT_SIGNING_KEY", signer.private_text())
    rich_incident(sqlite_url, tmp_path)
    exported = opsbot(["incident", "export", "INC-1"], sqlite_url)
    document = json.loads(exported.stdout)
    assert exported.returncode == 0 and document["signature"]["alg"] == "ed25519"
    edited = json.loads(exported.stdout)
    edited["incident"]["title"] = "Nothing to see"
    forged = tmp_path / "forged.json"
    forged.write_text(to_text(seal(edited)))
    target = f"sqlite:///{tmp_path}/target.db"
    refused = opsbot(["incident", "import", str(forged)], target)
    assert refused.returncode == 1 and "it is not signed, and this store takes only signed exports" in refused.stderr
    original = tmp_path / "INC-1.json"
    original.write_text(exported.stdout)
    monkeypatch.delenv("OPSBOT_AUDIT_SIGNING_KEY")
    monkeypatch.setenv("OPSBOT_AUDIT_PUBKEY", str(signer.public()))  # a store that holds only the public key
    taken = opsbot(["incident", "import", str(original)], target)
    assert taken.returncode == 0 and "imported INC-1" in taken.stdout
