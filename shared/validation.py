"""Inbound data checked by pydantic, with errors that name fields and never echo values.

pydantic's own messages quote the input, which may be a secret or an attacker's payload, so
callers get the offending field paths only: ``continuation.parts.etag`` (list positions are
left out: the field is what the caller must fix).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


def field_names(exc: ValidationError) -> list[str]:
    """The sorted, distinct dotted paths of the fields that failed."""
    names = {".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "body" for err in exc.errors()}
    return sorted(names)


def validate_named(model: type[M], data: Any, message: str) -> M:
    """``model`` from ``data``, or ``InvalidRequest`` (422) naming the offending fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(message, details={"fields": field_names(exc)}) from None
