"""Redaction: nothing secret reaches chat, the console, logs, the audit log, evidence, the post-mortem or disk.

The rules are data (redact_rules.yml: one RE2 pattern per secret format, each naming its source). RE2 runs in
time linear in the text whatever the pattern, so a hostile or huge log line cannot stall a worker. One pass of
an RE2 set finds which rules occur at all; only those then rewrite the text. `key = value` shapes are masked only
when the key names a secret and the value looks like one, so `TOKEN_TTL=3600` stays readable.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import re2
import yaml

MASK = "***"
_SET_MEMORY = 256 << 20  # the rule set's DFA budget: past it RE2 would give up on a match, so keep it ample
_RULE_MEMORY = 64 << 20

# Words of a key that name a secret, and words that make the key describe one instead (a TTL, a limit, a URL).
_SECRET_WORDS = {"password", "passwd", "pass", "passphrase", "pwd", "secret", "secrets", "token", "apikey",
                 "credential", "credentials", "dsn", "sas", "auth"}
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "passphrase")
_KEY_QUALIFIERS = {"api", "access", "private", "client", "signing", "encryption", "master", "session", "secret",
                   "account", "shared", "storage", "auth", "app", "jwt", "hmac", "license"}
_DESCRIPTIVE_WORDS = {"ttl", "expiry", "expires", "expiration", "lifetime", "max", "min", "limit", "count", "length",
                      "len", "size", "timeout", "url", "uri", "endpoint", "path", "file", "type", "name", "header",
                      "prefix", "format", "enabled", "required", "policy", "rotation", "hint", "label", "field",
                      "param", "env", "ref", "version", "algorithm", "algo", "method", "mode", "strength", "at",
                      "changed", "updated", "created", "reset"}
# Values that stand for a secret without being one: words, references to a variable, templates.
_PLACEHOLDER_WORDS = {"", "null", "none", "nil", "true", "false", "yes", "no", "on", "off", "enabled", "disabled",
                      "undefined", "redacted", "ok", "valid", "invalid", "expired", "missing", "required", "set",
                      "unset", "user", "changed"}
_PLACEHOLDER = re.compile(r"^(?:\*+|<[^>]*>|\[[^\]]*\]|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|%(?:\([^)]*\))?[sdr]|\{\{.*\}\})$")
_PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^@\s]*$", re.IGNORECASE)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class Rule:
    id: str
    source: str
    pattern: str
    replace: str | None = None
    kind: str = "format"  # "format": the match (or its `secret` group) is a secret; "assignment": key = value
    multiline: bool = False  # spans lines (a key block): run over the whole text, not line chunks


class _TooDense(Exception):
    """More matches of one rule in one block than a log ever holds: a hostile or runaway input."""


# Each match costs a Python call; past this many in one pass, the text is taken apart: key blocks chunk by chunk,
# then line by line, and only a single line holding more than this many is masked whole (bounded time, and the
# lines between secrets survive).
MAX_MATCHES = 1000
DENSE = b"[redacted: a line holding more than 1000 secrets]"


class Redactor:
    """Rules compiled for bytes (no offset translation per match): the text is encoded once, scanned in chunks
    of whole lines so a rule only rewrites the chunks it occurs in, and decoded once. Rules that span lines (key
    blocks) run first, over the whole text."""

    CHUNK = 4096  # bytes, extended to the end of a line

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        options = re2.Options()
        options.max_mem = _RULE_MEMORY
        self._compiled = [re2.compile(rule.pattern.encode(), options) for rule in rules]
        self._multiline = [i for i, rule in enumerate(rules) if rule.multiline]
        self._line_rules = [i for i, rule in enumerate(rules) if not rule.multiline]
        self._blocks = self._set([rules[i] for i in self._multiline])
        self._lines = self._set([rules[i] for i in self._line_rules])

    @staticmethod
    def _set(rules: list[Rule]) -> Any:
        options = re2.Options()
        options.max_mem = _SET_MEMORY
        found = re2.Set.SearchSet(options)
        for rule in rules:
            found.Add(rule.pattern.encode())
        found.Compile()
        return found

    def redact(self, text: str) -> str:
        return self.redact_counted(text)[0]

    def redact_counted(self, text: str) -> tuple[str, int]:
        """The text with every secret masked, and how many were."""
        if not text:
            return text, 0
        data, masked = self.redact_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates must not raise
        if not masked:
            return text, 0
        try:
            return data.decode("utf-8", "surrogatepass"), masked
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace"), masked

    def redact_bytes(self, data: bytes) -> tuple[bytes, int]:
        """UTF-8 bytes with every secret masked, and how many were (the same bytes object when none)."""
        masked = 0
        hits = self._blocks.Match(data)
        if hits:
            rules = [self._multiline[i] for i in hits]
            try:  # a key block is tens of bytes at least: as many as the text holds is still linear time
                data, masked = self._apply(rules, data, max(MAX_MATCHES, len(data) // 64))
            except _TooDense:  # very many key blocks: chunk by chunk (a key cut at a chunk's edge is caught below)
                data, masked = self._in_chunks(data, lambda chunk: rules if self._blocks.Match(chunk) else [])
        data, count = self._in_chunks(data, lambda chunk: [self._line_rules[i] for i in self._lines.Match(chunk) or ()])
        masked += count
        return (data, masked) if masked else (data, 0)

    def _in_chunks(self, data: bytes, rules_for: Callable[[bytes], list[int]]) -> tuple[bytes, int]:
        pieces: list[bytes] = []
        masked = start = 0
        while start < len(data):
            end = data.find(b"\n", start + self.CHUNK)
            end = len(data) if end < 0 else end + 1
            chunk = data[start:end]
            rules = rules_for(chunk)
            if rules:
                try:
                    chunk, count = self._apply(rules, chunk)
                except _TooDense:  # a chunk made of secrets: line by line, so the lines between them survive
                    chunk, count = self._by_line(rules, chunk)
                masked += count
            pieces.append(chunk)
            start = end
        return (b"".join(pieces), masked) if masked else (data, 0)

    def _by_line(self, rules: list[int], chunk: bytes) -> tuple[bytes, int]:
        lines, masked = [], 0
        for line in chunk.splitlines(keepends=True):
            try:
                line, count = self._apply(rules, line)
            except _TooDense:  # one line holding more secrets than a log ever does: masked whole, said so
                line, count = DENSE + (b"\n" if line.endswith(b"\n") else b""), MAX_MATCHES
            lines.append(line)
            masked += count
        return b"".join(lines), masked

    def stream(self, chunks: Iterable[bytes], block: int = 1 << 20) -> Iterator[tuple[bytes, int]]:
        """Redact a stream of any size in blocks of whole lines (so a secret is never cut in two), holding one
        block at a time. A line longer than four blocks is cut there; a key split that way is still caught line
        by line by the key-body rule."""
        pending = bytearray()
        try:
            for chunk in chunks:
                pending += chunk
                if len(pending) < block:
                    continue
                cut = pending.rfind(b"\n") + 1 or (len(pending) if len(pending) >= 4 * block else 0)
                if cut:
                    yield self.redact_bytes(bytes(pending[:cut]))
                    del pending[:cut]
        except Exception:  # a source that breaks off still hands over what it sent, redacted, before its error
            if pending:
                yield self.redact_bytes(bytes(pending))
            raise
        if pending:
            yield self.redact_bytes(bytes(pending))

    def _apply(self, indexes: list[int], data: bytes, most: int = MAX_MATCHES) -> tuple[bytes, int]:
        masked = 0
        for index in sorted(indexes):  # file order: whole key blocks go before the shapes inside them
            rule, regex = self.rules[index], self._compiled[index]

            seen = 0

            def mask(match: Any, rule: Rule = rule) -> bytes:
                nonlocal masked, seen
                seen += 1
                if seen > most:
                    raise _TooDense
                whole = match.group()
                replacement = _mask(rule, match, whole)
                masked += replacement != whole
                return replacement

            data = regex.sub(mask, data)
        return data, masked


def _mask(rule: Rule, match: Any, whole: bytes) -> bytes:
    if rule.replace is not None:
        return rule.replace.encode()
    group = match.re.groupindex.get(b"secret")
    if group is None:
        return MASK.encode()
    begin = match.start()
    start, end = match.span(group)
    if start < 0:
        return whole
    value = whole[start - begin:end - begin]
    if rule.kind == "assignment":
        key_start, key_end = match.span(match.re.groupindex[b"key"])
        if not _is_secret_assignment(whole[key_start - begin:key_end - begin].decode(), value.decode(errors="replace")):
            return whole
    if rule.id == "key-body-line" and not _looks_like_key_material(value.decode()):
        return whole
    quote = value[:1] if value[:1] in (b'"', b"'") and value[-1:] == value[:1] and len(value) > 1 else b""
    return whole[:start - begin] + quote + MASK.encode() + quote + whole[end - begin:]


@lru_cache(maxsize=4096)  # logs repeat their keys
def _names_secret(key: str) -> bool:
    """The key names a secret (DB_PASS, clientSecret, aws_secret_access_key), not just describes one (TOKEN_TTL)."""
    words = [word.lower() for word in _WORDS.findall(key)]
    if not words:
        return False
    last = words[-1]
    if last in _SECRET_WORDS or last.endswith(_SECRET_SUFFIXES) or (last == "hash" and len(words) > 1) or \
            (last == "key" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS):
        return True  # PROD_ENV_PASSWORD, user_password_hash: the key ends in what it holds
    if any(word in _DESCRIPTIVE_WORDS for word in words):
        return False
    return (any(word in _SECRET_WORDS or word.endswith(_SECRET_SUFFIXES) for word in words)
            or ("key" in words and any(word in _KEY_QUALIFIERS | {"data", "id"} for word in words)))


def _is_secret_assignment(key: str, value: str) -> bool:
    """`key = value` hides a secret: the key names one and the value looks like one."""
    if not _names_secret(key):
        return False
    bare = value.strip("\"'").strip()
    return not (bare.lower() in _PLACEHOLDER_WORDS or _PLACEHOLDER.match(bare) or _PLAIN_URL.match(bare))


def _looks_like_key_material(line: str) -> bool:
    """A base64 line of key length with upper case, lower case and digits (a hex digest, a word, a URL path or an
    SSH public key — always `AAAA…` — is not)."""
    if line.startswith(("/", "AAAA")) or line.count("/") > 5:
        return False
    return any(c.isupper() for c in line) and any(c.islower() for c in line) and any(c.isdigit() for c in line)


def load_rules(text: str) -> list[Rule]:
    data = yaml.safe_load(text)
    return [Rule(id=item["id"], source=item["source"], pattern=item["pattern"], replace=item.get("replace"),
                 kind=item.get("kind", "format"), multiline=item.get("multiline", False)) for item in data["rules"]]


@cache
def default_redactor() -> Redactor:
    """The rules shipped with opsbot, compiled once, on first use (never at import)."""
    return Redactor(load_rules(resources.files("bot.core").joinpath("redact_rules.yml").read_text()))


def redact(text: str) -> str:
    return default_redactor().redact(text)


def redact_counted(text: str) -> tuple[str, int]:
    return default_redactor().redact_counted(text)


def _secret_field(key: str, value: Any) -> bool:
    if isinstance(value, str):
        return _is_secret_assignment(key, value)
    return value is not None and not isinstance(value, bool) and _names_secret(key)  # a number, a list, a mapping


def redact_nested(value: Any) -> Any:
    """Every string inside (dict values and keys' values, list items, at any depth) redacted: what an event's or a
    payload's structured fields carry reaches the store as masked as its text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):  # a field named as a secret (labels: {db_password: …}) is one, whatever its value
        return {key: MASK if _secret_field(str(key), item) else redact_nested(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_nested(item) for item in value]
    return value
