"""What the search index holds for an incident, and how typed text becomes a query the index can run.

The store calls `incident_fields` and `event_text` to fill its index (SQLite FTS5, PostgreSQL tsvector) from the
records it already keeps, which are redacted before they are stored: nothing else reaches the index. A query is
never the user's text handed to a query language: `parse_query` keeps only words (letters and digits), and each
backend writes its own query from those words (bot/store/sql_search.py), so `NEAR`, `*`, `^`, `:` or a stray quote
are plain words or nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.core.models import Event, EventKind, Incident
from bot.errors import UsageError

MAX_QUERY = 500  # characters: a search is a few words, never a pasted log
MAX_WORDS = 32
MAX_EVENTS_TEXT = 60_000  # an incident's timeline text kept in the index (an alert storm stops adding after this)
HIGHLIGHT = ("\ue000", "\ue001")  # where a snippet's match starts and ends (private-use characters: never indexed)

# Letters and digits only: the same words SQLite's unicode61 tokenizer and PostgreSQL's parser see.
WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')

# Timeline entries that say something about the failure and its fix (not channels, roles, evidence bundles).
SEARCHED_EVENTS = {EventKind.STATUS, EventKind.UPDATE, EventKind.NOTE, EventKind.IMPACT, EventKind.ACTION_ADDED,
                   EventKind.POSTMORTEM, EventKind.OPS, EventKind.ALERT, EventKind.PUBLIC}


def _clean(text: str | None) -> str:
    return (text or "").replace(HIGHLIGHT[0], " ").replace(HIGHLIGHT[1], " ")


def incident_fields(incident: Incident) -> tuple[str, str]:
    """(title, head): the title is ranked above the rest; the head holds the incident's own fields."""
    parts = [incident.service, incident.env, incident.type, incident.impact, incident.resolution,
             *(item.text for item in incident.action_items)]
    return _clean(incident.title), _clean("\n".join(part for part in parts if part))


SEMANTIC_CHARS = 3_000  # what an incident's vector is made of: its fields, then the start of its timeline


def semantic_text(title: str, head: str, timeline: str) -> str:
    return f"{title}\n{head}\n{timeline}"[:SEMANTIC_CHARS]


def event_text(event: Event) -> str:
    """The searchable text of one timeline entry ("" for those not searched): its text, plus the name of the ops
    or runbook action it records, or the labels of the alert."""
    if event.kind not in SEARCHED_EVENTS:
        return ""
    extra: list[str] = []
    if event.kind is EventKind.OPS and event.data.get("action"):
        extra.append(str(event.data["action"]))
    if event.kind is EventKind.ALERT and isinstance(event.data.get("labels"), dict):
        extra += [f"{key} {value}" for key, value in event.data["labels"].items()]
    return _clean(" ".join([event.text, *extra]))


def events_text(events: list[Event], before: str = "") -> str:
    """`before` with the events' searchable text added, up to MAX_EVENTS_TEXT characters."""
    texts = [before] if before else []
    texts += [text for text in (event_text(event) for event in events) if text]
    return "\n".join(texts)[:MAX_EVENTS_TEXT]


@dataclass(frozen=True)
class SearchHit:
    """One incident a query found, as the store ranks it (higher is better, on that backend's own scale)."""

    incident: Incident
    rank: float
    snippet: str  # the best matching passage, matches between HIGHLIGHT marks
    text: str  # everything indexed for it: how much of a new incident it covers (similar incidents)


# --- queries ------------------------------------------------------------------------------------------------
Phrase = tuple[str, ...]  # words that must follow one another (one word: a term)


@dataclass(frozen=True)
class Match:
    """A query every backend can run. `all_of`: each group must match (a group matches when any of its phrases
    does); `none_of`: none may match; `any_of`: ranked by how many match (similar incidents)."""

    all_of: tuple[tuple[Phrase, ...], ...] = ()
    none_of: tuple[Phrase, ...] = ()
    any_of: tuple[str, ...] = ()

    @property
    def words(self) -> list[str]:
        return [w for group in self.all_of for phrase in group for w in phrase] + list(self.any_of)


@dataclass(frozen=True)
class Filters:
    """What `/incident search` narrows to; statuses None: resolved and closed."""

    since: datetime | None = None  # declared at or after
    service: str | None = None
    env: str | None = None
    severity: str | None = None
    include_open: bool = False
    exclude: int | None = None  # an incident left out (similar: the incident itself)


def words_of(text: str) -> list[str]:
    # Lowercased word by word, keeping letters and digits only: a letter whose lowercase is two characters (the
    # Turkish İ: i and a combining dot) must not make a word the queries refuse.
    return ["".join(WORD.findall(word.lower())) for word in WORD.findall(text)]


def parse_query(text: str) -> Match:
    """Typed search text: words, "quoted phrases" and -exclusions (`-word`, `-"a phrase"`). Whatever else is typed
    (operators, punctuation, an unbalanced quote, a lone `-`) carries no meaning here."""
    text = (text or "").strip()
    if not text:
        raise UsageError("Say what to search for, e.g. `connection pool exhausted`.")
    if len(text) > MAX_QUERY:
        raise UsageError(f"The search is {len(text):,} characters long; the limit is {MAX_QUERY}. "
                         "A few words that name the failure find it.")
    required: list[tuple[Phrase, ...]] = []
    excluded: list[Phrase] = []
    for match in _TOKEN.finditer(text):
        minus, quoted, bare = match.groups()
        if bare is not None:
            minus, body = ("-", bare[1:]) if bare.startswith("-") else ("", bare)
        else:
            body = quoted
        phrase = tuple(words_of(body))
        if not phrase:
            continue
        if minus:
            excluded.append(phrase)
        elif (phrase,) not in required:
            required.append((phrase,))
    if not required:
        raise UsageError("Give at least one word to search for (letters or digits), not only words to leave out."
                         if excluded else "There is nothing to search for in that: use words (letters or digits).")
    if sum(len(group[0]) for group in required) + sum(map(len, excluded)) > MAX_WORDS:
        raise UsageError(f"The search has more than {MAX_WORDS} words; a few that name the failure find it.")
    return Match(all_of=tuple(required), none_of=tuple(excluded))


# Words that say nothing about which failure it was.
STOPWORDS = frozenset(["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "for", "from", "has", "have", "in", "into", "is", "it", "its", "of", "on", "or", "our", "so", "than", "that", "the", "their", "then", "there", "these", "this", "those", "to", "too", "was", "were", "will", "with", "after", "before", "during", "again", "all", "any", "some", "no", "not", "very", "can", "could", "should", "would", "may", "might", "we", "us", "you", "they", "them", "he", "she", "his", "her", "i", "me", "my", "new", "now", "still", "just", "up", "down", "out", "over", "under", "about", "incident", "issue", "problem", "users", "user"])

# The same failure in other words: similar incidents are searched with these too (the runbooks' vocabulary).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "cert": ("certificate", "tls", "ssl"), "certificate": ("cert", "tls", "ssl"), "certs": ("certificate",),
    "ssl": ("tls", "certificate"), "tls": ("ssl", "certificate"), "https": ("tls", "certificate"),
    "expired": ("expiry", "expire"), "expiry": ("expired", "expire"), "expiring": ("expiry", "expired"),
    "db": ("database", "postgres"), "database": ("db", "postgres"), "postgres": ("database", "db"),
    "postgresql": ("postgres", "database"), "pg": ("postgres", "database"),
    "pool": ("connections",), "connections": ("pool", "connection"),
    "oom": ("memory", "oomkilled"), "oomkilled": ("oom", "memory"), "memory": ("oom", "heap"), "heap": ("memory",),
    "leak": ("leaking", "memory"), "ram": ("memory",),
    "disk": ("storage", "volume", "space"), "storage": ("disk", "volume"), "volume": ("disk", "storage"),
    "full": ("space", "exhausted"), "space": ("disk", "full"),
    "deploy": ("deployment", "release", "rollback"), "deployment": ("deploy", "release"),
    "release": ("deploy", "version"), "rollback": ("deploy", "revert", "rolled"), "revert": ("rollback",),
    "rolled": ("rollback",), "regression": ("deploy", "release"),
    "rpc": ("endpoint", "node", "provider"), "node": ("rpc",), "endpoint": ("rpc",), "provider": ("rpc",),
    "latency": ("slow", "timeouts"), "slow": ("latency",), "timeout": ("timeouts", "latency"),
    "timeouts": ("timeout", "latency"), "5xx": ("500", "502", "errors"), "502": ("5xx", "gateway"),
    "503": ("5xx", "unavailable"), "down": ("outage", "unreachable"), "outage": ("down",),
    "unreachable": ("down",), "redis": ("cache",), "cache": ("redis",), "queue": ("backlog",),
    "backlog": ("queue",), "cpu": ("load",), "crash": ("restart", "crashloop"), "crashloop": ("crash", "restart"),
}


def stem(word: str) -> str:
    """A rough English stem, the same on every backend: how much of a new incident a past one covers."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def similarity_words(*texts: str | None, limit: int = 24) -> list[str]:
    """The significant words of a new incident (title, impact, service), in order, once each."""
    seen: list[str] = []
    for text in texts:
        for word in words_of(text or ""):
            if word not in STOPWORDS and len(word) > 1 and word not in seen:
                seen.append(word)
    return seen[:limit]


def similarity_terms(words: list[str]) -> list[str]:
    """The words with their synonyms, once each, the words first."""
    expanded = list(words)
    for word in words:
        expanded += [synonym for synonym in SYNONYMS.get(word, ()) if synonym not in expanded]
    return expanded[:64]


def similarity_match(terms: list[str], counts: dict[str, int], size: int = 12) -> Match:
    """The `size` rarest terms that some incident holds (by `counts`, ties in their order): a rare word says which
    failure it was, and a short query stays fast on a large index where the common ones match half of it."""
    held = [term for term in terms if counts.get(term, 1) > 0]
    return Match(any_of=tuple(sorted(held, key=lambda term: counts.get(term, 0))[:size]))


def coverage(words: list[str], text: str) -> float:
    """The share of `words` (a word or one of its synonyms) that `text` holds, compared by stem: 0 to 1. The same
    on SQLite and PostgreSQL, so `similar.min_score` means one thing whatever the backend."""
    if not words:
        return 0.0
    held = {stem(word) for word in words_of(text)}
    found = sum(1 for word in words if {stem(w) for w in (word, *SYNONYMS.get(word, ()))} & held)
    return found / len(words)
