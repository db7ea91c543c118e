"""``Status`` failures, built as ``k8s.io/apimachinery/pkg/api/errors`` builds them.

Every refusal kubesim makes goes through one of these constructors, so that a client sees the
same ``code``, ``reason``, ``message`` and ``details`` it would see from a kube-apiserver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Json = dict[str, Any]

# The apiserver's field.ErrorType strings, keyed by the prefix of the rendered message.
_CAUSE_TYPES = (
    ("Required value", "FieldValueRequired"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Not found", "FieldValueNotFound"),
    ("Internal error", "InternalError"),
)

OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """A request the apiserver refuses; ``status`` is the ``Status`` body sent to the client."""

    def __init__(self, code: int, reason: str, message: str, details: Json | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> Json:
        body: Json = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": self.message}
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(group: str, name: str) -> str:
    """``schema.GroupResource.String()`` / ``GroupKind.String()``: ``name.group`` or ``name``."""
    return f"{name}.{group}" if group else name


def _details(name: str, group: str, kind: str) -> Json:
    details: Json = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    return details


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(group, plural)} "{name}" not found',
                    _details(name, group, plural))


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified(group, plural)} "{name}" already exists',
                    _details(name, group, plural))


def conflict(group: str, plural: str, name: str, why: str = OPTIMISTIC_LOCK_MESSAGE) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}',
                    _details(name, group, plural))


def cause_of(error: str) -> Json:
    """``"spec.x: Invalid value: 1: bad"`` -> a StatusCause with field, type and message."""
    field, sep, message = error.partition(": ")
    if not sep:
        return {"reason": "FieldValueInvalid", "message": error}
    reason = "FieldValueInvalid"
    for prefix, cause_type in _CAUSE_TYPES:
        if message.startswith(prefix):
            reason = cause_type
            break
    else:
        if "must be of type" in message:
            reason = "FieldValueTypeInvalid"
    return {"reason": reason, "message": message, "field": field}


class FieldErrorLike(Protocol):
    @property
    def message(self) -> str: ...

    def cause(self) -> dict[str, str]: ...


def invalid(group: str, kind: str, name: str,
            errors: Sequence[str | FieldErrorLike]) -> ApiError:
    """``errors.NewInvalid``: each error is rendered ``"<field>: <type>: <detail>"``."""
    messages = list(dict.fromkeys(e if isinstance(e, str) else e.message for e in errors))
    aggregate = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details = _details(name, group, kind)
    details["causes"] = [cause_of(e) if isinstance(e, str) else e.cause() for e in errors]
    return ApiError(422, "Invalid", f'{qualified(group, kind)} "{name}" is invalid: {aggregate}',
                    details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(group: str, plural: str, name: str, why: str) -> ApiError:
    if not plural:
        message = f"forbidden: {why}"
    elif name:
        message = f'{qualified(group, plural)} "{name}" is forbidden: {why}'
    else:
        message = f"{qualified(group, plural)} is forbidden: {why}"
    return ApiError(403, "Forbidden", message, _details(name, group, plural))


def method_not_allowed(message: str = "the server does not allow this method on the requested "
                       "resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(accepted: list[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(accepted))


def internal_error(why: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {why}",
                    {"causes": [{"message": why}]})


def too_many_requests(retry_after_seconds: int) -> ApiError:
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    {"retryAfterSeconds": retry_after_seconds},
                    {"Retry-After": str(retry_after_seconds)})


def service_unavailable(
        why: str = "the server is currently unable to handle the request") -> ApiError:
    return ApiError(503, "ServiceUnavailable", why, {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def success(name: str, group: str, plural: str, uid: str) -> Json:
    """What a DELETE answers when the object is gone at once (``Store.finalizeDelete``)."""
    details = _details(name, group, plural)
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}
