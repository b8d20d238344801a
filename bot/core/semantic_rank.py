"""Re-ranking full-text candidates by meaning, when the optional extra opsbot[semantic] is installed: each
candidate's sentence vector (stored beside the index, bot/store/sql_search.py) against the query's or the new
incident's. Pure Python over float32 bytes, so the core needs neither numpy nor the model (bot/semantic.py)."""
from __future__ import annotations

from array import array

from bot.core.ports import Embed
from bot.core.search_text import HIGHLIGHT

MEANING = 0.5  # the weight of the cosine against the full-text score (each scaled to 0-1 over the candidates)


def cosine(a: bytes, b: bytes) -> float:
    """Of two unit vectors: their dot product."""
    return sum(x * y for x, y in zip(array("f", a), array("f", b), strict=True))


def blended(texts: list[float], meanings: list[float], meaning: float = MEANING) -> list[float]:
    """Full-text scores (any scale, higher is better) and cosines, combined: the full-text score as a share of the
    best candidate's, so a backend's own scale does not matter."""
    best = max((score for score in texts if score > 0), default=1.0)
    return [(1 - meaning) * max(score, 0.0) / best + meaning * max(cos, 0.0)
            for score, cos in zip(texts, meanings, strict=True)]


def vectors_for(embed: Embed, stored: dict[int, bytes], missing: dict[int, str]) -> dict[int, bytes]:
    """The stored vectors, and for incidents written before the embedder was in use, one made from `missing`'s
    text (`opsbot search reindex` stores them)."""
    texts = {number: text.replace(HIGHLIGHT[0], "").replace(HIGHLIGHT[1], "")
             for number, text in missing.items() if number not in stored}
    made = dict(zip(texts, embed(list(texts.values())), strict=True)) if texts else {}
    return {**stored, **made}
