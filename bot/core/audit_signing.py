"""Signed audit checkpoints: the log's head, its time and an Ed25519 signature under OPSBOT_AUDIT_SIGNING_KEY.

An auditor holds only the public key (`opsbot audit pubkey`): with it they check every checkpoint, and cannot
make one. So whoever holds the database and the witness file can delete checkpoints, but not forge one for a
log they rewrote or cut short.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.core.audit import Head

PUBLIC_PREFIX = "ed25519:"


class SigningKey:
    """The private key, from OPSBOT_AUDIT_SIGNING_KEY: a PEM private key, or the 32-byte seed in base64."""

    def __init__(self, key: Ed25519PrivateKey):
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> SigningKey:
        text = text.strip()
        if text.startswith("-----BEGIN"):
            try:
                key = serialization.load_pem_private_key(text.encode(), password=None)
            except (ValueError, TypeError) as exc:
                raise ValueError("OPSBOT_AUDIT_SIGNING_KEY is not a readable PEM private key") from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("OPSBOT_AUDIT_SIGNING_KEY must be an Ed25519 key")
            return cls(key)
        seed = _base64(text, "OPSBOT_AUDIT_SIGNING_KEY")
        if len(seed) != 32:
            raise ValueError("OPSBOT_AUDIT_SIGNING_KEY must be an Ed25519 PEM key or 32 bytes in base64 "
                             "(`opsbot audit keygen` makes one)")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def private_text(self) -> str:
        raw = self._key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())
        return base64.b64encode(raw).decode()

    def public(self) -> VerifyKey:
        return VerifyKey(self._key.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._key.sign(data)).decode()


class VerifyKey:
    """The public key an auditor is given: `ed25519:` and 32 bytes in base64."""

    def __init__(self, key: Ed25519PublicKey):
        self._key = key

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        text = text.strip()
        raw = _base64(text.removeprefix(PUBLIC_PREFIX), "the audit public key")
        if len(raw) != 32:
            raise ValueError(f"the audit public key must be {PUBLIC_PREFIX}<32 bytes in base64>, as "
                             "`opsbot audit pubkey` prints it")
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    def __str__(self) -> str:
        raw = self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PUBLIC_PREFIX + base64.b64encode(raw).decode()

    def verify(self, data: bytes, signature: str) -> bool:
        try:
            self._key.verify(base64.b64decode(signature, validate=True), data)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64") from exc


@dataclass(frozen=True)
class Checkpoint:
    """The head of the log at a time, signed when a signing key is set. One line in the witness file:
    `SEQ:HASH TIME [sig=BASE64]`."""

    head: Head
    at: datetime
    signature: str | None = None

    @staticmethod
    def message(head: Head, at: datetime) -> bytes:
        return f"opsbot audit checkpoint {head} {at.isoformat(timespec='seconds')}".encode()

    @classmethod
    def make(cls, head: Head, at: datetime, key: SigningKey | None) -> Checkpoint:
        at = at.replace(microsecond=0)
        return cls(head, at, key.sign(cls.message(head, at)) if key is not None else None)

    def signed_by(self, key: VerifyKey) -> bool:
        return self.signature is not None and key.verify(self.message(self.head, self.at), self.signature)

    def line(self) -> str:
        return f"{self.head} {self.at.isoformat(timespec='seconds')}" + (
            f" sig={self.signature}" if self.signature else "")

    @classmethod
    def parse(cls, line: str) -> Checkpoint:
        """A witness line; older lines carry no time (then the epoch) and no signature."""
        words = line.split()
        head = Head.parse(words[0] if words else "")
        at, signature = datetime.fromisoformat("1970-01-01T00:00:00+00:00"), None
        for word in words[1:]:
            if word.startswith("sig="):
                signature = word[4:]
            else:
                try:
                    at = datetime.fromisoformat(word)
                except ValueError as exc:
                    raise ValueError(f"'{word[:40]}' is not a time") from exc
        return cls(head, at, signature)


@dataclass
class CheckedCheckpoints:
    heads: list[Head]  # every checkpoint the log must still reach
    problem: str | None = None  # a checkpoint whose signature is not the key's
    notes: list[str] = field(default_factory=list)  # what about them could not be checked


def check_signatures(checkpoints: list[Checkpoint], key: VerifyKey | None) -> CheckedCheckpoints:
    """Every checkpoint counts (a false one can only make verification fail); with the public key, a signed
    one whose signature is not the key's is a forgery, and the last properly signed one is named: records after
    it are guarded only by checkpoints anyone with the witness could have written."""
    result = CheckedCheckpoints([c.head for c in checkpoints])
    notes = result.notes
    signed = [c for c in checkpoints if c.signature]
    if key is None:
        if signed:
            notes.append(f"{len(signed)} checkpoint signatures were not checked: give the public key "
                         "(--pubkey or OPSBOT_AUDIT_PUBKEY, from `opsbot audit pubkey`)")
        elif checkpoints:
            notes.append("the checkpoints are not signed (OPSBOT_AUDIT_SIGNING_KEY is not set): whoever can write "
                         "the witness could have written them")
        return result
    for number, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.signature and not checkpoint.signed_by(key):
            result.problem = (f"checkpoint {number} ({checkpoint.head.seq}:{checkpoint.head.hash[:12]}…) is not "
                              "signed by the audit signing key: forged")
            return result
    unsigned = len(checkpoints) - len(signed)
    if unsigned:
        notes.append(f"{unsigned} checkpoints are not signed (written before OPSBOT_AUDIT_SIGNING_KEY was set, or "
                     "by hand)")
    if signed:
        last = max(signed, key=lambda c: c.head.seq)
        notes.append(f"the last signed checkpoint is record {last.head.seq} at {last.at.isoformat()}: records after "
                     "it are guarded by nothing signed")
    else:
        notes.append("no signed checkpoint: records cut off the end could be hidden by editing the witness")
    return result
