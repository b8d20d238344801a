"""Which status changes are allowed, and which milestone each one stamps."""
from __future__ import annotations

from datetime import datetime

from bot.core.models import Incident, Status
from bot.errors import ConflictError

S = Status
ALLOWED: dict[Status, tuple[Status, ...]] = {
    S.DECLARED: (S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED, S.RESOLVED),
    S.ACKNOWLEDGED: (S.INVESTIGATING, S.MITIGATED, S.RESOLVED),
    S.INVESTIGATING: (S.MITIGATED, S.RESOLVED),
    # A mitigation that does not hold sends the incident back to investigating.
    S.MITIGATED: (S.INVESTIGATING, S.RESOLVED),
    S.RESOLVED: (S.CLOSED, S.INVESTIGATING),  # back to investigating = reopen
    S.CLOSED: (),
}

# The verb a user types for each target status, to say what is allowed now.
VERBS = {
    S.ACKNOWLEDGED: "ack", S.INVESTIGATING: "status investigating", S.MITIGATED: "status mitigated",
    S.RESOLVED: "resolve", S.CLOSED: "close",
}


def allowed_now(status: Status) -> str:
    if status is S.RESOLVED:
        return "close, reopen"
    verbs = [VERBS[target] for target in ALLOWED[status]]
    return ", ".join(verbs) if verbs else "nothing (closed incidents are final)"


def transition(incident: Incident, target: Status, at: datetime) -> None:
    """Move `incident` to `target` in place, stamping milestones; refuse illegal moves."""
    current = incident.status
    if target == current:
        raise ConflictError(f"{incident.id} is already {current.value}.")
    if target not in ALLOWED[current]:
        raise ConflictError(
            f"{incident.id} is {current.value}; it cannot become {target.value}. "
            f"Allowed now: {allowed_now(current)}."
        )
    if current is S.RESOLVED and target is S.INVESTIGATING:  # reopen
        incident.resolved_at = None
        incident.mitigated_at = None
        incident.implied = [name for name in incident.implied if name not in ("mitigated", "resolved")]
    incident.status = target
    # Working on an incident acknowledges it; resolving it mitigates it. Stamp what was skipped.
    stamps = {
        S.ACKNOWLEDGED: "acknowledged_at", S.INVESTIGATING: "investigating_at",
        S.MITIGATED: "mitigated_at", S.RESOLVED: "resolved_at", S.CLOSED: "closed_at",
    }
    implied = {
        S.INVESTIGATING: [S.ACKNOWLEDGED], S.MITIGATED: [S.ACKNOWLEDGED],
        S.RESOLVED: [S.ACKNOWLEDGED, S.MITIGATED],
    }
    for status in [*implied.get(target, []), target]:
        if getattr(incident, stamps[status]) is None:
            setattr(incident, stamps[status], at)
            if status is not target:  # e.g. resolved without an ack: the post-mortem must not call that a met ack
                incident.implied.append(status.value)
