"""Similar incidents on the labelled set (tests/search_set/labelled.py): hit@3 — a past incident of the new one's
kind among the first three — with full-text ranking alone. Printed, and fails below 0.75. (Run on PostgreSQL by
tests/contract/test_on_postgres_search_quality.py.)"""
from __future__ import annotations

from bot.app import build_services
from bot.config import Catalog
from commands.base import Context
from commands.router import Router
from tests.search_set.labelled import NEW, PAST

CTX = Context(user="U_ALICE", source="console")
WITH_SERVICE = True  # the new incident names its service (bench and the report also measure without)


def _load(store, clock, embed=None) -> tuple:
    services = build_services(store, Catalog.model_validate({"similar": {"min_score": 0.0}}), clock=clock,
                              embed=embed)
    router = Router(services)
    kinds: dict[int, str] = {}
    for kind, incidents in PAST.items():
        for title, service, impact, note, resolution in incidents:
            opened = router.handle("/incident", f"open p2 {title} --service {service} --impact {impact}", CTX)
            assert opened.ok, opened.text
            number = max(i.number for i in services.incidents.list_incidents(include_closed=True))
            kinds[number] = kind
            for command in (f"note INC-{number} {note}", f"resolve INC-{number} {resolution}"):
                assert router.handle("/incident", command, CTX).ok, command
            clock.advance(hours=6)
    return services, kinds


def hit_at_3(store, clock, embed=None) -> float:
    services, kinds = _load(store, clock, embed)
    hits = 0
    for title, service, impact, kind in NEW:
        incident = services.incidents.open("U_BOB", "P2", title, impact=impact, service=service if WITH_SERVICE else None)
        top = [kinds.get(s.incident.number) for s in services.search.similar(incident, None)]
        hits += kind in top
        print(f"{'hit ' if kind in top else 'MISS'} {kind:9} {title[:60]:60} -> {top}")
    return hits / len(NEW)


def test_full_text_hit_at_3_on_the_labelled_set(store, clock, capsys):
    score = hit_at_3(store, clock)
    with capsys.disabled():
        print(f"\nfull-text hit@3 ({store.url.split(':')[0]}): {score:.2f} on {len(NEW)} new incidents "
              f"against {sum(map(len, PAST.values()))} past ones")
    assert score >= 0.75
