"""`/ops deploy <service> <env> <version>`: the service's image at that tag through the platform (Kubernetes: set
image and follow the rollout; Docker: recreate its containers faithfully on the new tag), or, where there is no
image (SSH hosts), the service's deploy runbook with {version}. Then the service's `verify` checks: a failure
fails the deploy and offers the rollback, or (on_failure: rollback) performs it and says so."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.config.environments import Environment
from bot.core.images import with_tag
from bot.core.ops_steps import Step, command_text
from bot.core.ports import Checks, Platform
from bot.errors import BackendError


def deploy_step(env_name: str, env: Environment, target: str, version: str, platform: Callable[[], Platform],
                script: Callable[[str, object, dict], str], checks: Checks,
                report: Callable[[str], None] | None = None) -> Step:
    service = env.services[target]
    step = _step(env_name, env, target, version, platform, script, checks, report)
    if not service.pre_deploy:
        return step
    ticked = f" — pre-deploy checklist ticked ({len(service.pre_deploy)} item{'s' if len(service.pre_deploy) > 1 else ''})"
    return Step(lambda: step.describe() + ticked, step.run)


def _step(env_name: str, env: Environment, target: str, version: str, platform: Callable[[], Platform],
          script: Callable[[str, object, dict], str], checks: Checks, report: Callable[[str], None] | None) -> Step:
    service = env.services[target]
    where = f"{target} in {env_name}"
    if service.image is None:  # a deploy runbook (checked by ops_rules: one or the other exists)
        name = service.deploy_runbook or ""
        spec = env.runbook[name]
        return Step(lambda: f"deploy {where} {version}: {command_text(spec.argv_for({'version': version}))}",
                    lambda: _verified(env_name, env, target, lambda: script(name, spec, {"version": version}),
                                      None, checks))
    image = with_tag(service.image, version)
    return Step(lambda: f"deploy {where}: {platform().deploy_plan(target, image)}",
                lambda: _verified(env_name, env, target,
                                  lambda: platform().deploy(target, image, service.deploy_timeout_s, report),
                                  platform, checks))


def _verified(env_name: str, env: Environment, target: str, run: Callable[[], str],
              platform: Callable[[], Platform] | None, checks: Checks) -> str:
    done = run()
    service = env.services[target]
    if not service.verify:
        return done
    chosen = env.model_copy(update={"checks": [c for c in env.checks if c.name in service.verify]})
    failing = [r for r in asyncio.run(checks.run(env_name, chosen)) if r.level == "crit"]
    if not failing:
        return f"{done}\nverified: {', '.join(service.verify)}"
    why = "; ".join(f"{r.name}: {r.value}" + (f" ({r.detail})" if r.detail else "") for r in failing)
    if service.on_failure == "rollback" and platform is not None:
        undone = platform().rollback(target)
        raise BackendError(f"{done}, but the verification failed ({why}); rolled back: {undone}.")
    raise BackendError(f"{done}, but the verification failed ({why}). Nothing was rolled back: roll {target} "
                       f"back in {env_name} if it stays broken.")
