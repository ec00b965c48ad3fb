"""Turning pydantic's structural errors and Cradle's cross-field rules into one list of problems.

Models run their cross-field checks in an `after` validator that raises `RuleViolations`;
`parse()` unwraps those, so every problem comes out with the field path it belongs to
(`connections[2][1]`, `keypoints[4].x`), whether pydantic or a rule found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cradlepose.domain.errors import FieldProblem, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)


class RuleViolations(ValueError):
    """Raised inside a model validator with every rule the value breaks."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.location}: {p.message}" for p in problems))
        self.problems = list(problems)


def location(parts: Iterable[str | int]) -> str:
    """('keypoints', 3, 'x') -> 'keypoints[3].x'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(root)"


def problems_from(error: ValidationError, prefix: Sequence[str | int] = ()) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False):
        ctx_error = (item.get("ctx") or {}).get("error")
        loc = [*prefix, *item["loc"]]
        if isinstance(ctx_error, RuleViolations):
            for problem in ctx_error.problems:
                inner = "" if problem.location == "(root)" else problem.location
                where = location(loc)
                if inner:
                    where = inner if where == "(root)" else f"{where}.{inner}"
                problems.append(FieldProblem(where, problem.message))
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(FieldProblem(location(loc), message))
    return problems


def parse(model: type[ModelT], data: Any, prefix: Sequence[str | int] = ()) -> ModelT:
    """Validate `data` as `model`, raising ValidationFailed that names every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(problems_from(error, prefix)) from None
