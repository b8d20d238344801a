"""The search index of past incidents, in each backend's own full-text search: SQLite FTS5 (porter stemming, BM25)
and PostgreSQL (an 'english' tsvector under a GIN index, ts_rank_cd). One row per incident: its title, its own
fields (the head) and the searchable text of its timeline, all as stored — redacted before they were written.

The row is written in the transaction that writes the incident's events (`_index_search`, called by
`_insert_events`): a note, an update, a resolution, an alert, an import or an ops action is searchable once it is
committed, and never before. The timeline's text grows by the new events only; `reindex_search` rebuilds every
row from the records (`opsbot search reindex`), as the migrations do for incidents stored before the index.

Queries are written here from the words of a `Match` (bot/core/search_text.py), each word quoted or checked to be
letters and digits: the user's text never reaches FTS5's or tsquery's syntax.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import cast

from bot.core.models import OPEN_STATUSES, Event, Incident, Status
from bot.core.ports import Embed
from bot.core.search_text import (
    HIGHLIGHT,
    WORD,
    Filters,
    Match,
    Phrase,
    SearchHit,
    events_text,
    incident_fields,
    semantic_text,
)
from bot.store.sql_base import Cursorish, SqlBase, incident_of

# The migration makes the tables and a mark; the store then builds every row in the same transaction
# (`build_search_if_new`), from Python: the text is composed as the core says (bot/core/search_text.py).
_MARK = "INSERT INTO counters (name, value) VALUES ('search_index_built', 0)"
SQLITE_MIGRATION = [
    _MARK,
    ("CREATE TABLE search_rows (number INTEGER PRIMARY KEY REFERENCES incidents (number), status TEXT NOT NULL,"
    " severity TEXT NOT NULL, service TEXT, env TEXT, declared_at TEXT NOT NULL)"),
    "CREATE INDEX search_rows_declared ON search_rows (declared_at)",
    ("CREATE VIRTUAL TABLE incident_search USING fts5(title, head, timeline,"
    " tokenize = 'porter unicode61 remove_diacritics 2')"),
]
POSTGRES_MIGRATION = [
    _MARK,
    ("CREATE TABLE search_rows (number BIGINT PRIMARY KEY REFERENCES incidents (number), status TEXT NOT NULL,"
    " severity TEXT NOT NULL, service TEXT, env TEXT, declared_at TIMESTAMPTZ NOT NULL, title TEXT NOT NULL,"
    " head TEXT NOT NULL, timeline TEXT NOT NULL, doc TSVECTOR NOT NULL)"),
    "CREATE INDEX search_rows_doc ON search_rows USING GIN (doc)",
    "CREATE INDEX search_rows_declared ON search_rows (declared_at)",
]
# PostgreSQL: a filter with a word, e.g. `--service api`, reads the matches of both through bitmaps of their
# indexes (the newest first, by number); without them a common word and a filter scanned the table (90 ms).
# SQLite needs none: the FTS index hands out matches newest first and each is looked up by its number.
POSTGRES_FILTER_INDEXES = [f"CREATE INDEX search_rows_{column} ON search_rows ({column}, number)"
                           for column in ("service", "env", "severity")]
# Sentence vectors of the incidents (the optional extra opsbot[semantic], bot/semantic.py), one row each, written
# with the index row when an embedder is in use; `reindex_search` fills them for all.
SQLITE_VECTORS = [("CREATE TABLE search_vectors (number INTEGER PRIMARY KEY REFERENCES incidents (number),"
                  " vector BLOB NOT NULL)")]
POSTGRES_VECTORS = [("CREATE TABLE search_vectors (number BIGINT PRIMARY KEY REFERENCES incidents (number),"
                    " vector BYTEA NOT NULL)")]
_PG_DOC = ("setweight(to_tsvector('english', ?), 'A') || setweight(to_tsvector('english', ?), 'B')"
           " || setweight(to_tsvector('english', ?), 'C')")
BM25_WEIGHTS = "8.0, 3.0, 1.0"  # title, head, timeline: a word in the title says most about the incident
_BM25 = f"bm25({BM25_WEIGHTS})"  # FTS5's rank column, set per query: lower is better
SNIPPET_WORDS = 16
_TEXT = "f.title || ' ' || f.head || ' ' || f.timeline"
_SNIPPET = f"snippet(incident_search, -1, '{HIGHLIGHT[0]}', '{HIGHLIGHT[1]}', '…', {SNIPPET_WORDS})"
CANDIDATES = 1000  # the most recent matches ranked for one query (see search_incidents)
# PostgreSQL tests each row's tsvector as it walks them (~2.5 µs to unpack one): for a word in 5% of 100,000
# incidents, 1,000 candidates cost 60 ms, 300 cost 25 ms.
PG_CANDIDATES = 300
_REINDEX_BATCH = 500


class SearchSql(SqlBase):
    postgres = False  # set by the PostgreSQL backend: which full-text search writes and reads the index
    _embed: Embed | None = None  # with the semantic extra: texts to vectors, stored beside the index

    def use_embedder(self, embed: Embed | None) -> None:
        self._embed = embed

    # --- writing ----------------------------------------------------------------------------------------------
    def _index_search(self, db: Cursorish, number: int, events: list[Event]) -> None:
        """Refresh the incident's row: its fields as they are now, its timeline text with `events` added."""
        row = db.execute("SELECT doc, version FROM incidents WHERE number = ?", (number,)).fetchone()
        if row is None:
            return
        incident = incident_of(row)
        before = db.execute(
            "SELECT timeline FROM search_rows WHERE number = ?" if self.postgres else
            "SELECT timeline FROM incident_search WHERE rowid = ?", (number,)).fetchone()
        self._write_row(db, incident, events_text(events, before[0] if before else ""))

    def _write_row(self, db: Cursorish, incident: Incident, timeline: str) -> None:
        title, head = incident_fields(incident)
        if self._embed is not None:
            vector = self._embed([semantic_text(title, head, timeline)])[0]
            db.execute("INSERT INTO search_vectors (number, vector) VALUES (?, ?) ON CONFLICT (number)"
                       " DO UPDATE SET vector = excluded.vector", (incident.number, vector))
        facets = (incident.status.value, incident.severity, incident.service, incident.env,
                  self._time(incident.declared_at))
        if self.postgres:
            db.execute(
                "INSERT INTO search_rows (number, status, severity, service, env, declared_at, title, head, timeline,"
                f" doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {_PG_DOC}) ON CONFLICT (number) DO UPDATE SET"
                " status = excluded.status, severity = excluded.severity, service = excluded.service,"
                " env = excluded.env, title = excluded.title, head = excluded.head, timeline = excluded.timeline,"
                " doc = excluded.doc",
                (incident.number, *facets, title, head, timeline, title, head, timeline))
            return
        db.execute("INSERT INTO search_rows (number, status, severity, service, env, declared_at)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET status = excluded.status,"
                   " severity = excluded.severity, service = excluded.service, env = excluded.env",
                   (incident.number, *facets))
        db.execute("DELETE FROM incident_search WHERE rowid = ?", (incident.number,))
        db.execute("INSERT INTO incident_search (rowid, title, head, timeline) VALUES (?, ?, ?, ?)",
                   (incident.number, title, head, timeline))

    def build_search_if_new(self, db: Cursorish) -> None:
        """Right after the migration that made the index: rows for the incidents stored before it."""
        if db.execute("SELECT value FROM counters WHERE name = 'search_index_built'").fetchone()[0] == 0:
            self._build_search(db)
            db.execute("UPDATE counters SET value = 1 WHERE name = 'search_index_built'")

    def reindex_search(self) -> int:
        """Rebuild every incident's row from its record and timeline, in one transaction; how many."""
        with self._write() as db:
            return self._build_search(db)

    def _build_search(self, db: Cursorish) -> int:
        db.execute("DELETE FROM search_rows")
        if not self.postgres:
            db.execute("DELETE FROM incident_search")
        count = 0
        for incident, events in _rows_of(db, self._parse_time):
            self._write_row(db, incident, events_text(events))
            count += 1
        if self.postgres:  # the planner's word statistics, for the rows just written (see search_incidents)
            db.execute("ANALYZE search_rows")
        return count

    # --- reading ----------------------------------------------------------------------------------------------
    def search_incidents(self, match: Match, filters: Filters, limit: int = 10, offset: int = 0,
                         texts: bool = False) -> list[SearchHit]:
        """Best first (BM25 / ts_rank_cd): the incidents that match, each with a snippet — or, with `texts`, with
        everything indexed for it instead (how much of a new incident it covers: similar incidents).

        Only the CANDIDATES (PostgreSQL: PG_CANDIDATES) most recent matches that pass the filters are ranked:
        a word found in half of 100,000 incidents would otherwise be scored 50,000 times for ten results (p99
        0.1 s on SQLite, 0.5 s on PostgreSQL). Both indexes hand out matches newest first without scoring them,
        so the cost stays flat however common the words; when fewer match, every match is ranked."""
        where, params = _filters(filters, self._time)
        with self._read() as db:
            if self.postgres:
                return self._pg_search(db, match, where, params, limit, offset, texts)
            expression = fts5_query(match)
            ranked = db.execute(
                "SELECT c.rowid, c.rank FROM (SELECT f.rowid, f.rank FROM incident_search f"
                " JOIN search_rows s ON s.number = f.rowid"
                f" WHERE incident_search MATCH ? AND f.rank MATCH '{_BM25}'{where}"
                f" ORDER BY f.rowid DESC LIMIT {CANDIDATES}) c ORDER BY c.rank, c.rowid DESC LIMIT ? OFFSET ?",
                (expression, *params, limit, offset)).fetchall()
            hits = []
            for number, rank in ranked:  # the record and the snippet (or text) of the few shown: one lookup each
                values: tuple
                if texts:
                    sql, values = (f"SELECT i.doc, i.version, '', {_TEXT} FROM incident_search f"
                                   " JOIN incidents i ON i.number = f.rowid WHERE f.rowid = ?"), (number,)
                else:
                    sql, values = (f"SELECT i.doc, i.version, {_SNIPPET}, '' FROM incident_search f"
                                   " JOIN incidents i ON i.number = f.rowid"
                                   " WHERE incident_search MATCH ? AND f.rowid = ?"), (expression, number)
                doc, version, snippet, text = db.execute(sql, values).fetchone()
                hits.append(SearchHit(incident_of((doc, version)), -float(rank), snippet or "", text or ""))
        return hits

    def _pg_search(self, db: Cursorish, match: Match, where: str, params: list, limit: int, offset: int,
                   texts: bool) -> list[SearchHit]:
        query = tsquery(match)
        if not query:
            return []
        _custom_plan(db)
        shown = f"'', {_TEXT}" if texts else (
            "ts_headline('english', f.title || ' — ' || left(f.head, 2000) || ' ' || left(f.timeline, 4000),"
            f" to_tsquery('english', ?), 'StartSel={HIGHLIGHT[0]}, StopSel={HIGHLIGHT[1]},"
            f" MaxWords={SNIPPET_WORDS}, MinWords=6, MaxFragments=1, FragmentDelimiter=…'), ''")
        rows = db.execute(
            f"SELECT i.doc, i.version, t.rank, {shown}"
            " FROM (SELECT c.number, ts_rank_cd(c.doc, to_tsquery('english', ?)) AS rank"
            "  FROM (SELECT s.number, s.doc FROM search_rows s"
            f"   WHERE s.doc @@ to_tsquery('english', ?){where} ORDER BY s.number DESC LIMIT {PG_CANDIDATES}) c"
            "  ORDER BY rank DESC, c.number DESC LIMIT ? OFFSET ?) t"
            " JOIN search_rows f ON f.number = t.number JOIN incidents i ON i.number = t.number"
            " ORDER BY t.rank DESC, t.number DESC",
            ((() if texts else (query,)) + (query, query, *params, limit, offset))).fetchall()
        return [SearchHit(incident_of((doc, version)), float(rank), snippet or "", text or "")
                for doc, version, rank, snippet, text in rows]

    def search_vectors(self, numbers: list[int]) -> dict[int, bytes]:
        """The stored vectors of these incidents (those written while an embedder was in use)."""
        if not numbers:
            return {}
        with self._read() as db:
            rows = db.execute(f"SELECT number, vector FROM search_vectors WHERE number IN"
                              f" ({', '.join('?' for _ in numbers)})", tuple(numbers)).fetchall()
        return {int(number): bytes(vector) for number, vector in rows}

    def count_matches(self, words: list[str], cap: int) -> dict[str, int]:
        """How many indexed incidents hold each word, counted up to `cap` (a cheap document frequency: the
        similar-incidents query keeps a new incident's rarest words)."""
        if not words:
            return {}
        with self._read() as db:
            if self.postgres:
                _custom_plan(db)
                rows = db.execute(
                    "SELECT w, (SELECT count(*) FROM (SELECT 1 FROM search_rows"
                    " WHERE doc @@ to_tsquery('english', w) LIMIT ?) x) FROM unnest(?::text[]) w",
                    (cap, [_checked(word) for word in words])).fetchall()
                return {word: int(count) for word, count in rows}
            sql = "SELECT count(*) FROM (SELECT 1 FROM incident_search WHERE incident_search MATCH ? LIMIT ?)"
            return {word: int(db.execute(sql, (_fts5_phrase((word,)), cap)).fetchone()[0]) for word in words}


def _custom_plan(db: Cursorish) -> None:
    """PostgreSQL: plan each search for its own words, for the rest of this read's transaction. A prepared
    statement's generic plan assumes any word matches a few rows and reads every match through the GIN index;
    for a word in half of the incidents, walking them newest first until enough match is 5x cheaper, and
    only the planner's estimate for the actual words can tell one case from the other."""
    db.execute("SET LOCAL plan_cache_mode = force_custom_plan")


def _filters(filters: Filters, time) -> tuple[str, list]:
    where, params = "", cast(list, [])
    statuses = [s.value for s in Status] if filters.include_open else \
        [s.value for s in Status if s not in OPEN_STATUSES]
    where += f" AND s.status IN ({', '.join('?' for _ in statuses)})"
    params += statuses
    for column in ("service", "env", "severity"):
        value = getattr(filters, column)
        if value is not None:
            where += f" AND s.{column} = ?"
            params.append(value)
    if filters.since is not None:
        where += " AND s.declared_at >= ?"
        params.append(time(filters.since))
    if filters.exclude is not None:
        where += " AND s.number <> ?"
        params.append(filters.exclude)
    return where, params


def _rows_of(db: Cursorish, parse_time) -> Iterator[tuple[Incident, list[Event]]]:
    """Every incident with its timeline, a batch of incidents at a time (memory stays flat)."""
    after = 0
    while True:
        rows = db.execute("SELECT number, doc FROM incidents WHERE number > ? ORDER BY number LIMIT ?",
                          (after, _REINDEX_BATCH)).fetchall()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        timelines: dict[int, list[Event]] = {}
        for number, at, actor, kind, text, data in db.execute(
                "SELECT incident, at, actor, kind, text, data FROM events WHERE incident BETWEEN ? AND ? ORDER BY id",
                (first, last)).fetchall():
            timelines.setdefault(number, []).append(Event(incident=number, at=parse_time(at), actor=actor,
                                                          kind=kind, text=text, data=json.loads(data)))
        for number, doc in rows:
            yield incident_of((doc, 1)), timelines.get(number, [])
        after = last


# --- queries from words: each backend's syntax written here, never by the user ---------------------------------
def _checked(word: str) -> str:
    if not WORD.fullmatch(word):  # parse_query gives only such words; anything else is a bug, never run
        raise ValueError("a search word must be letters and digits")
    return word


def _fts5_phrase(phrase: Phrase) -> str:
    return '"' + " ".join(_checked(word) for word in phrase) + '"'


def fts5_query(match: Match) -> str:
    if match.any_of:
        return " OR ".join(_fts5_phrase((word,)) for word in match.any_of)
    groups = ["(" + " OR ".join(_fts5_phrase(p) for p in group) + ")" for group in match.all_of]
    query = "(" + " AND ".join(groups) + ")"
    if match.none_of:
        query += " NOT (" + " OR ".join(_fts5_phrase(p) for p in match.none_of) + ")"
    return query


def _ts_phrase(phrase: Phrase) -> str:
    return "(" + " <-> ".join(_checked(word) for word in phrase) + ")"


def tsquery(match: Match) -> str:
    if match.any_of:
        return " | ".join(_checked(word) for word in match.any_of)
    groups = ["(" + " | ".join(_ts_phrase(p) for p in group) + ")" for group in match.all_of]
    query = " & ".join(groups)
    for phrase in match.none_of:
        query += " & !" + _ts_phrase(phrase)
    return query
