"""Signed exports: an export document carries a signature over its canonical JSON — Ed25519 under
OPSBOT_AUDIT_SIGNING_KEY when it is set, else an HMAC under OPSBOT_AUDIT_KEY. The sha256 alone proves nothing
(anyone who edits a file can recompute it); the signature needs a key the editor does not have. A store with a
key takes only documents signed with its keys."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from bot.core.audit import AuditKey
from bot.core.audit_signing import SigningKey, VerifyKey

_DOMAIN = b"opsbot incident export\n"  # an export's HMAC can never be taken for an audit record's


class DocumentSignature(BaseModel):
    alg: Literal["ed25519", "hmac-sha256"] = Field(description="Ed25519 (OPSBOT_AUDIT_SIGNING_KEY) or HMAC-SHA256 "
                                                               "(OPSBOT_AUDIT_KEY)")
    value: str = Field(description="over the canonical JSON without `sha256` and `signature`: base64 (Ed25519) "
                                   "or hex (HMAC)")


@dataclass(frozen=True)
class DocumentKeys:
    """The keys a store signs its exports with and checks imports against."""

    hmac: AuditKey | None = None
    signing: SigningKey | None = None
    public: VerifyKey | None = None  # an auditor's or a second store's copy of the signing key's public half

    @property
    def verify_key(self) -> VerifyKey | None:
        return self.public or (self.signing.public() if self.signing is not None else None)

    @property
    def required(self) -> bool:
        """A store with any key takes only signed documents."""
        return self.hmac is not None or self.verify_key is not None

    def sign(self, body: bytes) -> dict | None:
        if self.signing is not None:
            return {"alg": "ed25519", "value": self.signing.sign(_DOMAIN + body)}
        if self.hmac is not None:
            return {"alg": "hmac-sha256", "value": self.hmac.digest(_DOMAIN + body)}
        return None

    def refusal(self, signature: DocumentSignature | None, body: bytes) -> str | None:
        """Why this store does not accept the document's signature, or None."""
        if signature is None:
            return ("it is not signed, and this store takes only signed exports (it has OPSBOT_AUDIT_KEY or an "
                    "audit signing key): export it again from a store that signs") if self.required else None
        if signature.alg == "ed25519":
            public = self.verify_key
            if public is None:
                return ("it is signed with an Ed25519 key and this store cannot check it: set OPSBOT_AUDIT_PUBKEY "
                        "to the exporting store's public key") if self.required else None
            return None if public.verify(_DOMAIN + body, signature.value) else (
                "its Ed25519 signature is not this store's key's: it was changed after it was exported, or signed "
                "by another key")
        if self.hmac is None:
            return ("it is signed with an HMAC and OPSBOT_AUDIT_KEY is not set here"
                    if self.required else None)
        return None if hmac.compare_digest(self.hmac.digest(_DOMAIN + body), signature.value) else (
            "its HMAC does not match under OPSBOT_AUDIT_KEY: it was changed after it was exported, or signed under "
            "another key")
