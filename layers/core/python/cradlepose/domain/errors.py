"""Domain errors: what can go wrong with a use case, independent of how it is served.

Entry points map each class to one HTTP status once (functions/api/errors.py); services and
domain code raise them and never know about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of the input: where it is and what is wrong."""

    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


class DomainError(Exception):
    """Base of every expected failure. `code` is a stable machine-readable name."""

    code: str = "domain-error"
    title: str = "Request cannot be processed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "not-found"
    title = "Resource not found"

    def __init__(self, resource: str, key: object) -> None:
        super().__init__(f"{resource} {key!r} does not exist")
        self.resource = resource
        self.key = key


class PermissionDenied(DomainError):
    code = "forbidden"
    title = "Not allowed"


class NotAuthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class Conflict(DomainError):
    """The request is well formed but clashes with the current state (duplicates, capacity, rules)."""

    code = "conflict"
    title = "Conflict with the current state"


class StaleVersion(DomainError):
    """Optimistic concurrency: the client edited an older version than the one stored."""

    code = "stale-version"
    title = "The resource changed since you read it"

    def __init__(self, resource: str, expected: object, actual: object) -> None:
        super().__init__(
            f"{resource} is at version {actual}, the request was based on version {expected}; "
            "reload it and apply your change again"
        )
        self.expected = expected
        self.actual = actual


class PayloadTooLarge(DomainError):
    code = "payload-too-large"
    title = "Payload too large"


class ValidationFailed(DomainError):
    """Input broke a domain rule. Carries every problem found, each naming its field."""

    code = "validation-failed"
    title = "Invalid input"

    def __init__(self, problems: list[FieldProblem], summary: str | None = None) -> None:
        if not problems:
            raise ValueError("ValidationFailed needs at least one problem")
        detail = summary or "; ".join(f"{p.location}: {p.message}" for p in problems)
        super().__init__(detail)
        self.problems = list(problems)

    @classmethod
    def single(cls, location: str, message: str) -> ValidationFailed:
        return cls([FieldProblem(location, message)])

    def as_dicts(self) -> list[dict[str, str]]:
        return [p.as_dict() for p in self.problems]


class IllegalTransition(Conflict):
    """A status change that the entity's transition table does not allow."""

    code = "illegal-transition"
    title = "Illegal status transition"

    def __init__(self, entity: str, current: object, target: object, reason: str | None = None) -> None:
        current_name = getattr(current, "value", current)
        target_name = getattr(target, "value", target)
        detail = f"{entity} cannot move from {current_name} to {target_name}"
        if reason:
            detail = f"{detail}: {reason}"
        DomainError.__init__(self, detail)
        self.entity = entity
        self.current = current
        self.target = target

    def context(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "from": getattr(self.current, "value", self.current),
            "to": getattr(self.target, "value", self.target),
        }


class DuplicateUpload(Conflict):
    """A file asked to be uploaded is already in the batch (or has an open form there)."""

    code = "duplicate-upload"
    title = "This file is already uploaded"

    def __init__(self, detail: str, *, file_index: int, original_image_id: int | None) -> None:
        super().__init__(detail)
        self.file_index = file_index
        self.original_image_id = original_image_id

    def context(self) -> dict[str, Any]:
        return {"file_index": self.file_index, "original_image_id": self.original_image_id}
