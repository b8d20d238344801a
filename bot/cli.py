"""The `opsbot` command line."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# bot.config (pydantic models) is imported by the commands that need it, so `opsbot --help` starts fast.
from bot import version
from bot.errors import ConfigError, OpsbotError
from bot.logs import RedactingFormatter, configure_logging

__all__ = ["RedactingFormatter", "configure_logging", "main"]


def main(argv: list[str] | None = None) -> int:
    from bot.paths import data_dir

    using = " (now set: it is used)" if os.environ.get("OPSBOT_DATABASE_URL") else ""
    parser = argparse.ArgumentParser(
        prog="opsbot", description="ChatOps for on-call teams.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"data (whatever the current directory):\n  {data_dir() / 'opsbot.db'}\n  and evidence/ beside it; "
               f"OPSBOT_DATABASE_URL{using} and OPSBOT_EVIDENCE_DIR choose others")
    parser.add_argument("--config", help="path to opsbot.yml (default: $OPSBOT_CONFIG, else built-in defaults)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    # Every command takes --config where it is typed (`opsbot audit verify --config x.yml`), and shows it in its help.
    with_config = argparse.ArgumentParser(add_help=False)
    with_config.add_argument("--config", dest="sub_config", default=argparse.SUPPRESS, metavar="PATH",
                             help="path to opsbot.yml (default: $OPSBOT_CONFIG, else built-in defaults)")

    console = sub.add_parser("console", parents=[with_config], help="a local prompt running the same commands as Slack")
    console.add_argument("--user", default=os.environ.get("OPSBOT_USER", "U_CONSOLE"),
                         help="Slack user ID to act as (default $OPSBOT_USER or U_CONSOLE)")
    console.add_argument("--channel", help="act as if typing in this channel")

    sub.add_parser("check-config", parents=[with_config], help="validate opsbot.yml and print every problem")

    postmortem = sub.add_parser("postmortem", parents=[with_config], help="write the post-mortem draft of an incident")
    postmortem.add_argument("incident", help="INC-<n>")
    postmortem.add_argument("--out", default=".", help="directory to write YYYY-MM-DD-inc-<n>-<slug>.md into "
                            "(an existing file is kept: the draft gets the next free name)")
    postmortem.add_argument("--force", action="store_true", help="overwrite an existing draft of that name")

    incident = sub.add_parser("incident", help="export incidents as JSON documents, or import them into this store")
    incident_sub = incident.add_subparsers(dest="incident_command", required=True)
    incident_export = incident_sub.add_parser("export", parents=[with_config], help="one JSON document and post-mortem per incident")
    incident_export.add_argument("incident", nargs="?", help="INC-<n>")
    incident_export.add_argument("--all", action="store_true", help="every incident in the store")
    incident_export.add_argument("--out", help="directory for INC-<n>.json and INC-<n>.postmortem.md "
                                               "(default: the JSON document on stdout)")
    incident_export.add_argument("--force", action="store_true", help="overwrite files already in --out")
    incident_import = incident_sub.add_parser("import", parents=[with_config], help="restore exported incidents; a malformed, changed or "
                                                             "clashing file is refused and nothing is written")
    incident_import.add_argument("files", nargs="+", metavar="FILE")
    incident_import.add_argument("--user", default=os.environ.get("OPSBOT_USER", "U_CONSOLE"),
                                 help="who imports, for the audit log (default $OPSBOT_USER or U_CONSOLE)")

    serve = sub.add_parser("serve", parents=[with_config], help="serve /healthz, /metrics and alert intake on $PORT, with the Slack app when "
                                         "SLACK_* is set (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (default when SLACK_APP_TOKEN is set)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="do not send reminders from this process (another replica does)")

    evidence = sub.add_parser("evidence", help="verify an incident's evidence bundles")
    evidence_sub = evidence.add_subparsers(dest="evidence_command", required=True)
    evidence_verify = evidence_sub.add_parser("verify", parents=[with_config], help="re-hash every stored item and the manifest")
    evidence_verify.add_argument("incident", help="INC-<n>")

    search = sub.add_parser("search", help="the search index of past incidents")
    search_sub = search.add_subparsers(dest="search_command", required=True)
    search_sub.add_parser("reindex", parents=[with_config], help="rebuild the index from every incident and its timeline")
    web_login = sub.add_parser("web-login", parents=[with_config],
                               help="print a one-time sign-in link to the web view (/ui/) for a user")
    web_login.add_argument("--user", required=True, help="the Slack user ID to sign in as")
    status_page = sub.add_parser("status-page", help="the public status page as static files")
    status_page_sub = status_page.add_subparsers(dest="status_page_command", required=True)
    build_page = status_page_sub.add_parser("build", parents=[with_config],
                                            help="write the page, history, incident pages, JSON and feeds to a folder")
    build_page.add_argument("--out", required=True, type=Path, help="an empty folder, or one opsbot wrote before")
    manifest = sub.add_parser("manifest", parents=[with_config], help="print the Slack app manifest")
    manifest.add_argument("--url", help="public base URL, e.g. https://ops.example.com")
    manifest.add_argument("--socket", action="store_true", help="the Socket Mode variant")

    health = sub.add_parser("health", parents=[with_config], help="run an environment's checks")
    health.add_argument("env")
    health.add_argument("--user", default=os.environ.get("OPSBOT_USER", "U_CONSOLE"))

    oncall = sub.add_parser("oncall", help="on-call schedules")
    oncall_sub = oncall.add_subparsers(dest="oncall_command", required=True)
    calendar = oncall_sub.add_parser("export", parents=[with_config],
                                     help="a schedule's final shifts as iCalendar (RFC 5545) on stdout")
    calendar.add_argument("schedule")
    calendar.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: today)")
    calendar.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: 90 days on)")
    calendar.add_argument("--user", action="append", default=[], help="only this user's shifts (repeatable)")

    audit = sub.add_parser("audit", help="verify or export the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", parents=[with_config], help="prove no record was edited, deleted, re-ordered or cut off")
    verify.add_argument("--head", action="append", default=[],
                        help="a checkpoint SEQ:HASH (from `opsbot audit head`, or a whole signed witness line) the "
                             "log must still reach; may be repeated")
    verify.add_argument("--pubkey", help="the public key checkpoint signatures are checked with (default: "
                                         "OPSBOT_AUDIT_PUBKEY, or the key of OPSBOT_AUDIT_SIGNING_KEY)")
    verify.add_argument("--keyed-from", type=int, default=1, metavar="SEQ",
                        help="with OPSBOT_AUDIT_KEY: the first record written with the key (older ones predate it)")
    audit_sub.add_parser("head", parents=[with_config], help="print the last record's SEQ:HASH, a checkpoint to keep outside the database")
    audit_sub.add_parser("pubkey", parents=[with_config], help="print the public key of OPSBOT_AUDIT_SIGNING_KEY, for auditors")
    audit_sub.add_parser("keygen", parents=[with_config], help="print a new Ed25519 signing key for OPSBOT_AUDIT_SIGNING_KEY")
    export = audit_sub.add_parser("export", parents=[with_config], help="every record, as JSON lines or CSV")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    args = parser.parse_args(argv)
    config = getattr(args, "sub_config", None) or args.config
    try:
        # A server's log keeps tracebacks; a person at a terminal gets one line per problem.
        configure_logging(os.environ.get("OPSBOT_LOG_LEVEL", "WARNING"), os.environ.get("OPSBOT_LOG_FORMAT", "text"),
                          tracebacks=args.command == "serve")
        return COMMANDS[args.command](args, config)
    except BrokenPipeError:  # `opsbot audit export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ConfigError as error:
        for problem in error.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    except OpsbotError as error:
        print(f"opsbot: {error}", file=sys.stderr)
        return 1


def _console(args: argparse.Namespace, config: str | None) -> int:
    from bot import console
    from commands.base import Context

    app = _build(config)
    try:
        return console.run(app.router, Context(user=args.user, channel=args.channel, source="console",
                                               zone=console.machine_zone()))
    finally:
        try:
            app.services.ops.anchor_new()  # what this session audited is anchored before it ends
        finally:
            app.close()


def _build(config: str | None, *, create: bool = True, slack=None):
    """The app, saying so on stderr when it starts a new empty SQLite database. Commands that only read
    (`create=False`) refuse a missing one rather than create it and report on nothing ("intact: 0 records")."""
    from bot.app import build
    from bot.config import Settings, from_environment
    from bot.errors import NotFound
    from bot.paths import sqlite_file

    settings = from_environment(Settings)
    database = sqlite_file(settings.database_url)
    new = database is not None and not database.exists()
    if new and not create:
        raise NotFound(f"no database at {database}: nothing to read (OPSBOT_DATABASE_URL names the database; "
                       "its default is the data directory shown by `opsbot --help`)")
    app = build(config, settings, slack=slack)
    if new:
        print(f"opsbot: created a new empty database at {database}", file=sys.stderr)
    return app


def _check_config(args: argparse.Namespace, config: str | None) -> int:
    from bot.config import Settings, config_path, from_environment, load_catalog

    path = config_path(config, from_environment(Settings))
    warnings: list[str] = []
    try:
        catalog = load_catalog(path, warnings)
    finally:  # with the errors or without: every problem of the file in one run
        for warning in warnings:
            print(f"config warning: {warning}", file=sys.stderr)
    print(f"{path or 'built-in defaults'}: OK ({len(catalog.severities)} severities)"
          + (f", {len(warnings)} warning{'s' if len(warnings) > 1 else ''}" if warnings else ""))
    for line in _runbook_lines(catalog):  # each action's argv as it will run, its parameters as placeholders
        print(line)
    return 0


def _runbook_lines(catalog) -> list[str]:
    import shlex

    lines = []
    for env_name, env in catalog.environments.items():
        for name, action in env.runbook.items():
            where = (f" inside {action.exec.service}" if action.exec else
                     f" on {', '.join(action.hosts)}" if action.hosts else "")
            shown = shlex.join(action.argv_for({key: f"<{key}>" for key in action.params}))
            lines.append(f"  runbook {env_name}/{name}{where}: {shown}")
    return lines


def _incident_number(text: str) -> int | None:
    """INC-n from the command line, or None after saying why not."""
    from commands.parsing import parse_incident_id

    number = parse_incident_id(text)
    if number is None:
        print(f"opsbot: '{text}' is not an incident id like INC-1", file=sys.stderr)
    return number


def _postmortem(args: argparse.Namespace, config: str | None) -> int:
    number = _incident_number(args.incident)
    if number is None:
        return 2
    app = _build(config, create=False)
    try:
        draft = app.services.records.postmortem(number)
    finally:
        app.close()
    path = Path(args.out) / draft.filename
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path = _write_new(path, draft.text, args.force)
    except OSError as exc:
        print(f"opsbot: cannot write {path} ({exc.strerror})", file=sys.stderr)
        return 1
    print(path)
    return 0


def _write_new(path: Path, text: str, force: bool) -> Path:
    """Never overwrite a draft someone may have edited: the next free name (-2, -3 …), unless --force."""
    if force:
        path.write_text(text)
        return path
    candidate, n = path, 1
    while True:
        try:
            with candidate.open("x") as out:
                out.write(text)
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")


def _serve(args: argparse.Namespace, config: str | None) -> int:
    from bot.app import serve, slack_mode
    from bot.config import SlackSettings, from_environment

    slack = from_environment(SlackSettings)
    mode = slack_mode(slack, args.socket)  # a partial Slack configuration is refused before anything starts
    app = _build(config, slack=None if mode == "off" else slack)
    try:
        serve(app, slack, mode, host=args.host, scheduler=not args.no_scheduler)
    finally:
        app.close()
    return 0


def _evidence(args: argparse.Namespace, config: str | None) -> int:

    number = _incident_number(args.incident)
    if number is None:
        return 2
    app = _build(config, create=False)
    try:
        incident = app.services.incidents.get(number)
        if not app.services.evidence.bundles(number):
            print(f"{incident.id} has no evidence: nothing to verify")
            return 0
        checked, problems = app.services.evidence.verify(number)
    finally:
        app.close()
    for problem in problems:
        print(f"evidence of {incident.id}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"evidence of {incident.id} verified: {checked} items and their manifests match the timeline")
    return 0


def _manifest(args: argparse.Namespace, config: str | None) -> int:
    from bot.slack.manifest import render_manifest

    print(render_manifest(args.url, socket=args.socket), end="")
    return 0


def _health(args: argparse.Namespace, config: str | None) -> int:
    from bot.views.text import to_text
    from commands.base import Context

    app = _build(config)
    try:
        reply = app.router.handle("/ops", f"health {args.env}", Context(user=args.user, source="console"))
    finally:
        app.close()
    print(to_text(reply))
    if not reply.ok:
        return 2
    return 0 if reply.text.endswith("healthy") else 1


def _audit(args: argparse.Namespace, config: str | None) -> int:
    from bot.app import audit_key, audit_witnesses

    if args.audit_command in ("pubkey", "keygen"):
        return _audit_keys(args.audit_command)
    app = _build(config, create=False)
    try:
        if args.audit_command == "head":
            head = app.services.records.audit_head()
            print(head if head is not None else "0:" + "0" * 64)
            return 0
        if args.audit_command == "verify":
            return _verify_audit(app, args, audit_key(app.settings), audit_witnesses(app.settings))
        return _export_audit(app, args.format)
    finally:
        app.close()


def _oncall(args: argparse.Namespace, config: str | None) -> int:
    from datetime import UTC, datetime, timedelta

    from bot.config import Settings, config_path, from_environment, load_catalog
    from bot.core.oncall import shifts
    from bot.views.calendar import schedule_calendar

    catalog = load_catalog(config_path(config, from_environment(Settings)))
    schedule = catalog.oncall.schedules.get(args.schedule)
    if schedule is None:
        print(f"opsbot: there is no on-call schedule '{args.schedule}'; schedules: "
              f"{', '.join(catalog.oncall.schedules) or 'none'}", file=sys.stderr)
        return 2
    try:
        start = datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=schedule.zone) if args.start else \
            datetime.now(UTC)
        end = datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=schedule.zone) + timedelta(days=1) \
            if args.end else start + timedelta(days=90)
    except ValueError:
        print("opsbot: --from and --to are days like 2026-12-01", file=sys.stderr)
        return 2
    if end <= start or end - start > timedelta(days=366):
        print("opsbot: --to must come after --from, within a year", file=sys.stderr)
        return 2
    found = [s for s in shifts(schedule, start, end, limit=20_000, overrides=_overrides_of(config, args.schedule))
             if not args.user or s.user in args.user]
    sys.stdout.write(schedule_calendar(args.schedule, schedule.zone, found).decode())
    return 0


def _overrides_of(config: str | None, schedule: str) -> list:
    """The schedule's overrides from the store, or none when there is no database yet."""
    from bot.core.oncall_overrides import Overrides
    from bot.errors import NotFound

    try:
        app = _build(config, create=False)
    except NotFound:
        return []
    try:
        return Overrides(app.store, app.catalog, app.services.incidents.clock).active(schedule)
    finally:
        app.close()


def _audit_keys(command: str) -> int:
    from bot.app import signing_key
    from bot.config import Settings, from_environment
    from bot.core.audit_signing import SigningKey

    if command == "keygen":
        new = SigningKey.generate()
        print(new.private_text())
        print(f"public key (give it to auditors): {new.public()}", file=sys.stderr)
        return 0
    signer = signing_key(from_environment(Settings))
    if signer is None:
        print("opsbot: OPSBOT_AUDIT_SIGNING_KEY is not set: there is no public key to print "
              "(`opsbot audit keygen` makes a signing key)", file=sys.stderr)
        return 2
    print(signer.public())
    return 0


def _verify_audit(app, args: argparse.Namespace, key, witnesses) -> int:
    from bot.app import public_key
    from bot.core.audit_signing import Checkpoint

    checkpoints = [checkpoint for witness in witnesses for checkpoint in witness.checkpoints()]
    try:
        checkpoints.extend(Checkpoint.parse(given) for given in args.head)
    except ValueError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return 2
    result = app.services.records.verify_audit(key, checkpoints, args.keyed_from,
                                               public_key(app.settings, args.pubkey))
    if not result.ok:
        print(f"audit log TAMPERED: {result.problem}", file=sys.stderr)
        return 1
    if result.key_missing:  # an edited keyed record keeps its links: without the key it would pass as intact
        print(f"audit log NOT verified: {result.records} records are authenticated with OPSBOT_AUDIT_KEY, which is "
              "not set here; their links and columns were checked, not their HMACs. Set OPSBOT_AUDIT_KEY and run "
              "again.", file=sys.stderr)
        return 1
    checks = ["links", "every column", "HMACs" if key is not None else "hashes"]
    if checkpoints:
        checks.append(f"{len(checkpoints)} checkpoint{'s' if len(checkpoints) > 1 else ''}")
        if any(c.signature for c in checkpoints) and public_key(app.settings, args.pubkey) is not None:
            checks.append("their signatures")
    print(f"audit log verified: {result.records} records ({', '.join(checks)}); head {result.head or 'none'}")
    for note in result.unchecked:
        print(f"not checked: {note}")
    return 0


def _export_audit(app, format: str) -> int:
    import csv
    import json

    from bot.core.audit import AuditRecord

    fields = list(AuditRecord.model_fields)
    writer = csv.DictWriter(sys.stdout, fieldnames=fields) if format == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in app.services.records.audit_rows():  # streamed: one batch in memory at a time
        record = row.record.model_dump(mode="json")
        if writer is None:
            sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
        else:
            writer.writerow({key: json.dumps(value) if isinstance(value, dict) else value
                             for key, value in record.items()})
    return 0


def _incident(args: argparse.Namespace, config: str | None) -> int:
    return (_import_incidents if args.incident_command == "import" else _export_incidents)(args, config)


def _export_incidents(args: argparse.Namespace, config: str | None) -> int:
    from bot.core.export import json_filename, postmortem_filename, to_text
    from bot.errors import NotFound

    if args.all == bool(args.incident):
        print("opsbot: name one incident (INC-n), or give --all", file=sys.stderr)
        return 2
    if args.all and not args.out:
        print("opsbot: --all writes one file per incident: say where with --out DIR", file=sys.stderr)
        return 2
    number = _incident_number(args.incident) if args.incident else None
    if args.incident and number is None:
        return 2
    app = _build(config, create=False)
    try:
        exported = app.services.records.export(number)
    except NotFound as error:
        message = str(error).rstrip(".")  # the CLI's own style: lower case, no full stop
        print(f"opsbot: {message[0].lower()}{message[1:]}", file=sys.stderr)
        return 1
    finally:
        app.close()
    if not exported:
        print("this store has no incidents: nothing to export")
        return 0
    if not args.out:
        sys.stdout.write(to_text(exported[0].document))
        return 0
    files: dict[Path, str] = {}
    for incident in exported:
        files[Path(args.out) / json_filename(incident.number)] = to_text(incident.document)
        files[Path(args.out) / postmortem_filename(incident.number)] = incident.postmortem
    taken = [path for path in files if path.exists()]
    if taken and not args.force:
        print(f"opsbot: {taken[0]} already exists; nothing was written (--force overwrites)", file=sys.stderr)
        return 1
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            with path.open("w" if args.force else "x", encoding="utf-8") as out:
                out.write(text)
            print(path)
    except OSError as exc:
        print(f"opsbot: cannot write to {args.out} ({exc.strerror})", file=sys.stderr)
        return 1
    return 0


def _import_incidents(args: argparse.Namespace, config: str | None) -> int:

    files = []
    for name in args.files:
        try:
            files.append((name, Path(name).read_bytes()))
        except OSError as exc:
            print(f"opsbot: cannot read {name} ({exc.strerror}); nothing was imported", file=sys.stderr)
            return 1
    app = _build(config)
    try:
        done = app.services.records.import_documents(files, args.user)
    finally:
        app.close()
    for item in done:
        note = (f"; {item.unchecked} HMAC-authenticated audit records not re-checked (their OPSBOT_AUDIT_KEY is not "
                "set here)" if item.unchecked else "")
        print(f"imported {item.incident.id} from {item.name} (sha256 {item.sha256[:12]}…): {item.events} events, "
              f"{item.audit} audit records{note}")
    return 0


def _search(args: argparse.Namespace, config: str | None) -> int:
    """`opsbot search reindex`: every incident's row rebuilt from its record, in one transaction."""
    app = _build(config, create=False)
    try:
        count = app.services.search.reindex()
    finally:
        app.close()
    print(f"reindexed {count} incident{'s' if count != 1 else ''}")
    return 0


def _status_page(args: argparse.Namespace, config: str | None) -> int:
    """`opsbot status-page build --out DIR`: the files `opsbot serve` answers under /status/, as a static copy."""
    from bot.app import status_publisher

    app = _build(config, create=False)
    try:
        changed = status_publisher(app, args.out).publish()
    except (FileExistsError, NotADirectoryError, PermissionError) as error:
        print(f"opsbot: {error}", file=sys.stderr)
        return 2
    finally:
        app.close()
    print(f"wrote the status page to {args.out} ({len(changed)} file{'s' if len(changed) != 1 else ''} changed)")
    return 0


def _web_login(args: argparse.Namespace, config: str | None) -> int:
    """`opsbot web-login --user U…`: the console user's way in, as `/opsbot login` is Slack's."""
    app = _build(config)
    try:
        print(app.services.web.link(args.user))
    finally:
        app.close()
    return 0


COMMANDS = {"web-login": _web_login, "status-page": _status_page, "search": _search, "oncall": _oncall, "evidence": _evidence, "health": _health, "audit": _audit, "serve": _serve, "manifest": _manifest, "console": _console, "check-config": _check_config, "postmortem": _postmortem,
            "incident": _incident}

if __name__ == "__main__":
    sys.exit(main())
