"""One exception hierarchy: callers catch OpsbotError; the router turns it into a reply."""


class OpsbotError(Exception):
    """Base class for every error a user may see. Its message is one clear sentence."""

    usage: str | None = None  # the syntax line shown with the message, when there is one


class UsageError(OpsbotError):
    """The command was malformed; `usage` is the syntax line to show with the message."""

    def __init__(self, message: str, usage: str | None = None):
        super().__init__(message)
        self.usage = usage


class NotFound(OpsbotError):
    pass


class PermissionDenied(OpsbotError):
    pass


class ConflictError(OpsbotError):
    """The request is valid but the current state forbids it (e.g. ack after resolve)."""


class BackendError(OpsbotError):
    """A store or infrastructure call failed; the message names what, without secrets."""
