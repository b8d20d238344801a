"""One exception hierarchy. Callers catch OpsbotError; each surface's presenter shows its message.

    OpsbotError               one clear sentence a user may see (`usage`: the syntax line to show with it)
    ├── UsageError            the command or request was malformed
    ├── NotFound              no such incident, plan, window, environment, service …
    ├── PermissionDenied      the user's role does not allow it
    ├── ConflictError         valid, but the current state forbids it (e.g. ack after resolve)
    ├── BackendError          a store, Slack or infrastructure call failed (message without secrets)
    └── ConfigError           opsbot.yml or the environment is invalid (`problems`: one line per path)

Adapters translate library errors at the edge and keep the cause: `raise BackendError(...) from exc`.
"""


class OpsbotError(Exception):
    """Base class for every error a user may see. Its message is one clear sentence."""

    usage: str | None = None  # the syntax line shown with the message, when there is one


class UsageError(OpsbotError):
    """The command was malformed; `usage` is the syntax line to show with the message, `field` the input it is
    about (a form shows the message next to that field)."""

    def __init__(self, message: str, usage: str | None = None, field: str | None = None):
        super().__init__(message)
        self.usage = usage
        self.field = field


class NotFound(OpsbotError):
    pass


class PermissionDenied(OpsbotError):
    pass


class ConflictError(OpsbotError):
    """The request is valid but the current state forbids it (e.g. ack after resolve)."""


class BackendError(OpsbotError):
    """A store or infrastructure call failed; the message names what, without secrets."""


class ConfigError(OpsbotError):
    """The configuration is invalid; `problems` holds one line per problem, each naming its path."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems
