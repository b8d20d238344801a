"""`/ops describe` and `/ops delete-pod` on Kubernetes: a service's pods as `kubectl describe` summarises them
(state, readiness, restarts, the last termination and its reason, image, node, recent events), and deleting one
failing pod so its ReplicaSet starts a fresh one — only a pod of a service the catalog declares."""
from __future__ import annotations

import time

from bot.errors import BackendError, ConflictError, NotFound
from bot.platforms.kubernetes_objects import event_time, matches

TIMEOUT = 15
EVENTS_PER_POD = 5


def describe(platform, service: str) -> str:
    def read() -> str:
        pods = platform._pods(platform._selector(service))
        if not pods:
            return f"{service} in {platform.env_name} has no pods."
        events = platform.core.list_namespaced_event(platform.namespace, _request_timeout=TIMEOUT).items
        return "\n\n".join(_pod_text(pod, events) for pod in sorted(pods, key=lambda p: p.metadata.name))

    return platform._call("describe", read)


def _pod_text(pod, events: list) -> str:
    status = pod.status
    lines = [f"pod {pod.metadata.name}: {status.phase if status else 'Unknown'}"
             + (f" on {pod.spec.node_name}" if pod.spec and pod.spec.node_name else "")]
    for container in (status.container_statuses if status else None) or []:
        state = container.state
        now = ("running" if state and state.running else
               f"waiting ({state.waiting.reason})" if state and state.waiting else
               f"terminated ({state.terminated.reason}, exit {state.terminated.exit_code})"
               if state and state.terminated else "unknown")
        line = (f"  {container.name}: {now}, {'ready' if container.ready else 'not ready'}, "
                f"{container.restart_count} restarts, image {container.image}")
        last = container.last_state.terminated if container.last_state else None
        if last is not None:
            line += f"; last terminated: {last.reason or 'unknown'} (exit {last.exit_code})"
        lines.append(line)
    mine = sorted((e for e in events if e.involved_object and e.involved_object.name == pod.metadata.name),
                  key=event_time)[-EVENTS_PER_POD:]
    lines += [f"  event {event_time(e).isoformat()} {e.type} {e.reason}: {e.message or ''}".rstrip() for e in mine]
    return "\n".join(lines)


def _owning_service(platform, pod) -> str | None:
    """The catalog service whose selector takes this pod, if any."""
    for service in platform.env.services:
        if matches(pod.metadata.labels, platform._selector(service)):
            return service
    return None


def delete_plan(platform, pod_name: str) -> str:
    def read() -> str:
        pod = _pod(platform, pod_name)
        service = _owning_service(platform, pod)
        if service is None:
            raise ConflictError(f"Pod {pod_name} in {platform.env_name} belongs to no service of the catalog; "
                                "opsbot deletes only pods of the services it knows.")
        owners = ", ".join(f"{o.kind}/{o.name}" for o in (pod.metadata.owner_references or [])) or "no owner"
        if not pod.metadata.owner_references:
            raise ConflictError(f"Pod {pod_name} has no owner: nothing would start it again; it is not deleted.")
        return f"delete pod {pod_name} of {service} ({owners} starts a new one)"

    return platform._call("pod read", read)


def delete(platform, pod_name: str) -> str:
    plan = delete_plan(platform, pod_name)
    platform._call("pod delete", lambda: platform.core.delete_namespaced_pod(pod_name, platform.namespace,
                                                                            _request_timeout=TIMEOUT))
    return plan.replace("delete pod", "deleted pod", 1)


def _pod(platform, name: str):
    from kubernetes.client.exceptions import ApiException

    try:
        return platform.core.read_namespaced_pod(name, platform.namespace, _request_timeout=TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            raise NotFound(f"There is no pod {name} in {platform.env_name} (namespace {platform.namespace}).") from error
        raise


def exec_in(platform, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
    """`kubectl exec` in the service's first running pod, through the official client's WebSocket stream; its
    output redacted and kept bounded as it arrives."""
    from kubernetes.stream import stream

    from bot.core.redact import default_redactor
    from bot.platforms.script import KEEP, KeptOutput

    def run() -> tuple[int, str]:
        pods = [pod for pod in platform._pods(platform._selector(service))
                if pod.status and pod.status.phase == "Running"]
        if not pods:
            raise ConflictError(f"{service} has no running pod in {platform.env_name} to run it in.")
        name = min(pod.metadata.name for pod in pods)
        session = stream(platform.core.connect_get_namespaced_pod_exec, name, platform.namespace, command=argv,
                         stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
        kept, redactor = KeptOutput(KEEP), default_redactor()
        deadline = time.monotonic() + timeout_s
        try:
            while session.is_open() and time.monotonic() < deadline:
                session.update(timeout=1)
                for chunk in (session.read_stdout(), session.read_stderr()):
                    if chunk:
                        kept.add(redactor.redact_bytes(chunk.encode())[0])
            timed_out = session.is_open()
        finally:
            session.close()
        if timed_out:
            raise BackendError(f"{argv[0]} in pod {name} timed out after {timeout_s:g} s; output so far: "
                               f"{kept.text()[-300:]}")
        return session.returncode or 0, kept.text()

    return platform._call("exec", run)
