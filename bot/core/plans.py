"""A dangerous action's plan: stored with a digest and an expiry, run only once confirmed (and approved)."""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

PLAN_TTL = timedelta(minutes=5)


class Plan(BaseModel):
    id: str
    attempt: str
    created_at: datetime
    expires_at: datetime
    user: str
    channel: str | None = None
    command: str
    env: str
    action: str
    target: str | None = None
    args: dict = Field(default_factory=dict)
    summary: str  # e.g. "scale api in prod: 3 → 5 replicas"
    digest: str
    required_approvals: int = 0  # approvals needed from authorised people other than the requester
    confirmed: bool = False  # by the requester, who was shown this plan
    approvals: list[str] = Field(default_factory=list)  # the others who approved it
    status: Literal["pending", "executed", "expired", "cancelled"] = "pending"
    incident: int | None = None  # made for this incident: its outcome goes on that timeline


def digest(env: str, action: str, target: str | None, args: dict, summary: str) -> str:
    canonical = json.dumps({"env": env, "action": action, "target": target, "args": args, "summary": summary},
                           sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_id() -> str:
    return "p-" + secrets.token_hex(3)
