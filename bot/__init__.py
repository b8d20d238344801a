"""opsbot: ChatOps for on-call teams.

The dependency rule: imports point inward. `bot.errors` and `bot.timeparse` depend on nothing; `bot.config` on
those; `bot.core` (the domain: models, services, the ports it needs) on those three only, and on no SDK, driver,
client or scheduler. `bot.views` (presentation) and the adapters (`bot.store`, `bot.platforms`, `bot.checks`,
`bot.scheduler`) depend on the core; `commands` on the core and the views; `bot.slack` on all of those; `bot.http`
(the one HTTP app) serves what it is handed. Only `bot.app`, the composition root, builds and wires them; `bot.cli`
and `bot.console` are its surfaces. No module does work at import time. tests/test_architecture.py enforces all of it.
"""


def version() -> str:
    """The installed package's version (pyproject.toml), or 'unknown' when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("opsbot")
    except PackageNotFoundError:
        return "unknown"
