"""What an API server can answer instead of the object: one class per status, raised in kube.py.

Callers catch a class, never compare status codes. Every refusal is an ``ApiRequestFailed``
(exit 6) and a server out of reach a ``ClusterUnreachable`` (exit 5), whatever the subclass.
"""

from __future__ import annotations

from movekit.errors import ApiRequestFailed


class KubeApiError(ApiRequestFailed):
    """A request the API server refused for good; carries what a user needs to act."""

    def __init__(self, code: int, reason: str, message: str, verb: str, where: str) -> None:
        self.code = code
        self.reason = reason
        self.server_message = message
        self.verb = verb
        self.where = where
        super().__init__(f"{verb} {where}: {code} {reason}: {message}")


class NotFound(KubeApiError):
    """404: the object (or its namespace) does not exist."""


class Conflict(KubeApiError):
    """409: a stale resourceVersion or a failed UID precondition; read again and decide again."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: a create met an object of the same name."""


class Unauthorized(KubeApiError):
    """401: the credentials are not accepted."""


class Forbidden(KubeApiError):
    """403: the credentials may not do this (RBAC), or an admission webhook denied it."""


class Invalid(KubeApiError):
    """422: the object fails validation."""


class Unavailable(KubeApiError):
    """429 or 5xx still answered when the retry budget ran out."""


class KindNotServed(ApiRequestFailed):
    """The target does not serve a kind the bundle holds: found in discovery, not an answer."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"{kind} is not served at {api_version}")


class OwnerNotImported(ApiRequestFailed):
    """An object's owner has no target UID yet: the plan's waves were not followed."""


_BY_CODE: dict[int, type[KubeApiError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid,
    429: Unavailable, 500: Unavailable, 502: Unavailable, 503: Unavailable, 504: Unavailable,
}


def api_error(code: int, reason: str, message: str, verb: str, where: str) -> KubeApiError:
    """The error class for this status (a 409 says by its reason whether the name is taken)."""
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists(code, reason, message, verb, where)
    return _BY_CODE.get(code, KubeApiError)(code, reason, message, verb, where)
