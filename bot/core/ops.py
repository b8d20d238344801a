"""Ops service: permissions, plans with confirmation/approval, and the audit log around every action.

The sequence for a changing action: validate → authorise (a denial is audited) → describe the plan from
the live state → audit "requested" → dry-run stops here → in a protected environment store the plan and
wait for the requester's confirmation (and N other people's approvals where `approvals: N`) → audit "started" → run →
audit "succeeded"/"failed" with duration, output hash and a redacted excerpt.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.config.catalog import Catalog
from bot.config.environments import Environment, Role, Service
from bot.core.audit import AuditRecord, Head, Phase, outcome
from bot.core.audit_signing import SigningKey
from bot.core.effects import PlanAwaitingConfirmation
from bot.core.grep import LineFilter
from bot.core.incidents import scrubbed_event
from bot.core.lease_keeper import LEASE_SLICE, LeaseKeeper
from bot.core.ops_audit import SCHEDULER, AuditTrail, _ms, new_attempt
from bot.core.ops_config import config_step, resources_step, secret_step
from bot.core.ops_deploy import deploy_step
from bot.core.ops_events import action_event, health_event
from bot.core.ops_rules import checked_args, lease_time, leases, log_slot, no_shell_syntax, service_of
from bot.core.ops_rules import runbook_params as checked_params
from bot.core.ops_steps import Step, command_text, redact_plan
from bot.core.plans import PLAN_TTL, Plan, digest, new_id
from bot.core.ports import Checks, HealthReport, Platform, Scripts, ServiceState, Witness
from bot.core.reconcile import Reconciled, Reconciler
from bot.core.redact import redact, redact_nested
from bot.core.requests import Action, ActionRequest, Actor, Outcome, action_of
from bot.core.runbook_places import place_of, run_placed
from bot.errors import BackendError, ConflictError, NotFound, OpsbotError, PermissionDenied, UsageError
from bot.timeparse import utcnow

log = logging.getLogger("opsbot.ops")


_VERBS = {"evidence": "collect evidence", "maintenance": "manage maintenance", "logs": "read logs", "audit": "read the audit log",
          "health": "run health checks", "status": "see the status",
          "switch": "switch slots"}


class OpsService(AuditTrail):
    def __init__(self, store, catalog: Catalog, platform_for: Callable[[str, Environment], Platform],
                 checks: Checks, scripts: Scripts, clock: Callable[[], datetime] = utcnow,
                 groups_of: Callable[[str], list[str]] | None = None, witnesses: Sequence[Witness] = (),
                 signer: SigningKey | None = None):
        self.store = store
        self.witnesses = list(witnesses)
        self.signer = signer  # signs each checkpoint (OPSBOT_AUDIT_SIGNING_KEY)
        # keeps a runbook's whole output as evidence of the incident it ran for (set by the composition root):
        # (actor, incident, name, file) → what to say of it
        self.keep_output: Callable[[Actor, int, str, Path], str] | None = None
        self.anchored: Head | None = None  # the last head given to the witnesses by this process
        self.catalog = catalog
        self.platform_for = platform_for
        self.checks = checks
        self.scripts = scripts
        self.clock = clock
        self.groups_of = groups_of or (lambda user: [])
        self._reconciler: Reconciler | None = None  # what this process knows of unfinished attempts

    # --- lookups -----------------------------------------------------------------------
    def env(self, name: str) -> Environment:
        env = self.catalog.environments.get(name)
        if env is None:
            valid = ", ".join(self.catalog.environments) or "none configured (see opsbot.example.yml)"
            raise NotFound(f"Unknown environment '{name}'. Environments: {valid}.")
        return env

    def service(self, env_name: str, name: str) -> Service:
        return service_of(env_name, self.env(env_name), name)

    def platform(self, env_name: str) -> Platform:
        env = self.env(env_name)
        if env.platform is None:
            raise UsageError(f"{env_name} has no platform configured (docker or kubernetes).")
        return self.platform_for(env_name, env)

    # --- permissions -------------------------------------------------------------------
    def role_of(self, user: str, env_name: str) -> Role:
        env = self.env(env_name)
        identities = {user, *self.groups_of(user)}
        best = Role.NONE
        for scope in (env_name, "*"):
            for role, members in self.catalog.roles.get(scope, {}).items():
                if "*" in members or identities & set(members):
                    best = max(best, Role.parse(role))
        if best is Role.NONE and not env.protected:
            best = Role.parse(self.catalog.unprotected_default_role)
        return best

    def authorize(self, actor: Actor, env_name: str, action: str, target: str | None = None,
                  args: dict | None = None) -> None:
        env = self.env(env_name)
        needed = self._min_role(env, action, target)
        have = self.role_of(actor.user, env_name)
        if have < needed:
            self._audit(actor, new_attempt(), "denied", env_name, action, target, args or {},
                        excerpt=f"needs {needed.name.lower()}, has {have.name.lower()}")
            held = "no role" if have is Role.NONE else f"the {have.name.lower()} role"
            raise PermissionDenied(
                f"You need the {needed.name.lower()} role in {env_name} to {_VERBS.get(action, action)}; you have {held}.")

    @staticmethod
    def _min_role(env: Environment, action: str, target: str | None) -> Role:
        if action == "run" and target in env.runbook:
            spec = env.runbook[target]
            # A read-only action needs only its own role: the environment's `run` role is about changes.
            return spec.role if spec.read_only else max(spec.role, env.min_role("run"))
        return env.min_role(action)

    # --- reads ---------------------------------------------------------------------------
    def health(self, actor: Actor, env_name: str) -> HealthReport:
        env = self.env(env_name)
        self.authorize(actor, env_name, "health")
        started = time.perf_counter()
        results = asyncio.run(self.checks.run(env_name, env))
        report = HealthReport(env=env_name, results=results, elapsed_ms=(time.perf_counter() - started) * 1000)
        if actor.incident is not None:
            self.store.append_events(actor.incident, [scrubbed_event(health_event(report, actor.user, self.clock()))])
        return report

    def health_scheduled(self, env_name: str) -> HealthReport:
        """The environment's checks run by the scheduler (the status page's watch): a read, so no role; on no
        incident's timeline."""
        env = self.env(env_name)
        started = time.perf_counter()
        results = asyncio.run(self.checks.run(env_name, env))
        return HealthReport(env=env_name, results=results, elapsed_ms=(time.perf_counter() - started) * 1000)

    def inspect(self, actor: Actor, env_name: str, service: str) -> str:
        """`/ops describe`: the service's pods or containers, their state and recent events (redacted)."""
        env = self.env(env_name)
        self.authorize(actor, env_name, "describe")
        service_of(env_name, env, no_shell_syntax(service, "the service"))
        return redact(self.platform(env_name).describe(service))

    def config_values(self, actor: Actor, env_name: str, service: str) -> dict[str, str | None]:
        """`/ops config … show`: the allowed keys' current values (redacted: a value may hold a secret)."""
        env = self.env(env_name)
        self.authorize(actor, env_name, "status")
        spec = service_of(env_name, env, no_shell_syntax(service, "the service")).config
        if spec is None:
            raise UsageError(f"{service} in {env_name} declares no `config:` keys in the catalog.")
        values = self.platform(env_name).config_values(service, spec.keys)
        return {key: (redact(value) if value is not None else None) for key, value in values.items()}

    def status(self, actor: Actor, env_name: str) -> list[ServiceState]:
        self.authorize(actor, env_name, "status")
        return self.platform(env_name).status()

    def logs(self, actor: Actor, env_name: str, services: str | list[str], since: timedelta | None, tail: int,
             grep: str | None = None, grep_v: str | None = None, previous: bool = False,
             slot: str | None = None) -> str:
        """Each service's last lines (several services: one section each), kept by --grep/--grep-v (RE2); `slot`:
        one blue/green slot's, of services that have slots."""
        names = [services] if isinstance(services, str) else services
        args = {"since_s": int(since.total_seconds()) if since else None, "tail": tail, "grep": grep,
                "grep_v": grep_v, "previous": previous, "slot": slot}
        with self._refusals_audited(actor, env_name, "logs", ",".join(names), args):
            log_slot(env_name, self.env(env_name), names, slot)
            for name in names:
                no_shell_syntax(name, "the service names")
        keep = LineFilter(grep, grep_v)  # a bad pattern is refused before anything is read or audited
        target = ",".join(names)
        self.authorize(actor, env_name, "logs", target, args)
        attempt = new_attempt()
        started = time.perf_counter()
        try:
            platform = self.platform(env_name)
            parts = [platform.logs(name, since, tail, keep or None, previous, slot) for name in names]
        except OpsbotError as error:
            self._audit(actor, attempt, "failed", env_name, "logs", target, args, excerpt=str(error),
                        duration_ms=_ms(started))
            raise
        text = parts[0] if len(parts) == 1 else "\n".join(f"── {name} ──\n{part}" for name, part in zip(names, parts))
        self._audit(actor, attempt, "succeeded", env_name, "logs", target, args, output=text,
                    duration_ms=_ms(started))
        return redact(text)

    def audit_log(self, actor: Actor, user: str | None, env_name: str | None,
                  since: timedelta | None) -> list[list[AuditRecord]]:
        """The attempts a reader may see: an environment's records need its viewer role; records of no
        environment (incidents, alerts), the viewer role somewhere."""
        if env_name:
            self.authorize(actor, env_name, "audit")
        visible = {name for name in self.catalog.environments if self.role_of(actor.user, name) >= Role.VIEWER}
        if not env_name and self.catalog.environments and not visible:
            raise PermissionDenied("You need the viewer role in an environment to read the audit log.")
        records = self.store.audit_records(since=self.clock() - since if since else None)
        grouped: dict[str, list[AuditRecord]] = {}
        for record in records:
            grouped.setdefault(record.attempt, []).append(record)
        return [steps for steps in grouped.values()
                if (user is None or steps[0].user == user) and (env_name is None or steps[0].env == env_name)
                and (steps[0].env is None or steps[0].env in visible or not self.catalog.environments)]

    # --- changing actions ------------------------------------------------------------------
    def request(self, actor: Actor, env_name: str, action: Action | str, target: str | None, args: dict,
                dry_run: bool = False, confirmed: bool = False) -> Outcome:
        return self.submit(actor, ActionRequest(action, env_name, target, args, dry_run, confirmed))

    def submit(self, actor: Actor, request: ActionRequest) -> Outcome:
        """Validate the request against the catalog (a refusal is audited), authorise it, plan it from the live
        state; run it now, or store the plan for confirmation in a protected environment."""
        env_name, target = request.env, request.target
        with self._refusals_audited(actor, env_name, str(request.action), target, request.args):
            action = action_of(request.action)
            env = self.env(env_name)
            args = checked_args(env_name, env, action, target, request.args)
        self.authorize(actor, env_name, action, target, args)
        attempt = new_attempt()
        try:
            summary = self.describe(env_name, action, target, args)
        except OpsbotError as error:
            self._audit(actor, attempt, "failed", env_name, action, target, args, excerpt=str(error))
            raise
        self._audit(actor, attempt, "requested", env_name, action, target, args, excerpt=summary)
        # Where plans are confirmed with a button, `--yes` never skips the plan: the requester sees it and confirms it.
        confirmed = request.confirmed and not actor.can.confirms_plans
        if request.dry_run:
            self._audit(actor, attempt, "dry_run", env_name, action, target, args, excerpt=summary)
            return Outcome("dry_run", summary)
        if action is Action.RUN and env.runbook[target or ""].read_only:
            # Nothing changes, so nothing to confirm or approve, and no lease: diagnostics may run side by side.
            return self._run_audited(actor, attempt, env_name, action, target, args, summary)
        if not env.protected and env.approvals == 0:
            return self._execute(actor, attempt, env_name, action, target, args, summary)
        now = self.clock()
        plan = Plan(id=new_id(), attempt=attempt, created_at=now, expires_at=now + PLAN_TTL, user=actor.user,
                    channel=actor.channel, command=actor.command, env=env_name, action=action, target=target,
                    args=args, summary=summary, digest=digest(env_name, action, target, args, summary),
                    required_approvals=env.approvals, incident=actor.incident)
        self.store.save_plan(plan)
        if confirmed:
            return self.confirm(actor, plan.id)
        return Outcome("planned", summary, plan, effects=[PlanAwaitingConfirmation(plan.id, summary)])

    @contextmanager
    def _refusals_audited(self, actor: Actor, env_name: str, action: str, target: str | None,
                          args: dict) -> Iterator[None]:
        """A request the catalog does not allow is refused and audited as refused (an unknown environment is
        recorded without one: it is not a name of the catalog)."""
        try:
            yield
        except (UsageError, NotFound) as error:
            env = env_name if env_name in self.catalog.environments else None
            self._audit(actor, new_attempt(), "refused", env, action, target, args, excerpt=str(error))
            raise

    def confirm(self, actor: Actor, plan_id: str) -> Outcome:
        """Confirm (the requester) or approve (another authorised user) a stored plan."""
        plan = self.store.get_plan(plan_id)
        actor = replace(actor, incident=plan.incident)  # a confirmation lands where the plan was made for
        if plan.status != "pending":
            raise ConflictError(f"Plan {plan_id} is {plan.status}; it cannot be confirmed again.")
        # Whoever has no role there is denied (and recorded as denied) before anything else, expiry included.
        self.authorize(actor, plan.env, plan.action, plan.target, plan.args)
        if self.clock() > plan.expires_at:
            if self.store.update_plan(plan.model_copy(update={"status": "expired"}), plan):
                self._audit(actor, plan.attempt, "expired", plan.env, plan.action, plan.target, plan.args)
            raise ConflictError(f"Plan {plan_id} expired at {plan.expires_at:%Y-%m-%d %H:%M} UTC; run the command again.")
        # The requester confirms what they were shown; `approvals: N` more authorised people approve it.
        if actor.user == plan.user:
            if plan.confirmed:
                raise ConflictError(f"You already confirmed plan {plan_id}; it waits for "
                                    f"{plan.required_approvals - len(plan.approvals)} more approval(s) by others.")
            update: dict = {"confirmed": True}
            phase: Phase = "confirmed"
        else:
            if plan.required_approvals == 0:
                raise PermissionDenied(f"Plan {plan_id} is @{plan.user}'s to confirm: only who asked for it can.")
            if actor.user in plan.approvals:
                raise ConflictError(f"You already approved plan {plan_id}.")
            update, phase = {"approvals": [*plan.approvals, actor.user]}, "approved"
        current = self.describe(plan.env, plan.action, plan.target, plan.args)
        if digest(plan.env, plan.action, plan.target, plan.args, current) != plan.digest:
            if self.store.update_plan(plan.model_copy(update={"status": "cancelled"}), plan):
                self._audit(actor, plan.attempt, "cancelled", plan.env, plan.action, plan.target, plan.args,
                            excerpt=f"changed since planned; now: {current}")
            raise ConflictError(f"The situation changed since plan {plan_id} was made (now: {current}); "
                                "run the command again.")
        updated = plan.model_copy(update=update)
        if not (updated.confirmed and len(updated.approvals) >= updated.required_approvals):
            if not self.store.update_plan(updated, plan):
                raise ConflictError(f"Plan {plan_id} changed while confirming; try again.")
            self._audit(actor, plan.attempt, phase, plan.env, plan.action, plan.target, plan.args)
            waiting = "awaiting_approval" if updated.confirmed else "awaiting_confirmation"
            return Outcome(waiting, plan.summary, updated)
        executed = updated.model_copy(update={"status": "executed"})
        if not self.store.update_plan(executed, plan):
            raise ConflictError(f"Plan {plan_id} was already confirmed by someone else.")
        self._audit(actor, plan.attempt, phase, plan.env, plan.action, plan.target, plan.args)
        return self._execute(actor, plan.attempt, plan.env, plan.action, plan.target, plan.args, plan.summary,
                             requester=plan.user)

    def run_scheduled(self, env_name: str, name: str, reason: str) -> Outcome:
        """A recurring reminder's runbook action. The catalog allowed it (read_only or `scheduled: true`, checked
        when it was loaded), so no role and no plan; it is audited with the scheduler as the actor."""
        spec = self.env(env_name).runbook.get(name)
        if spec is None or not (spec.read_only or spec.scheduled):
            raise PermissionDenied(f"{name} in {env_name} may not be run by the scheduler.")
        actor = Actor(user=SCHEDULER, channel=None, command=f"scheduler: {reason}", surface="scheduler")
        args = self.runbook_params(env_name, name, {})
        attempt = new_attempt()
        summary = self.describe(env_name, Action.RUN, name, args)
        self._audit(actor, attempt, "requested", env_name, Action.RUN, name, args, excerpt=summary)
        if spec.read_only:
            return self._run_audited(actor, attempt, env_name, Action.RUN, name, args, summary)
        return self._execute(actor, attempt, env_name, Action.RUN, name, args, summary)  # a change: its lease

    def runbook_params(self, env_name: str, name: str, given: dict) -> dict:
        """Check key=value parameters against the action's declared types; apply defaults."""
        return checked_params(env_name, self.env(env_name), name, given)

    def describe(self, env_name: str, action: Action | str, target: str | None, args: dict) -> str:
        """The exact plan, from the live state: what will change (redacted: it is shown and audited)."""
        return redact_plan(self._step(env_name, action_of(action), target or "", args).describe())

    def _step(self, env_name: str, action: Action, target: str, args: dict, actor: Actor | None = None) -> Step:
        """Each action's plan and execution, side by side: one dispatch, the environment looked up once."""
        env = self.env(env_name)
        if action is Action.RUN:
            spec = env.runbook[target]
            # The exact argv that will run, parameters filled in, between backticks: shown as code, untouched — but
            # a parameter named as a secret (password=…) is shown masked, here and in the audit log.
            visible = {key: str(value) for key, value in redact_nested(args).items()}
            return Step(lambda: f"run {target} in {env_name}{place_of(spec)}: {command_text(spec.argv_for(visible))}",
                        lambda: self._script(env_name, target, spec, args, actor))
        if action is Action.CONFIG:
            return config_step(env_name, env, target, args, lambda: self.platform(env_name))
        if action is Action.SECRET:
            return secret_step(env_name, env, target, lambda: self.platform(env_name))
        if action is Action.RESOURCES:
            return resources_step(env_name, target, args, lambda: self.platform(env_name))
        if action is Action.DELETE_POD:
            pods = self.platform(env_name)
            return Step(lambda: pods.delete_pod_plan(target) + f" in {env_name}", lambda: pods.delete_pod(target))
        if action is Action.DEPLOY:
            return deploy_step(env_name, env, target, args["version"], lambda: self.platform(env_name),
                               lambda name, spec, params: self._script(env_name, name, spec, params), self.checks,
                               actor.progress if actor is not None else None)
        platform = self.platform(env_name)
        where = f"{target} in {env_name}"
        match action:
            case Action.RESTART:
                return Step(lambda: f"restart {where} ({platform.replicas(target)} replicas)",
                            lambda: platform.restart(target))
            case Action.SCALE:
                def scale_plan() -> str:
                    if platform.replicas(target) == args["replicas"]:  # "✅ Done" for nothing would mislead
                        raise ConflictError(f"{where} already runs {args['replicas']} replica"
                                            f"{'' if args['replicas'] == 1 else 's'}; nothing to change.")
                    return f"scale {where}: {platform.scale_plan(target, args['replicas'])}"
                return Step(scale_plan, lambda: platform.scale(target, args["replicas"]))
            case Action.ROLLBACK:
                return Step(lambda: f"roll back {where}: {platform.rollback_plan(target)}",
                            lambda: platform.rollback(target))
            case Action.STOP:
                return Step(lambda: f"stop {where}: {platform.stop_plan(target)}", lambda: platform.stop(target))
            case Action.START:
                return Step(lambda: f"start {where}: {platform.start_plan(target)}", lambda: platform.start(target))
            case Action.SWITCH:
                return Step(lambda: f"service {where}: {platform.switch_plan(target, args.get('slot'))}",
                            lambda: platform.switch(target, args.get("slot")))
            case Action.MAINTENANCE:
                restart = env.maintenance.restart if env.maintenance else []

                def plan() -> str:
                    state = platform.maintenance_state()
                    now = "unknown" if state is None else ("on" if state else "off")
                    tail = f", then restart {', '.join(restart)}" if restart else ""
                    return f"maintenance mode in {env_name}: {now} → {'on' if args['on'] else 'off'}{tail}"
                # flips the flag and restarts the listed services
                return Step(plan, lambda: platform.set_maintenance(args["on"]))
        raise UsageError(f"Unknown action {action}.")

    def _script(self, env_name: str, name: str, spec, args: dict, actor: Actor | None = None) -> str:
        if spec.exec is not None or spec.hosts is not None:  # inside a container or pod, or on the hosts
            return run_placed(self.platform(env_name), name, spec, args)
        incident = actor.incident if actor is not None else None
        run_full = getattr(self.scripts, "run_full", None)
        if actor is None or incident is None or self.keep_output is None or run_full is None:
            code, output = self.scripts.run(spec, args)
        else:  # for an incident, an output longer than the reply keeps is kept whole as evidence
            code, output, whole = run_full(spec, args)
            if whole is not None:
                try:
                    output += f"\n{self.keep_output(actor, incident, f'run-{name}.log', whole)}"
                except OpsbotError as error:
                    output += f"\n(the whole output could not be kept as evidence: {error})"
                finally:
                    whole.unlink(missing_ok=True)
        if code != 0:
            raise BackendError(f"{name} exited with status {code}: {redact(output)[-500:]}")
        return output

    def _execute(self, actor: Actor, attempt: str, env_name: str, action: Action | str, target: str | None,
                 args: dict, summary: str, requester: str | None = None) -> Outcome:
        # One dangerous action at a time on one target, across replicas: a second is refused, naming who holds it.
        env = self.env(env_name)
        now = self.clock()
        held: list[str] = []
        try:
            for lease in leases(env_name, env, action, target):
                # A short slice, renewed while the action runs: a crashed holder's lease lapses within it.
                holder = self.store.acquire_lease(lease, f"@{actor.user} ({action} since {now:%H:%M} UTC)", attempt,
                                                  now + min(lease_time(env, action, target), LEASE_SLICE), now)
                if holder is not None:
                    self._audit(actor, attempt, "failed", env_name, action, target, args, excerpt=f"busy: {holder}")
                    raise ConflictError(f"{lease.split('/', 1)[1]} in {env_name} is being changed right now by "
                                        f"{holder}; try again when that is done.")
                held.append(lease)
            with LeaseKeeper(self.store, held, attempt, self.clock):
                return self._run_audited(actor, attempt, env_name, action, target, args, summary)
        finally:
            for lease in held:
                self.store.release_lease(lease, attempt)

    def reconcile(self) -> list[Reconciled]:
        """Settle the attempts opsbot stopped in the middle of (bot/core/reconcile.py): what each left half done is
        finished or undone and its outcome recorded. The scheduler leader's, at start and every minute."""
        if self._reconciler is None:
            self._reconciler = Reconciler(self)
        return self._reconciler.run()

    def _run_audited(self, actor: Actor, attempt: str, env_name: str, action: Action | str, target: str | None,
                     args: dict, summary: str) -> Outcome:
        # "started" is written before anything runs: a crash leaves it without an outcome.
        self._audit(actor, attempt, "started", env_name, action, target, args, excerpt=summary)
        started = time.perf_counter()
        try:
            output = self._step(env_name, action_of(action), target or "", args, actor).run()
        except OpsbotError as error:
            self.checkpoint(self._audit(actor, attempt, "failed", env_name, action, target, args, output=str(error),
                                        duration_ms=_ms(started)))
            raise
        except Exception as error:  # an adapter bug still gets an outcome in the log
            self.checkpoint(self._audit(actor, attempt, "failed", env_name, action, target, args, output=repr(error),
                                        duration_ms=_ms(started)))
            raise BackendError(f"{action} failed unexpectedly; the details are in the log.") from error
        self.checkpoint(self._audit(actor, attempt, "succeeded", env_name, action, target, args, output=output,
                                    duration_ms=_ms(started)))
        return Outcome("done", summary, output=redact(output))


__all__ = ["Action", "ActionRequest", "Actor", "OpsService", "Outcome", "action_event", "health_event", "outcome"]
