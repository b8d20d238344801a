"""Searching past incidents, and the ones most like a new incident: "has this happened before, and what fixed it?"

Every surface calls these: `/incident search`, `/incident similar`, the post on opening (the `SimilarIncidents`
effect) and the post-mortem draft. The index lives in the store (bot/store/sql_search.py); this service turns
a request into a query (bot/core/search_text.py), keeps only what the viewer may see (bot/core/privacy.py), and
decides what counts as similar (`similar.min_score` in the catalog). Query text is never logged: only its size.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config.catalog import Catalog
from bot.core.models import ActionItem, EventKind, Incident
from bot.core.ports import Embed, Store
from bot.core.postmortem import postmortem_filename
from bot.core.privacy import Viewer, may_see
from bot.core.search_text import (
    Filters,
    SearchHit,
    coverage,
    incident_fields,
    parse_query,
    semantic_text,
    similarity_match,
    similarity_terms,
    similarity_words,
)
from bot.core.semantic_rank import blended, cosine, vectors_for
from bot.errors import UsageError
from bot.timeparse import format_duration

log = logging.getLogger("opsbot.search")
RESULTS = 10
SIMILAR = 3
_COMMON = 200  # similar: a word held by this many incidents is common (counted no further)
_TERMS = 10  # similar: the rarest words asked for (each more makes the query slower on a large index)
_POOL = 30  # with the semantic extra: the full-text candidates re-ranked by meaning
_CANDIDATES = 20  # similar: the best full-text matches whose coverage is then judged
# Who reads what is posted in a channel or shared in a draft: anybody, so no private incident is named there.
NOBODY = Viewer(user="\x00nobody", channel=None, admin=False)
_PAGES = 10  # a viewer who may see few of the matches: pages read before stopping


@dataclass(frozen=True)
class SearchRequest:
    """`/incident search <text> [--since 1y] [--service S] [--env E] [--severity P1] [--all]`, typed."""

    text: str
    since: timedelta | None = None
    service: str | None = None
    env: str | None = None
    severity: str | None = None
    include_open: bool = False


@dataclass(frozen=True)
class Found:
    incident: Incident
    snippet: str  # matches between search_text.HIGHLIGHT marks
    postmortem: str | None  # the post-mortem's file, when it is written


@dataclass(frozen=True)
class OpsTaken:
    text: str  # e.g. "restart api in prod: succeeded in 1.2 s"
    audit_seq: int | None


@dataclass(frozen=True)
class Similar:
    """A past incident like this one, with what it took to fix it."""

    incident: Incident
    score: float  # the share of the new incident's words it holds (0-1)
    duration: str
    ops: list[OpsTaken] = field(default_factory=list)
    open_items: list[ActionItem] = field(default_factory=list)
    postmortem: str | None = None


class SearchService:
    """`embed`: with the optional extra opsbot[semantic] (bot/semantic.py), the best full-text candidates are
    re-ranked by the meaning of their words too; without it, full text alone."""

    def __init__(self, store: Store, catalog: Catalog, clock: Callable[[], datetime], embed: Embed | None = None):
        self.store, self.catalog, self.clock, self.embed = store, catalog, clock, embed
        store.use_embedder(embed)

    def search(self, request: SearchRequest, viewer: Viewer | None, limit: int = RESULTS) -> list[Found]:
        match = parse_query(request.text)
        filters = Filters(
            since=self.clock() - request.since if request.since else None, service=request.service,
            env=self._env(request.env), severity=self._severity(request.severity),
            include_open=request.include_open)
        hits = self._visible(lambda size, offset: self.store.search_incidents(match, filters, size, offset),
                             viewer, limit if self.embed is None else max(limit, _POOL))
        if self.embed is not None and hits:
            query = self.embed([" ".join(match.words)])[0]
            vectors = vectors_for(self.embed, self.store.search_vectors([hit.incident.number for hit in hits]),
                                  {hit.incident.number: hit.snippet for hit in hits})
            scores = blended([hit.rank for hit in hits], [cosine(query, vectors[hit.incident.number]) for hit in hits])
            hits = [hit for _, hit in sorted(zip(scores, hits, strict=True), key=lambda pair: -pair[0])][:limit]
        log.info("search: %d words, %d results", len(match.words), len(hits))
        return [Found(hit.incident, hit.snippet, _postmortem(hit.incident)) for hit in hits]

    def similar(self, incident: Incident, viewer: Viewer | None, limit: int = SIMILAR) -> list[Similar]:
        """The resolved or closed incidents most like `incident` (by its title, impact and service), each holding
        at least `similar.min_score` of its words; none when nothing is that close."""
        words = similarity_words(incident.title, incident.impact, incident.service)
        if not words:
            return []
        filters = Filters(exclude=incident.number)
        terms = similarity_terms(words)
        match = similarity_match(terms, self.store.count_matches(terms, _COMMON), _TERMS)
        if not match.any_of:
            return []
        hits = self._visible(
            lambda size, offset: self.store.search_incidents(match, filters, size, offset, texts=True),
            viewer, _CANDIDATES if self.embed is None else _POOL)
        threshold = self.catalog.similar.min_score
        scored = [(coverage(words, hit.text), hit) for hit in hits]
        # the full-text rank found them (each backend its own scale); the share of words held orders them,
        # and with the semantic extra how close their meaning is too
        order = [score for score, _ in scored]
        if self.embed is not None and hits:
            mine = self.embed([semantic_text(*incident_fields(incident), "")])[0]
            vectors = vectors_for(self.embed, self.store.search_vectors([hit.incident.number for hit in hits]),
                                  {hit.incident.number: hit.text for hit in hits})
            order = blended(order, [cosine(mine, vectors[hit.incident.number]) for hit in hits])
        scored = [pair for _, pair in sorted(zip(order, scored, strict=True), key=lambda item: -item[0])]
        chosen = [(score, hit) for score, hit in scored if score >= threshold][:limit]
        return [self._details(hit.incident, score) for score, hit in chosen]

    def reindex(self) -> int:
        return self.store.reindex_search()

    def _details(self, incident: Incident, score: float) -> Similar:
        ops = [OpsTaken(event.text, event.data.get("audit_seq")) for event in self.store.timeline(incident.number)
               if event.kind is EventKind.OPS and event.data.get("outcome") == "succeeded"]
        end = incident.resolved_at or incident.closed_at
        return Similar(incident, score, format_duration(end - incident.declared_at) if end else "—", ops,
                       [item for item in incident.action_items if item.done_at is None], _postmortem(incident))

    @staticmethod
    def _visible(page: Callable[[int, int], list[SearchHit]], viewer: Viewer | None, limit: int) -> list[SearchHit]:
        """The best `limit` hits the viewer may see: a private incident is not there for anybody else."""
        found: list[SearchHit] = []
        for index in range(_PAGES):
            hits = page(limit * 2, index * limit * 2)
            found += [hit for hit in hits if may_see(hit.incident, viewer)]
            if len(found) >= limit or len(hits) < limit * 2:
                break
        return found[:limit]

    def _severity(self, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            return self.catalog.severity_key(text)
        except ValueError as exc:
            raise UsageError(str(exc) + ".", field="severity") from exc

    def _env(self, env: str | None) -> str | None:
        if env is None or env in self.catalog.environments:
            return env
        known = ", ".join(self.catalog.environments) or "none (the catalog defines no environments)"
        shown = env if len(env) <= 60 else env[:59] + "…"
        raise UsageError(f"Unknown environment '{shown}'. Environments: {known}.", field="env")


def _postmortem(incident: Incident) -> str | None:
    return postmortem_filename(incident) if incident.postmortem_done_at else None
