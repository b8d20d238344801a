"""Redaction: nothing secret reaches chat, logs, the audit log or evidence."""
from __future__ import annotations

import re

MASK = "***"
_PATTERNS: list[tuple[re.Pattern, str]] = [
    # PEM private keys, whole block
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
     "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----"),
    # passwords in URLs: scheme://user:password@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", re.IGNORECASE), r"\1" + MASK + "@"),
    # Authorization: Bearer / Basic …
    (re.compile(r"(authorization\s*[:=]\s*(?:bearer|basic|token)\s+)\S+", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1" + MASK),
    # Slack tokens
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), "xox?-" + MASK),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-" + MASK),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "AKIA" + MASK),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "jwt:" + MASK),
    # NAME=value where NAME mentions a password, secret, token or key
    (re.compile(r"\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*)(\s*[=:]\s*)"
                r"(\"[^\"]*\"|'[^']*'|\S+)", re.IGNORECASE), r"\1\2" + MASK),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
