"""What a state machine's Catch hands the failure step, as one line a person can read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ERROR_TEXT_LIMIT = 4000


def describe_error(error: Mapping[str, Any] | None) -> str:
    """`Error: message` from a Catch's error object; a Lambda's cause is its JSON error payload."""
    if not error:
        return "unknown error"
    name, cause = str(error.get("Error") or "Error"), error.get("Cause")
    message = cause if isinstance(cause, str) else json.dumps(cause)
    try:
        payload = json.loads(message) if message else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "errorMessage" in payload:
        message = str(payload["errorMessage"])
    return f"{name}: {message}"[:ERROR_TEXT_LIMIT] if message else name[:ERROR_TEXT_LIMIT]
