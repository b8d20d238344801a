"""Reading Kubernetes objects as the client returns them: label selectors, event times, a rollout's progress."""
from __future__ import annotations

from datetime import UTC, datetime

REVISION = "deployment.kubernetes.io/revision"


def rollout_state(deployment) -> str:
    """Where a Deployment's rollout is, as `kubectl rollout status` reads it; the controller finishes it by itself."""
    name, status = deployment.metadata.name, deployment.status
    wanted = deployment.spec.replicas or 0
    updated, available = (status.updated_replicas or 0, status.available_replicas or 0) if status else (0, 0)
    total = (status.replicas or 0) if status else 0
    revision = (deployment.metadata.annotations or {}).get(REVISION)
    at = f" (revision {revision})" if revision else ""
    if status is None or (status.observed_generation or 0) < (deployment.metadata.generation or 0):
        return f"deployment/{name}: the rollout{at} is not picked up yet; Kubernetes carries it out by itself"
    if updated < wanted:
        return f"deployment/{name}: rolling out{at}, {updated} of {wanted} replicas updated; it finishes by itself"
    if total > updated:
        return f"deployment/{name}: rolling out{at}, {total - updated} old replica(s) still terminating"
    if available < updated:
        return f"deployment/{name}: rolling out{at}, {available} of {updated} updated replicas available"
    return f"deployment/{name}: rollout complete{at}, {available} of {wanted} replicas available"


def rollout_done(deployment, generation: int | None = None) -> bool:
    """`kubectl rollout status`'s test: the controller has seen the change (`generation`: the one a patch made),
    every replica is updated, no old one is left, and the updated ones are available."""
    status = deployment.status
    if status is None:
        return False
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    updated, total, available = status.updated_replicas or 0, status.replicas or 0, status.available_replicas or 0
    observed, generation = status.observed_generation, generation or deployment.metadata.generation
    seen = generation is None or observed is None or observed >= generation  # an API server that keeps none
    return seen and updated >= wanted and total <= updated and available >= wanted


def progress(deployment) -> str:
    status = deployment.status
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    updated, available = (status.updated_replicas or 0, status.available_replicas or 0) if status else (0, 0)
    return f"{updated}/{wanted} updated, {available} available"


def label_selector(deployment) -> str:
    labels = deployment.spec.selector.match_labels or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def matches(labels: dict | None, selector: str) -> bool:
    """Equality-based label selectors ('app=api,tier=web'), checked on our side as well."""
    labels = labels or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip().lstrip("="):
            return False
    return True


def event_time(event) -> datetime:
    """Events carry their time in one of three fields, depending on who wrote them."""
    when = event.last_timestamp or event.event_time or event.first_timestamp or (
        event.metadata.creation_timestamp if event.metadata else None)
    return when if when else datetime.min.replace(tzinfo=UTC)
